"""The handoff queue and the staff API: claim, reply both ways, resolve, rating, cancel."""

from __future__ import annotations

import asyncio
from unittest.mock import ANY

import pytest
from sqlalchemy import select

from core.db import Conversation, ConversationEvent, Customer, Handoff, Message, StaffAccount
from tests.service.conftest import db_session
from tests.service.test_kb_admin import bearer


async def hand_off(client, sender: str, text: str = "我想问问熊猫玩偶") -> dict:
    """Rasa is down in the service tier, so any message hands the chat to staff."""
    response = await client.post(f"/api/chat/{sender}", json={"text": text})
    return await response.json()


async def test_customer_is_told_the_queue_position(client):
    first = await hand_off(client, "web-q1")
    second = await hand_off(client, "web-q2")
    assert first["state"] == "waiting" and "第 1 位" in first["replies"][-1]["text"]
    assert "第 2 位" in second["replies"][-1]["text"]
    assert second["replies"][-1]["buttons"] == [{"title": "取消，继续问机器人", "payload": "/cancel"}]


async def test_queue_claim_reply_both_ways_resolve_and_rate(client, settings):
    staff = bearer(client, "xiaoli", "staff")
    with db_session(settings) as session:  # the name customers know her by
        session.scalar(select(StaffAccount).where(StaffAccount.name == "xiaoli")).display_name = "小李"
        session.commit()
    await hand_off(client, "web-flow", "普洱茶能放多久？")
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert len(queue) == 1 and queue[0]["reason"] == "bot_unavailable" and queue[0]["wait_seconds"] >= 0
    assert "普洱茶能放多久？" in queue[0]["summary"]
    handoff_id, conversation_id = queue[0]["id"], queue[0]["conversation_id"]

    claimed = await client.post(f"/api/handoffs/{handoff_id}/claim", headers=staff)
    assert (await claimed.json())["state"] == "assigned"

    # customer -> staff: kept for staff, never answered by the bot
    response = await client.post("/api/chat/web-flow", json={"text": "是生茶"})
    assert await response.json() == {"state": "assigned", "replies": []}
    # staff -> customer
    sent = await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "生普放得越久越香"},
                             headers=staff)
    assert sent.status == 201
    polled = await (await client.get("/api/chat/web-flow/messages?after=0")).json()
    assert [(m["author"], m.get("from"), m["text"]) for m in polled["messages"]] == [
        ("system", None, "店员 小李 已接入，为您服务。"), ("staff", "小李", "生普放得越久越香")]
    assert polled["state"] == "assigned"
    # the page says what it showed (reading alone writes nothing)
    await client.post("/api/chat/web-flow/messages/read", json={"upto": polled["messages"][-1]["id"]})

    detail = await (await client.get(f"/api/conversations/{conversation_id}", headers=staff)).json()
    texts = [m["text"] for m in detail["transcript"]]
    assert texts.index("普洱茶能放多久？") < texts.index("是生茶") < texts.index("生普放得越久越香")
    assert detail["handoff"]["context"]["reason"] == "bot_unavailable"

    resolved = await client.post(f"/api/conversations/{conversation_id}/resolve", headers=staff)
    assert (await resolved.json())["state"] == "resolved"
    after = polled["messages"][-1]["id"]
    rating = (await (await client.get(f"/api/chat/web-flow/messages?after={after}")).json())["messages"]
    assert rating[0]["author"] == "system" and len(rating[0]["buttons"]) == 5
    thanks = await (await client.post("/api/chat/web-flow", json={"payload": '/rate{"score": 4}'})).json()
    assert "谢谢" in thanks["replies"][0]["text"]
    with db_session(settings) as session:
        handoff = session.get(Handoff, handoff_id)
        assert handoff.rating == 4 and handoff.ended_by == "staff"
        events = [e.name for e in session.scalars(select(ConversationEvent).order_by(ConversationEvent.id))]
        assert events == ["handoff_requested", "claimed", "resolved", "customer_returned"]
        assert session.scalars(select(Message).where(Message.author == "staff")).one().delivery_status == "delivered"


async def test_an_english_customer_is_asked_for_a_rating_and_thanked_in_english(client):
    staff = bearer(client, "xiaowang", "staff")
    await hand_off(client, "web-en-rate", "Can I talk to someone about the tea?")
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    handoff_id, conversation_id = queue[0]["id"], queue[0]["conversation_id"]
    await client.post(f"/api/handoffs/{handoff_id}/claim", headers=staff)
    await client.post(f"/api/conversations/{conversation_id}/resolve", headers=staff)
    messages = (await (await client.get("/api/chat/web-en-rate/messages?after=0")).json())["messages"]
    assert messages[-1]["text"] == "Our staff have finished helping you. How did we do?"
    thanks = await (await client.post("/api/chat/web-en-rate", json={"payload": '/rate{"score": 5}'})).json()
    assert thanks["replies"][0]["text"] == "Thank you for the rating! Come back any time."


async def test_two_staff_claiming_at_once_exactly_one_wins(client):
    a, b = bearer(client, "staff-a", "staff"), bearer(client, "staff-b", "staff")
    await hand_off(client, "web-race")
    handoff_id = (await (await client.get("/api/handoffs", headers=a)).json())["handoffs"][0]["id"]
    responses = await asyncio.gather(*[client.post(f"/api/handoffs/{handoff_id}/claim", headers=h)
                                       for h in (a, b, a, b)])
    assert sorted(r.status for r in responses) == [200, 409, 409, 409]


async def test_only_the_claimer_or_owner_replies(client):
    a, b = bearer(client, "staff-c", "staff"), bearer(client, "staff-d", "staff")
    owner = bearer(client, "boss", "owner")
    await hand_off(client, "web-own")
    queue = (await (await client.get("/api/handoffs", headers=a)).json())["handoffs"]
    await client.post(f"/api/handoffs/{queue[0]['id']}/claim", headers=a)
    path = f"/api/conversations/{queue[0]['conversation_id']}/messages"
    assert (await client.post(path, json={"text": "你好"}, headers=b)).status == 403
    assert (await client.post(path, json={"text": "你好"}, headers=owner)).status == 201


async def test_customer_can_cancel_and_go_back_to_the_bot(client, settings):
    await hand_off(client, "web-cancel")
    body = await (await client.post("/api/chat/web-cancel", json={"payload": "/cancel"})).json()
    assert body["state"] == "bot" and "已取消" in body["replies"][0]["text"]
    with db_session(settings) as session:
        assert session.scalars(select(Handoff)).one().ended_by == "customer"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/handoffs"), ("POST", "/api/handoffs/1/claim"), ("GET", "/api/conversations/1"),
    ("POST", "/api/conversations/1/messages"), ("POST", "/api/conversations/1/resolve"),
])
async def test_staff_routes_refuse_anonymous(client, method, path):
    response = await client.request(method, path, json={"text": "x"})
    assert response.status == 401


async def test_console_socket_is_staff_only_same_origin_and_pushes_new_handoffs(client):
    staff = bearer(client, "watcher", "staff")
    assert (await client.get("/ws/staff")).status == 401
    foreign = {**staff, "Origin": "http://evil.example"}
    assert (await client.get("/ws/staff", headers=foreign)).status == 403
    ws = await client.ws_connect("/ws/staff", headers=staff)
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await hand_off(client, "web-push")
        event = await ws.receive_json(timeout=5)
        assert event["type"] == "queue" and event["conversation_id"] >= 1
        await client.post("/api/chat/web-push", json={"text": "还在吗"})
        assert (await ws.receive_json(timeout=5)) == {"type": "message", "conversation_id": event["conversation_id"]}
    finally:
        await ws.close()


async def test_console_page_needs_a_staff_sign_in(client):
    response = await client.get("/console", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login")


async def test_staff_take_over_a_bot_chat(client, settings):
    staff = bearer(client, "taker", "staff")
    with db_session(settings) as session:  # a chat the bot is handling (Rasa is down in this tier)
        customer = Customer(channel="web", external_id="web-take")
        session.add(customer)
        session.flush()
        session.add(Conversation(customer_id=customer.id, channel="web", state="bot"))
        session.commit()
    listed = (await (await client.get("/api/conversations", headers=staff)).json())["conversations"]
    conversation_id = next(c["id"] for c in listed if c["customer"] == "web-take")
    taken = await client.post(f"/api/conversations/{conversation_id}/takeover", headers=staff)
    assert (await taken.json())["state"] == "assigned"
    again = await client.post(f"/api/conversations/{conversation_id}/takeover", headers=staff)
    assert again.status == 409
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert [(h["reason"], h["claimed_by"]) for h in queue] == [("staff_takeover", "taker")]
    response = await client.post("/api/chat/web-take", json={"text": "你好"})
    # stored without a chat token (as customers from before tokens were): this message gets one
    assert (await response.json()) == {"state": "assigned", "replies": [], "chat_token": ANY}


async def test_outside_business_hours_the_customer_is_told_when_staff_are_back(aiohttp_client, settings, knowledge):
    from datetime import datetime, timezone as tz

    from core.hours import DAYS
    from techan.app import create_app
    from tests.service.conftest import migrated_demo_shop

    tomorrow = DAYS[(datetime.now(tz.utc).astimezone().weekday() + 2) % 7]  # a day that is surely not today
    closed = settings.model_copy(update={"business_hours": f"{tomorrow} 09:00-10:00", "timezone": "UTC"})
    migrated_demo_shop(closed)
    client = await aiohttp_client(create_app(closed, knowledge=knowledge))
    body = await hand_off(client, "web-night")
    assert body["state"] == "waiting" and "下班" in body["replies"][-1]["text"] and "09:00" in body["replies"][-1]["text"]


async def test_estimated_wait_follows_recent_claim_times(client):
    staff = bearer(client, "timer", "staff")
    first = await hand_off(client, "web-w1")
    assert "预计等待约 3 分钟" in first["replies"][-1]["text"]  # no history yet: the default
    handoff_id = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]["id"]
    await client.post(f"/api/handoffs/{handoff_id}/claim", headers=staff)  # claimed within a second
    second = await hand_off(client, "web-w2")
    assert "预计等待约 1 分钟" in second["replies"][-1]["text"]


async def test_customer_chat_page_is_pushed_staff_replies(client):
    staff = bearer(client, "pusher", "staff")
    await hand_off(client, "web-ws")
    ws = await client.ws_connect("/ws/chat/web-ws")
    try:
        queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
        await client.post(f"/api/handoffs/{queue[0]['id']}/claim", headers=staff)
        await client.post(f"/api/conversations/{queue[0]['conversation_id']}/messages", json={"text": "在的"},
                          headers=staff)
        assert (await ws.receive_json(timeout=5)) == {"type": "message"}
        await client.post(f"/api/conversations/{queue[0]['conversation_id']}/resolve", headers=staff)
        assert (await ws.receive_json(timeout=5)) == {"type": "message"}  # the rating prompt
    finally:
        await ws.close()
    assert (await client.get("/ws/chat/bad sender")).status in (400, 404)
