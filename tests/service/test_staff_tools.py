"""Canned replies, private notes, transfer, pictures to the customer, and the owner's metrics."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

from aiohttp import FormData
from sqlalchemy import select

from core.db import Handoff, StaffNote, utcnow
from tests.service.conftest import db_session
from tests.service.test_handoff_api import hand_off
from tests.service.test_kb_admin import bearer


def tiny_png() -> bytes:
    """A real 1x1 PNG, built here so the test needs no file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


async def claimed_chat(client, sender: str, staff: dict) -> int:
    await hand_off(client, sender)
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    handoff = next(h for h in queue if h["state"] == "waiting")
    assert (await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    return handoff["conversation_id"]


async def test_owner_edits_canned_replies_staff_only_read_them(client):
    owner, staff = bearer(client, "boss", "owner"), bearer(client, "xiaoli", "staff")
    demo = (await (await client.get("/api/canned", headers=staff)).json())["canned"]
    assert "hi" in {c["shortcut"] for c in demo}  # the demo shop comes with some

    made = await client.post("/api/canned", json={"shortcut": "/tea", "text": "今年的新茶到了"}, headers=owner)
    assert made.status == 201
    canned = (await made.json())["canned"]
    assert canned["shortcut"] == "tea" and canned["updated_by"] == "boss"
    assert (await client.post("/api/canned", json={"shortcut": "tea", "text": "重复"}, headers=owner)).status == 409
    assert (await client.post("/api/canned", json={"shortcut": "有空格 x", "text": "x"}, headers=owner)).status == 400
    assert (await client.post("/api/canned", json={"shortcut": "x", "text": "x"}, headers=staff)).status == 403

    changed = await client.put(f"/api/canned/{canned['id']}", json={"shortcut": "tea", "text": "明前新茶到了"},
                               headers=owner)
    assert (await changed.json())["canned"]["text"] == "明前新茶到了"
    assert (await client.delete(f"/api/canned/{canned['id']}", headers=staff)).status == 403
    assert (await client.delete(f"/api/canned/{canned['id']}", headers=owner)).status == 200
    left = (await (await client.get("/api/canned", headers=staff)).json())["canned"]
    assert "tea" not in {c["shortcut"] for c in left}


async def test_private_notes_are_for_staff_never_the_customer(client, settings):
    staff = bearer(client, "xiaoli", "staff")
    conversation_id = await claimed_chat(client, "web-notes", staff)
    noted = await client.post(f"/api/conversations/{conversation_id}/notes", json={"text": "老顾客，去年买过大红袍"},
                              headers=staff)
    assert noted.status == 201
    detail = await (await client.get(f"/api/conversations/{conversation_id}", headers=staff)).json()
    assert [n["text"] for n in detail["notes"]] == ["老顾客，去年买过大红袍"]
    assert all("大红袍" not in m["text"] for m in detail["transcript"])
    seen = await (await client.get("/api/chat/web-notes/messages?after=0")).json()
    assert all("大红袍" not in m["text"] for m in seen["messages"])
    with db_session(settings) as session:
        assert session.scalars(select(StaffNote)).one().author == "xiaoli"


async def test_transfer_hands_the_chat_to_a_colleague(client, settings):
    first, second = bearer(client, "xiaoli", "staff"), bearer(client, "xiaowang", "staff")
    conversation_id = await claimed_chat(client, "web-transfer", first)
    refused = await client.post(f"/api/conversations/{conversation_id}/transfer", json={"to": "xiaoli"}, headers=second)
    assert refused.status == 403  # only the one who has the chat (or an owner) passes it on
    assert (await client.post(f"/api/conversations/{conversation_id}/transfer", json={"to": "nobody"},
                              headers=first)).status == 404
    moved = await client.post(f"/api/conversations/{conversation_id}/transfer", json={"to": "xiaowang"}, headers=first)
    assert (await moved.json())["claimed_by"] == "xiaowang"
    assert (await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "我来"},
                              headers=first)).status == 403
    assert (await client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "我来接待您"},
                              headers=second)).status == 201
    detail = await (await client.get(f"/api/conversations/{conversation_id}", headers=second)).json()
    assert detail["handoff"]["claimed_by"] == "xiaowang" and detail["state"] == "assigned"
    queue = (await (await client.get("/api/handoffs", headers=second)).json())["handoffs"]
    assert [h["claimed_by"] for h in queue] == ["xiaowang"]
    seen = await (await client.get("/api/chat/web-transfer/messages?after=0")).json()  # the customer is told
    assert [(m["author"], m["text"]) for m in seen["messages"]] == [
        ("system", "店员 xiaoli 已接入，为您服务。"), ("system", "已为您转给店员 xiaowang，TA 会接着为您服务。"),
        ("staff", "我来接待您")]


async def test_staff_send_a_picture_the_customer_can_open(client):
    staff = bearer(client, "xiaoli", "staff")
    conversation_id = await claimed_chat(client, "web-picture", staff)
    form = FormData()
    form.add_field("text", "这是今天到的茶饼")
    form.add_field("image", tiny_png(), filename="cake.png", content_type="image/png")
    sent = await client.post(f"/api/conversations/{conversation_id}/messages", data=form, headers=staff)
    assert sent.status == 201
    image = (await sent.json())["message"]["image"]
    assert image.startswith("/media/") and image.endswith(".png")
    polled = (await (await client.get("/api/chat/web-picture/messages?after=0")).json())["messages"]
    assert polled[-1]["image"] == image and polled[-1]["text"] == "这是今天到的茶饼"
    served = await client.get(image)
    assert served.status == 200 and await served.read() == tiny_png()
    assert served.headers["X-Content-Type-Options"] == "nosniff"

    fake = FormData()
    fake.add_field("image", b"<script>alert(1)</script>", filename="x.png", content_type="image/png")
    refused = await client.post(f"/api/conversations/{conversation_id}/messages", data=fake, headers=staff)
    assert refused.status == 400 and "not a JPEG" in (await refused.json())["error"]
    assert (await client.get("/media/..%2Fsecret_key")).status == 404


async def test_metrics_count_the_day_by_reason_wait_handle_and_rating(client, settings):
    owner, staff = bearer(client, "boss", "owner"), bearer(client, "xiaoli", "staff")
    conversation_id = await claimed_chat(client, "web-m1", staff)
    await hand_off(client, "web-m2")  # still waiting
    with db_session(settings) as session:  # make the first wait 2 minutes and its handling 5
        handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)).one()
        handoff.claimed_at = handoff.created_at + timedelta(minutes=2)
        session.commit()
    await client.post(f"/api/conversations/{conversation_id}/resolve", headers=staff)
    with db_session(settings) as session:
        handoff = session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)).one()
        handoff.ended_at, handoff.rating = handoff.claimed_at + timedelta(minutes=5), 4
        session.commit()

    assert (await client.get("/api/metrics", headers=staff)).status == 403
    days = (await (await client.get("/api/metrics?days=3", headers=owner)).json())["days"]
    assert len(days) == 3 and days[0]["day"] == utcnow().astimezone(settings.hours.zone).date().isoformat()
    today = days[0]
    assert today["conversations"] == 2 and today["bot_only_rate"] == 0.0
    assert today["handoffs"]["bot_unavailable"] == 2 and today["handoff_rate"]["bot_unavailable"] == 1.0
    assert today["median_wait_s"] == 120 and today["median_handle_s"] == 300
    assert today["satisfaction"] == 4.0 and today["unanswered"] == 2
    assert days[1]["conversations"] == 0 and days[1]["bot_only_rate"] is None
    period = (await (await client.get("/api/metrics?days=3", headers=owner)).json())["period"]
    assert {key: period[key] for key in ("conversations", "median_wait_s", "median_handle_s", "satisfaction",
                                         "ratings", "unanswered", "calls", "calls_connected")} == {
        "conversations": 2, "median_wait_s": 120, "median_handle_s": 300, "satisfaction": 4.0, "ratings": 1,
        "unanswered": 2, "calls": 0, "calls_connected": 0}
    assert period["handoffs"] == {"customer_request": 0, "video_request": 0, "low_confidence": 0,
                                  "bot_unavailable": 2, "staff_takeover": 0}
    assert (await client.get("/api/metrics?days=0", headers=owner)).status == 400

    page = await client.get("/admin/metrics", headers=owner)
    shown = await page.text()
    assert page.status == 200 and '<strong id="total-satisfaction">4.0 / 5</strong>' in shown
    assert '<strong id="total-handoffs">2</strong>' in shown and "机器人不可用 2" in shown


async def test_metrics_count_by_the_shops_day_when_it_differs_from_the_utc_day(client, settings):
    """00:30 in Shanghai on the 26th is still the 25th in UTC: the chat belongs to the shop's 26th."""
    from datetime import datetime, timezone

    from handoff.metrics import daily_metrics
    from web.keys import SESSIONS
    from core.db import Conversation, Customer

    started = datetime(2026, 11, 25, 16, 30, tzinfo=timezone.utc)
    with db_session(settings) as session:
        customer = Customer(channel="web", external_id="web-midnight")
        session.add(customer)
        session.flush()
        session.add(Conversation(customer_id=customer.id, channel="web", created_at=started))
        session.commit()
    async with client.server.app[SESSIONS]() as session:
        days = await daily_metrics(session, settings.hours.zone, 1, now=started + timedelta(minutes=15))
    assert [(d.day.isoformat(), d.conversations) for d in days] == [("2026-11-26", 1)]


async def test_staff_find_a_product_by_name_and_push_its_card_into_the_chat(client, settings):
    staff = bearer(client, "xiaoli", "staff")
    found = (await (await client.get("/api/products?q=牛肉干", headers=staff)).json())["products"]
    assert [p["id"] for p in found] == ["beef-jerky"] and found[0]["name"] == "内蒙古风干牛肉干"
    english = (await (await client.get("/api/products?q=BEEF JERKY", headers=staff)).json())["products"]
    assert [p["id"] for p in english] == ["beef-jerky"]  # by the English name too, whatever the case
    assert (await (await client.get("/api/products?q=没有这种东西", headers=staff)).json())["products"] == []
    assert (await client.get("/api/products?q=牛肉")).status == 401

    conversation_id = await claimed_chat(client, "web-card-push", staff)
    pushed = await client.post(f"/api/conversations/{conversation_id}/products", json={"product": "beef-jerky"},
                               headers=staff)
    assert pushed.status == 201
    seen = await (await client.get("/api/chat/web-card-push/messages?after=0")).json()
    card = seen["messages"][-1]
    assert (card["author"], card["from"], [p["id"] for p in card["products"]]) == ("staff", "xiaoli", ["beef-jerky"])
    assert card["text"] == "给您看看这款：内蒙古风干牛肉干"
