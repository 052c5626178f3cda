"""Data retention: `techan purge` (dry run and real) and the app's daily purge remove exactly what is old."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Call, Conversation, Message, UnansweredQuestion, make_engine, utcnow
from techan import PROJECT_ROOT
from techan.app import create_app
from tests.conftest import command_env, wait_until
from tests.service.conftest import bot_conversation, migrated_demo_shop

OLD = utcnow() - timedelta(days=40)
RECENT = utcnow() - timedelta(days=2)


def shop_with_history(settings) -> dict:
    """A resolved chat from 40 days ago (a photo, a staff picture also shown in a recent chat, a recording, an
    inbox question), a recent chat, and a 40-day-old chat still waiting for staff."""
    migrated_demo_shop(settings)
    media, recordings = settings.data_path / "media", settings.data_path / "recordings"
    media.mkdir(parents=True)
    recordings.mkdir(parents=True)
    files = {name: folder / name for folder, name in ((media, "oldphoto0000000000000a.jpg"),
                                                      (media, "sharedpic000000000000a.png"),
                                                      (media, "newphoto0000000000000a.jpg"),
                                                      (recordings, "call-1.webm"), (recordings, "call-2.webm"))}
    for path in files.values():
        path.write_bytes(b"x")
    engine = make_engine(settings)
    with Session(engine) as session, session.begin():
        old = bot_conversation(session, "old-customer")
        old.state = "resolved"
        recent = bot_conversation(session, "recent-customer")
        waiting = bot_conversation(session, "waiting-customer")
        waiting.state = "waiting"

        def message(conversation, text, when, **payload):
            row = Message(conversation_id=conversation.id, direction="in", author="customer", channel="web",
                          text=text, payload=payload, created_at=when)
            session.add(row)
            session.flush()
            return row

        asked = message(old, "旧的问题", OLD, media={"kind": "photo", "url": "/media/oldphoto0000000000000a.jpg"})
        message(old, "旧的图片", OLD, image="/media/sharedpic000000000000a.png")
        session.add(UnansweredQuestion(message_id=asked.id, text="旧的问题", reason="unsure", created_at=OLD))
        message(recent, "新的问题", RECENT, media={"kind": "photo", "url": "/media/newphoto0000000000000a.jpg"})
        message(recent, "新的图片", RECENT, image="/media/sharedpic000000000000a.png")
        message(waiting, "还在等人工", OLD)
        session.add_all([
            Call(conversation_id=old.id, kind="video", mode="bridge", started_by="小王", token_nonce="a",
                 created_at=OLD, recording=str(files["call-1.webm"])),
            Call(conversation_id=recent.id, kind="video", mode="bridge", started_by="小王", token_nonce="b",
                 created_at=RECENT, recording=str(files["call-2.webm"]))])
    engine.dispose()
    return files


def stored(settings) -> tuple[list[str], list[str], list[str | None]]:
    engine = make_engine(settings)
    with Session(engine) as session:
        texts = session.scalars(select(Message.text).order_by(Message.id)).all()
        questions = session.scalars(select(UnansweredQuestion.text)).all()
        recordings = session.scalars(select(Call.recording).order_by(Call.id)).all()
        conversations = session.scalar(select(Conversation.id).limit(1))
    engine.dispose()
    assert conversations is not None  # the bare rows stay (metrics)
    return texts, questions, [r and os.path.basename(r) for r in recordings]


def techan(settings, *args: str, retention: str | None = None) -> subprocess.CompletedProcess:
    env = command_env(settings, TECHAN_DEMO="0")
    env.pop("TECHAN_RETENTION_DAYS", None)
    if retention:
        env["TECHAN_RETENTION_DAYS"] = retention
    return subprocess.run([sys.executable, "-m", "techan", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_purge_dry_run_says_what_would_go_and_removes_nothing(settings):
    files = shop_with_history(settings)
    before = stored(settings)
    result = techan(settings, "purge", "--dry-run", "--days", "30")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("would remove: 2 messages, 1 inbox questions, 1 attachments, 1 call recordings")
    assert sorted(line.strip().rsplit("/", 1)[-1] for line in lines[1:]) == ["call-1.webm",
                                                                              "oldphoto0000000000000a.jpg"]
    assert stored(settings) == before and all(path.exists() for path in files.values())


def test_purge_removes_old_messages_their_files_and_recordings_only(settings):
    files = shop_with_history(settings)
    result = techan(settings, "purge", retention="30")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed: 2 messages, 1 inbox questions, 1 attachments, 1 call recordings")
    texts, questions, recordings = stored(settings)
    assert texts == ["新的问题", "新的图片", "还在等人工"]  # the waiting chat keeps its whole transcript
    assert questions == [] and recordings == [None, "call-2.webm"]
    assert sorted(name for name, path in files.items() if path.exists()) == [
        "call-2.webm", "newphoto0000000000000a.jpg", "sharedpic000000000000a.png"]  # still shown in a recent chat
    again = techan(settings, "purge", "--days", "30")
    assert again.stdout.startswith("removed: 0 messages, 0 inbox questions, 0 attachments, 0 call recordings")


def test_purge_without_a_period_is_a_clear_error(settings):
    migrated_demo_shop(settings)
    result = techan(settings, "purge")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "techan purge: no retention period: set TECHAN_RETENTION_DAYS or pass --days N"
    bad = techan(settings, "purge", "--days", "0")
    assert bad.returncode == 2 and "'0' is not a whole number of days (1 or more)" in bad.stderr


async def test_the_app_applies_the_retention_period_when_it_starts(aiohttp_client, settings, knowledge):
    files = shop_with_history(settings)
    await aiohttp_client(create_app(settings.model_copy(update={"retention_days": 30}), knowledge=knowledge))
    await wait_until(lambda: not files["call-1.webm"].exists(), 20, "the daily purge")
    assert stored(settings)[0] == ["新的问题", "新的图片", "还在等人工"]
    assert not files["oldphoto0000000000000a.jpg"].exists() and files["newphoto0000000000000a.jpg"].exists()


async def test_without_a_period_the_app_keeps_everything(aiohttp_client, settings, knowledge):
    shop_with_history(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    assert (await client.get("/healthz")).status == 200  # started and serving
    assert len(stored(settings)[0]) == 5
