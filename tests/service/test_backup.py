"""`techan backup` / `techan restore` through the CLI: a whole shop into one archive and back, on SQLite and
PostgreSQL, and from one to the other."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.db import Base, Customer, Message, aware, make_engine
from core.migrate import upgrade
from core.settings import Settings
from techan import PROJECT_ROOT
from tests.conftest import command_env, shared_models_dir
from tests.postgres_server import postgres_cluster, scratch_database
from tests.service.conftest import bot_conversation, migrated_demo_shop


def techan(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "techan", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=180, env=command_env(settings, TECHAN_DEMO="0"))


def shop_with_history(settings: Settings) -> None:
    """The demo shop, a customer's conversation in Chinese with a JSON payload, a photo and a call recording."""
    migrated_demo_shop(settings)
    engine = make_engine(settings)
    with Session(engine) as session:
        conversation = bot_conversation(session, "web-backup")
        session.add(Message(conversation_id=conversation.id, channel="web", direction="in", author="customer",
                            text="普洱茶能放多久？", payload={"attachments": ["media/photo.jpg"], "语言": "zh"}))
        session.commit()
    engine.dispose()
    (settings.data_path / "media").mkdir(parents=True, exist_ok=True)
    (settings.data_path / "media" / "photo.jpg").write_bytes(b"\xff\xd8 a photo of the tea cake")
    (settings.data_path / "recordings").mkdir(exist_ok=True)
    (settings.data_path / "recordings" / "call-1.mp4").write_bytes(b"\x00 a recorded call")
    assert settings.secret  # the signing key file exists in the data dir


def every_row(settings: Settings) -> dict[str, list[dict]]:
    """Each table's rows in id order, times in UTC (SQLite keeps them without a zone)."""
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            return {table.name: [{name: aware(value) if isinstance(value, datetime) else value
                                  for name, value in row.items()}
                                 for row in connection.execute(select(table).order_by(*table.primary_key)).mappings()]
                    for table in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def new_shop(tmp_path: Path, name: str, database_url: str = "") -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / name, database_url=database_url,
                    models_dir=shared_models_dir(), demo=False)


def backed_up(settings: Settings, tmp_path: Path) -> Path:
    archive = tmp_path / "shop.tar.gz"
    done = techan(settings, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"backing up the shop at {settings.data_path} into {archive}"
    assert "  messages: 1 row(s)" in done.stdout and "  media and recordings: 2 file(s)" in done.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600  # it holds the secret key
    return archive


def assert_same_shop(source: Settings, target: Settings) -> None:
    assert every_row(target) == every_row(source)
    assert (target.data_path / "media" / "photo.jpg").read_bytes() == b"\xff\xd8 a photo of the tea cake"
    assert (target.data_path / "recordings" / "call-1.mp4").read_bytes() == b"\x00 a recorded call"
    assert target.secret == source.secret  # customers' chat and call links still open
    engine = make_engine(target)
    with Session(engine) as session:  # the shop goes on: new rows get new ids after the restored ones
        newest = max(session.scalars(select(Customer.id)))
        session.add(Customer(channel="web", external_id="web-after-restore"))
        session.commit()
        assert session.scalar(select(Customer.id).where(Customer.external_id == "web-after-restore")) == newest + 1
        assert session.scalar(select(Message.text).where(Message.author == "customer")) == "普洱茶能放多久？"
    engine.dispose()


def test_a_shop_comes_back_whole_from_its_backup(settings, test_cluster, tmp_path):
    """Into a new shop on the tier's database (SQLite, or PostgreSQL under TECHAN_TEST_DATABASE=postgresql)."""
    settings = settings.model_copy(update={"secret_key": ""})  # the key kept in the data dir, as by default
    shop_with_history(settings)
    archive = backed_up(settings, tmp_path)
    with tarfile.open(archive) as opened:
        manifest = json.loads(opened.extractfile("manifest.json").read())
        assert {"db/messages.jsonl", "media/photo.jpg", "recordings/call-1.mp4", "secret_key"} <= set(opened.getnames())
    assert manifest["rows"]["messages"] == 1 and manifest["rows"]["products"] == len(every_row(settings)["products"])
    if test_cluster:
        with scratch_database(test_cluster) as url:
            restored_into(new_shop(tmp_path, "restored", url), settings, archive)
    else:
        restored_into(new_shop(tmp_path, "restored"), settings, archive)


def restored_into(target: Settings, source: Settings, archive: Path) -> None:
    done = techan(target, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"done: {sum(len(rows) for rows in every_row(source).values())} rows " \
                                           "restored; start the shop with `techan run`"
    assert_same_shop(source, target)


@pytest.fixture(scope="module")
def other_cluster(test_cluster):
    """A PostgreSQL cluster for the move between SQLite and PostgreSQL: the run's own when it has one."""
    if test_cluster:
        yield test_cluster
        return
    with postgres_cluster() as url:
        yield url


def test_a_shop_moves_from_sqlite_to_postgresql(other_cluster, tmp_path):
    source = new_shop(tmp_path, "on-sqlite")
    shop_with_history(source)
    archive = backed_up(source, tmp_path)
    with scratch_database(other_cluster) as url:
        restored_into(new_shop(tmp_path, "on-postgresql", url), source, archive)


def test_a_restore_refuses_a_shop_in_use_and_what_is_not_a_backup(settings, tmp_path):
    shop_with_history(settings)
    archive = backed_up(settings, tmp_path)
    before = every_row(settings)
    refused = techan(settings, "restore", str(archive))
    assert refused.returncode == 1 and refused.stderr.startswith(
        "techan restore: a restore goes into an empty shop, and this one has rows: ")
    assert "customers (1), " in refused.stderr and refused.stderr.endswith(
        "messages (1). Point TECHAN_DATA_DIR (and TECHAN_DATABASE_URL) at a new shop, with TECHAN_DEMO=0\n")
    assert "Traceback" not in refused.stderr and every_row(settings) == before

    not_a_backup = tmp_path / "notes.tar.gz"
    not_a_backup.write_bytes(b"just some notes")
    refused = techan(new_shop(tmp_path, "empty"), "restore", str(not_a_backup))
    assert refused.returncode == 1 and refused.stderr.startswith(f"techan restore: {not_a_backup} is not a techan backup")
    again = techan(settings, "backup", str(archive))
    assert again.returncode == 1
    assert again.stderr.strip() == f"techan backup: {archive} already exists; choose a new file name"


def test_a_shop_not_yet_upgraded_is_backed_up_as_it_is_and_restored_at_this_versions_schema(settings, tmp_path):
    """An owner backs up before upgrading: the rows are read with the columns the database has (0010 here, before
    the customers' chat-token versions), and the restore brings them up to today's schema."""
    engine = make_engine(settings)
    upgrade(engine, "0010")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customers (channel, external_id, name, language, first_seen, last_seen) VALUES "
            "('web', 'web-old-shop', '老顾客', 'zh', '2026-01-02 03:04:05', '2026-01-02 03:04:05')"))
    engine.dispose()
    archive = tmp_path / "old.tar.gz"
    done = techan(settings, "backup", str(archive))
    assert done.returncode == 0, done.stderr
    assert "  customers: 1 row(s)" in done.stdout and "  staff_sessions" not in done.stdout  # not there at 0010
    target = new_shop(tmp_path, "restored")
    done = techan(target, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    restored = every_row(target)["customers"]
    assert [(c["external_id"], c["name"], c["first_seen"], c["chat_token_version"]) for c in restored] == [
        ("web-old-shop", "老顾客", datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), None)]
