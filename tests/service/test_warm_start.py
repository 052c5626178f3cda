"""While the bot cannot answer yet, messages wait and are answered once it is back; nothing stored is lost.

A fake Rasa stands in for the server: ``ready = False`` is a server still loading its model, ``turn_s``
slow turns, ``fail_next`` a turn that timed out. Each test says what the customer receives (texts,
counts) and what is stored.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession

from handoff.pending import HANDLED, PENDING
from handoff.channels.webchat import chat_token
from techan.app import create_app
from core.db import Conversation, Customer, Handoff, Message, UnansweredQuestion, utcnow
from tests.service.conftest import bot_conversation, db_session, migrated_demo_shop
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_kb_admin import bearer
from tests.service.test_telegram import CUSTOMER, eventually, start_telegram, texts_to

NOTICE = {"text": "稍等，助手马上就好", "buttons": [], "image": None, "products": []}
QUESTION, FOLLOW_UP = "普洱茶保质期多久？", "牛肉干能抽真空吗"
BUSY_TEXT = "抱歉，智能助手暂时有点忙，您的消息已经收到并转给店员，我们会尽快回复您。"


async def warm_app(aiohttp_client, settings, knowledge, **changes):
    """The app with the default grace (60 s) unless changed, and a fake Rasa behind its router."""
    settings = settings.model_copy(update={"bot_grace_s": 60.0, **changes})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    return client, use_fake_rasa(client.server.app), settings


async def say(client, sender: str, text: str, client_id: str | None = None) -> tuple[int, dict]:
    body = {"text": text, **({"client_id": client_id} if client_id else {})}
    response = await client.post(f"/api/chat/{sender}", json=body)
    answer = await response.json()
    answer.pop("chat_token", None)  # a new sender's token (the jar keeps its cookie): test_chat_identity's business
    return response.status, answer


async def fetched(client, sender: str, check, after: int = 0, timeout: float = 15.0,
                  headers: dict | None = None) -> dict:
    """Poll the web chat's ``…/messages`` (bounded) until ``check(body)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await (await client.get(f"/api/chat/{sender}/messages?after={after}", headers=headers)).json()
        if check(body):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"the web chat never got what it waited for: {body}")


def rows(settings, sender: str) -> list[Message]:
    with db_session(settings) as session:
        return list(session.scalars(select(Message).join(Conversation).join(Customer)
                                    .where(Customer.external_id == sender).order_by(Message.id)))


def handoffs(settings) -> list[Handoff]:
    with db_session(settings) as session:
        return list(session.scalars(select(Handoff)))


async def test_messages_sent_while_the_bot_loads_are_answered_in_order_once_it_is_ready(
        aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge)
    rasa.ready = False
    assert await say(client, "web-warm", QUESTION) == (200, {"state": "bot", "replies": [NOTICE], "pending": True})
    assert await say(client, "web-warm", FOLLOW_UP) == (200, {"state": "bot", "replies": [], "pending": True})
    assert await (await client.get("/api/chat/web-warm/messages?after=0")).json() == {
        "state": "bot", "messages": [], "pending": True}
    page = await client.ws_connect("/ws/chat/web-warm")
    try:
        rasa.ready = True  # the model is loaded
        assert await page.receive_json(timeout=15) == {"type": "message"}  # the page is told to fetch
    finally:
        await page.close()
    body = await fetched(client, "web-warm", lambda b: not b["pending"] and len(b["messages"]) == 2)

    # The same questions asked of a ready bot: the late answers are exactly those, once each, in order.
    _status, first = await say(client, "web-ready", QUESTION)
    _status, second = await say(client, "web-ready", FOLLOW_UP)
    assert [m["text"] for m in body["messages"]] == [first["replies"][0]["text"], second["replies"][0]["text"]]
    assert all(m["author"] == "bot" and m["feedback"] for m in body["messages"])  # 有用 / 没用 under them too
    assert rasa.received == [QUESTION, FOLLOW_UP, QUESTION, FOLLOW_UP]
    assert handoffs(settings) == []
    stored = rows(settings, "web-warm")
    assert [(m.direction, m.delivery_status) for m in stored] == [
        ("in", HANDLED), ("in", HANDLED), ("out", "pending"), ("out", "pending")]  # the notice is not stored

    # The page says what it showed; reading alone changed nothing.
    read = await client.post("/api/chat/web-warm/messages/read", json={"upto": body["messages"][-1]["id"]})
    assert await read.json() == {"delivered": 2}
    assert [m.delivery_status for m in rows(settings, "web-warm")[2:]] == ["delivered", "delivered"]


async def test_a_bot_away_past_the_grace_hands_the_chat_to_staff_and_the_inbox(aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, bot_grace_s=0.5)
    rasa.ready = False
    assert await say(client, "web-gone", QUESTION) == (200, {"state": "bot", "replies": [NOTICE], "pending": True})
    body = await fetched(client, "web-gone", lambda b: b["state"] == "waiting")
    texts = [m["text"] for m in body["messages"]]
    assert len(texts) == 2 and texts[0] == BUSY_TEXT and texts[1].startswith("您现在排在第 1 位")
    assert [(h.reason, h.ended_at) for h in handoffs(settings)] == [("bot_unavailable", None)]
    with db_session(settings) as session:
        inbox = session.scalars(select(UnansweredQuestion)).all()
    assert [(q.text, q.reason) for q in inbox] == [(QUESTION, "bot_unavailable")]
    assert rows(settings, "web-gone")[0].delivery_status == HANDLED and rasa.received == []


async def test_a_turn_that_timed_out_is_answered_by_the_next_sweep_not_handed_off(aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge)
    rasa.fail_next = 1
    assert await say(client, "web-blip", QUESTION) == (200, {"state": "bot", "replies": [NOTICE], "pending": True})
    body = await fetched(client, "web-blip", lambda b: b["messages"])
    assert len(body["messages"]) == 1 and "普洱" in body["messages"][0]["text"] and not body["pending"]
    assert handoffs(settings) == [] and rasa.received == [QUESTION]


async def test_slow_turns_under_load_wait_their_turn_instead_of_going_to_staff(aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, rasa_concurrency=2)
    rasa.turn_s = 0.3
    answers = await asyncio.gather(*(say(client, f"web-load{n}", QUESTION) for n in range(8)))
    assert [(status, body["state"], len(body["replies"]), "pending" in body) for status, body in answers] == [
        (200, "bot", 1, False)] * 8
    assert rasa.most_turns_at_once == 2 and len(rasa.received) == 8
    assert handoffs(settings) == []


async def test_a_message_stored_when_the_app_died_is_answered_at_start_up(aiohttp_client, settings, knowledge):
    settings = settings.model_copy(update={"bot_grace_s": 60.0})
    migrated_demo_shop(settings)
    with db_session(settings) as session:  # what a killed app leaves: stored, nothing done with it
        conversation = bot_conversation(session, "web-died")
        session.get(Customer, conversation.customer_id).chat_token_version = 1  # their page holds a token
        session.add(Message(conversation_id=conversation.id, direction="in", author="customer", channel="web",
                            text=QUESTION, delivery_status=PENDING, created_at=utcnow() - timedelta(minutes=3)))
        session.commit()
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    rasa = use_fake_rasa(client.server.app)
    body = await fetched(client, "web-died", lambda b: b["messages"],
                         headers={"X-Chat-Token": chat_token(settings.secret, "web-died", 1)})
    assert len(body["messages"]) == 1 and "普洱" in body["messages"][0]["text"]
    assert [m.delivery_status for m in rows(settings, "web-died")] == [HANDLED, "pending"]
    assert rasa.received == [QUESTION] and handoffs(settings) == []


async def test_a_retry_with_the_same_client_id_is_the_same_message(aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge)
    first = await say(client, "web-again", QUESTION, "client-0001")
    again = await say(client, "web-again", QUESTION, "client-0001")
    assert first[0] == again[0] == 200 and again == first and first[1]["replies"][0]["text"]
    assert rasa.received == [QUESTION]
    rasa.ready = False
    assert (await say(client, "web-again", FOLLOW_UP, "client-0002"))[1]["replies"] == [NOTICE]
    assert await say(client, "web-again", FOLLOW_UP, "client-0002") == (
        200, {"state": "bot", "replies": [], "pending": True})
    other = await say(client, "web-other", QUESTION, "client-0001")  # another customer's id is theirs alone
    assert other[1]["replies"] == [NOTICE]
    assert [m.text for m in rows(settings, "web-again") if m.direction == "in"] == [QUESTION, FOLLOW_UP]


def lock_database(settings) -> sqlite3.Connection:
    """Another writer holds SQLite's write lock (reads go on: WAL) until the connection commits."""
    db = sqlite3.connect(settings.data_path / "techan.db", isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    return db


@pytest.mark.sqlite_only  # holds SQLite's lock from outside
async def test_a_briefly_locked_database_is_waited_out(aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, db_busy_timeout_s=0.2)
    db = lock_database(settings)
    asyncio.get_running_loop().call_later(1.0, db.execute, "COMMIT")
    try:
        status, body = await say(client, "web-locked", QUESTION, "client-lock1")
    finally:
        db.close()
    assert status == 200 and "普洱" in body["replies"][0]["text"] and "pending" not in body
    assert [m.direction for m in rows(settings, "web-locked")] == ["in", "out"]


@pytest.mark.sqlite_only  # holds SQLite's lock from outside
async def test_a_database_locked_too_long_gives_a_clear_error_and_the_retry_is_stored_once(
        aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, db_busy_timeout_s=0.1)
    db = lock_database(settings)
    try:
        status, body = await say(client, "web-jam", QUESTION, "client-jam01")
    finally:
        db.execute("COMMIT")
        db.close()
    assert status == 503 and body["retry"] is True
    assert "消息" in body["error"] and "message" in body["error"] and "internal error" not in body["error"]
    status, body = await say(client, "web-jam", QUESTION, "client-jam01")  # what the page does next
    assert status == 200 and "普洱" in body["replies"][0]["text"]
    assert [m.direction for m in rows(settings, "web-jam")] == ["in", "out"] and rasa.received == [QUESTION]


@pytest.mark.sqlite_only  # holds SQLite's lock from outside
async def test_a_message_stored_before_the_database_locked_is_answered_later_never_failed(
        aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, db_busy_timeout_s=0.1)
    held: list[sqlite3.Connection] = []
    original = rasa._turn

    async def turn_then_lock(*args):  # the database locks while Rasa thinks: the reply cannot be stored
        if not held:
            held.append(lock_database(settings))
        return await original(*args)
    rasa._turn = turn_then_lock
    try:
        status, body = await say(client, "web-late", QUESTION)
    finally:
        held[0].execute("COMMIT")
        held[0].close()
    assert (status, body) == (200, {"state": "bot", "replies": [NOTICE], "pending": True})
    body = await fetched(client, "web-late", lambda b: b["messages"])
    assert len(body["messages"]) == 1 and "普洱" in body["messages"][0]["text"]
    assert [m.text for m in rows(settings, "web-late") if m.direction == "in"] == [QUESTION]


@pytest.mark.sqlite_only  # holds SQLite's lock from outside
async def test_reading_the_chat_writes_nothing_so_it_works_while_the_database_is_locked(
        aiohttp_client, settings, knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge, db_busy_timeout_s=0.2)
    staff = bearer(client, "reader", "staff")
    await say(client, "web-read", "转人工")
    handoff = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)
    await client.post(f"/api/conversations/{handoff['conversation_id']}/messages", json={"text": "在的"},
                      headers=staff)
    db = lock_database(settings)
    try:
        response = await client.get("/api/chat/web-read/messages?after=0")
        body = await response.json()
    finally:
        db.execute("COMMIT")
        db.close()
    assert response.status == 200 and [m["text"] for m in body["messages"]] == ["店员 reader 已接入，为您服务。", "在的"]
    with db_session(settings) as session:
        assert session.scalar(select(func.count(Message.id)).where(Message.delivery_status == "delivered")) == 0


async def test_telegram_customers_get_the_notice_then_the_answer_pushed(aiohttp_server, aiohttp_client, settings,
                                                                        knowledge):
    fake, client, settings = await start_telegram(aiohttp_server, aiohttp_client,
                                                  settings.model_copy(update={"bot_grace_s": 60.0}), knowledge)
    rasa = use_fake_rasa(client.server.app)
    rasa.ready = False
    await eventually(lambda: fake.polls)
    fake.text(CUSTOMER, QUESTION)
    assert await eventually(lambda: texts_to(fake, CUSTOMER)) == ["稍等，助手马上就好"]
    rasa.ready = True
    texts = await eventually(lambda: texts_to(fake, CUSTOMER)[1:], timeout=15)
    assert len(texts) == 1 and "普洱" in texts[0] and rasa.received == [QUESTION]
    await asyncio.sleep(1.0)  # time for a repeated delivery to show
    assert len(texts_to(fake, CUSTOMER)) == 2 and handoffs(settings) == []
    with db_session(settings) as session:
        answer = session.scalars(select(Message).where(Message.direction == "out")).one()
    assert answer.delivery_status == "sent"  # the outbox sent it


async def test_a_customer_writing_just_after_the_bot_is_back_is_answered_at_once(aiohttp_client, settings,
                                                                                 knowledge):
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge)
    rasa.ready = False
    assert (await say(client, "web-early", QUESTION))[1]["replies"] == [NOTICE]
    rasa.ready = True  # and at once, before the next sweep, another customer writes
    status, body = await say(client, "web-just-after", FOLLOW_UP)
    assert status == 200 and "pending" not in body and "真空" in body["replies"][0]["text"]


class DiskFull:
    """The disk fills up: every flush that writes a message (of ``direction``) fails the way SQLite fails then,
    until ``free()``. A flush is where a full disk shows: the row cannot be written."""

    def __init__(self, direction: str) -> None:
        self.direction, self.refused = direction, 0
        event.listen(OrmSession, "before_flush", self._before_flush)

    def _before_flush(self, session, _context, _instances) -> None:
        if any(isinstance(row, Message) and row.direction == self.direction for row in session.new):
            self.refused += 1
            raise OperationalError("INSERT INTO messages …", {}, sqlite3.OperationalError("database or disk is full"))

    def free(self) -> None:
        event.remove(OrmSession, "before_flush", self._before_flush)


async def test_a_full_disk_never_loses_a_message_nor_shows_an_english_error(aiohttp_client, settings, knowledge):
    """Full when the message comes in: the page is told to send it again (in Chinese and English) and does,
    with the same client id. Full when the answer is written: the customer gets the notice, then the answer."""
    client, rasa, settings = await warm_app(aiohttp_client, settings, knowledge)
    disk = DiskFull("in")
    try:
        status, body = await say(client, "web-full", QUESTION, "client-full1")
    finally:
        disk.free()
    assert disk.refused == 1 and status == 500 and body["retry"] is True
    assert "消息" in body["error"] and "message" in body["error"] and "internal error" not in body["error"]
    status, body = await say(client, "web-full", QUESTION, "client-full1")  # what the page does next
    assert status == 200 and len(body["replies"]) == 1 and "普洱" in body["replies"][0]["text"]

    disk = DiskFull("out")
    try:
        status, body = await say(client, "web-full", FOLLOW_UP, "client-full2")
    finally:
        disk.free()
    assert disk.refused == 1 and (status, body) == (200, {"state": "bot", "replies": [NOTICE], "pending": True})
    body = await fetched(client, "web-full", lambda b: b["messages"])
    assert len(body["messages"]) == 1 and "真空" in body["messages"][0]["text"]
    stored = rows(settings, "web-full")
    assert [(m.direction, m.text) for m in stored if m.direction == "in"] == [("in", QUESTION), ("in", FOLLOW_UP)]
    assert [m.direction for m in stored] == ["in", "out", "in", "out"] and handoffs(settings) == []
