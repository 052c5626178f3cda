"""The web chat API at its edges: bad input is refused clearly, nothing is lost, Rasa down is handled."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from core.db import Conversation, ConversationEvent, Customer, Handoff, Message, UnansweredQuestion
from tests.service.conftest import db_session


async def test_healthz_reports_rasa_kb_and_model(client):
    response = await client.get("/healthz")
    body = await response.json()
    assert response.status == 200
    assert body["rasa"] is False and body["status"] == "degraded"
    assert body["kb_entries"] >= 120
    assert body["model"] == "intfloat/multilingual-e5-small"


async def test_chat_page_is_served(client):
    response = await client.get("/")
    html = await response.text()
    assert response.status == 200 and "/static/chat.js" in html
    assert (await client.get("/static/chat.js")).status == 200
    icon = await client.get("/favicon.ico")
    assert icon.headers["Content-Type"] == "image/svg+xml" and (await icon.text()).startswith("<svg")


@pytest.mark.parametrize(("body", "status", "error"), [
    ({"text": ""}, 400, "empty"),
    ({"text": "   "}, 400, "empty"),
    ({"text": "茶" * 10_000}, 413, "limit is 4000"),
    ({"text": 42}, 400, "empty"),
    ({"payload": "<script>"}, 400, "payload must look like"),
    (["not", "an", "object"], 400, "JSON object"),
    ({"text": "hi", "language": "fr"}, 400, "language must be one of zh, en"),
])
async def test_bad_messages_get_clear_errors(client, settings, body, status, error):
    response = await client.post("/api/chat/web-abc", json=body)
    assert response.status == status
    assert error in (await response.json())["error"]
    with db_session(settings) as session:
        assert session.scalars(select(Message)).all() == []


async def test_malformed_json_is_refused(client):
    response = await client.post("/api/chat/web-abc", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400 and "JSON" in (await response.json())["error"]


@pytest.mark.parametrize("sender", ["has space", "a/b", "x" * 65, "中文", "semi;colon"])
async def test_unknown_sender_formats_are_refused(client, sender):
    response = await client.post(f"/api/chat/{sender}", json={"text": "你好"})
    assert response.status in (400, 404)
    body = await response.json()
    assert "error" in body and "Traceback" not in str(body)


async def test_rasa_down_gets_polite_reply_message_kept_and_logged(client, settings, caplog):
    caplog.set_level(logging.ERROR)
    response = await client.post("/api/chat/web-down", json={"text": "普洱茶保质期多久？"})
    body = await response.json()
    assert response.status == 200
    assert body["state"] == "waiting"
    assert "尽快回复" in body["replies"][0]["text"]
    assert any("Rasa unreachable" in r.getMessage() for r in caplog.records)
    with db_session(settings) as session:
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        assert [(m.direction, m.text) for m in messages][0] == ("in", "普洱茶保质期多久？")
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.handoff_reason == "bot_unavailable"
        event = session.scalars(select(ConversationEvent)).one()
        assert (event.name, event.from_state, event.to_state) == ("handoff_requested", "bot", "waiting")


async def test_english_customers_are_answered_in_english_by_the_router(client, settings):
    """The router's own words (bot busy, queue or closed, cancel) follow the customer's language."""
    response = await client.post("/api/chat/web-en", json={"text": "How long does the beef jerky keep?"})
    body = await response.json()
    assert body["state"] == "waiting"
    busy, queued = body["replies"]
    assert busy["text"].startswith("Sorry, the assistant is busy")
    assert queued["text"].startswith(("You are number 1 in the queue", "Our staff are away now"))
    assert queued["buttons"] == [{"title": "Cancel, keep asking the bot", "payload": "/cancel"}]
    with db_session(settings) as session:
        assert session.scalars(select(Customer)).one().language == "en"
        # staff read the context card in Chinese, whatever the customer wrote in
        assert session.scalars(select(Handoff)).one().context["summary"] == "顾客问了：How long does the beef jerky keep?"
    body = await (await client.post("/api/chat/web-en", json={"payload": "/cancel"})).json()
    assert body["replies"][0]["text"] == "OK, cancelled. The bot is here for you again."
    body = await (await client.post("/api/chat/web-en", json={"text": "普洱茶保质期多久？"})).json()
    assert body["replies"][0]["text"].startswith("抱歉，智能助手暂时有点忙")  # wrote Chinese: answered in Chinese


async def test_a_first_hi_from_an_english_page_is_answered_in_english(client, settings):
    """"hi" says nothing of its language; the page's language decides the first answer, and a customer who
    writes Chinese is answered in Chinese whatever the page."""
    body = await (await client.post("/api/chat/web-hi", json={"text": "hi", "language": "en"})).json()
    assert body["replies"][0]["text"].startswith("Sorry, the assistant is busy")
    body = await (await client.post("/api/chat/web-hi-zh", json={"text": "你好", "language": "en"})).json()
    assert body["replies"][0]["text"].startswith("抱歉，智能助手暂时有点忙")
    body = await (await client.post("/api/chat/web-hi-default", json={"text": "hi"})).json()
    assert body["replies"][0]["text"].startswith("抱歉，智能助手暂时有点忙")  # a Chinese shop's default


async def test_an_emoji_alone_gets_a_word_back_not_a_handoff_or_an_inbox_entry(client, settings):
    """👍 or 🙏 has nothing to look up: the customer gets one friendly line (even with the bot away), the chat
    stays with the bot and the owner's inbox gets nothing."""
    body = await (await client.post("/api/chat/web-emoji", json={"text": "👍👍"})).json()
    assert (body["state"], [r["text"] for r in body["replies"]]) == ("bot", ["收到 😊 还有想问的，直接打字告诉我就好。"])
    english = await (await client.post("/api/chat/web-emoji-en", json={"text": "🙏", "language": "en"})).json()
    assert [r["text"] for r in english["replies"]] == ["Got it 😊 If there's anything else, just type your question."]
    with db_session(settings) as session:
        assert session.scalars(select(UnansweredQuestion)).all() == []
        assert session.scalars(select(Handoff)).all() == []


async def test_while_waiting_messages_are_kept_for_staff_not_answered(client, settings):
    await client.post("/api/chat/web-wait", json={"text": "你好"})  # Rasa down: handed off
    response = await client.post("/api/chat/web-wait", json={"text": "还在吗？"})
    body = await response.json()
    assert body == {"state": "waiting", "replies": []}
    with db_session(settings) as session:
        texts = [m.text for m in session.scalars(select(Message).where(Message.direction == "in"))]
    assert texts == ["你好", "还在吗？"]


async def test_asking_for_staff_again_while_waiting_says_the_place_now(client, settings):
    """转人工 again while waiting answers with the customer's place as it is now (one reply, a cancel button);
    staff still see the message."""
    await client.post("/api/chat/web-first", json={"text": "你好"})  # Rasa down: each handed off in turn
    await client.post("/api/chat/web-second", json={"text": "在吗"})
    body = await (await client.post("/api/chat/web-second", json={"text": "转人工"})).json()
    assert [reply["text"] for reply in body["replies"]] == [
        "您现在排在第 2 位，预计等待约 6 分钟，店员接入后会在这里回复您。想继续问机器人，可以点“取消”。"]
    assert body["replies"][0]["buttons"] == [{"title": "取消，继续问机器人", "payload": "/cancel"}]
    await client.post("/api/chat/web-first", json={"payload": "/cancel"})
    body = await (await client.post("/api/chat/web-second", json={"payload": "/request_human"})).json()
    assert [reply["text"] for reply in body["replies"]] == [
        "您现在排在第 1 位，预计等待约 3 分钟，店员接入后会在这里回复您。想继续问机器人，可以点“取消”。"]
    with db_session(settings) as session:
        kept = session.scalars(select(Message.text).join(Conversation).join(Customer).where(
            Customer.external_id == "web-second", Message.direction == "in").order_by(Message.id)).all()
    assert kept == ["在吗", "转人工", "/request_human"]


async def test_unexpected_errors_are_json_without_stack_trace(client, monkeypatch):
    from handoff.router import ROUTER

    async def boom(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.server.app[ROUTER], "handle", boom)
    response = await client.post("/api/chat/web-x", json={"text": "你好"})
    body = await response.json()
    assert response.status == 500 and "secret internals" not in str(body) and "Traceback" not in str(body)


async def test_oversized_body_is_refused_before_reading(client):
    response = await client.post("/api/chat/web-big", data=b'{"text": "' + b"a" * 100_000 + b'"}',
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413 and "KB" in (await response.json())["error"]


async def test_action_endpoint_accepts_long_trackers(client):
    from web.keys import SETTINGS
    from tests.service.test_webhook import action_call

    call = action_call("action_answer_question", "运费多少钱？", "ask_shipping")
    call["tracker"]["events"] = [{"event": "user", "text": "普洱茶保质期多久？" * 20, "timestamp": i}
                                 for i in range(3000)]  # ~1.5 MB, a long conversation
    response = await client.post(f"/webhook?token={client.server.app[SETTINGS].rasa_token}", json=call)
    assert response.status == 200
