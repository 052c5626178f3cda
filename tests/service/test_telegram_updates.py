"""Every kind of Telegram update a customer sends is stored and answered (issue 15), against the fake Bot API.

Rasa is down in this tier unless a test puts tests/service/fake_rasa.py behind the router, so a plain
question is handed to staff: that is how these tests get a chat waiting for staff.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from core.db import Message
from handoff.channels.telegram.customers import (
    HELP_TEXT, LANGUAGE_MENU, NOTED_TEXT, NOTHING_TO_CANCEL_TEXT, STAFF_HERE_TEXT, TOO_LARGE, UNKNOWN_COMMAND_TEXT,
)
from handoff.router import CANCELLED_TEXT, EMOJI_TEXT, MEDIA_TO_STAFF_TEXT
from tests.service.conftest import db_session
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_kb_admin import bearer
from tests.service.test_telegram import (  # noqa: F401 (telegram: the fixture)
    CUSTOMER, claimed_by_staff, eventually, telegram, texts_to,
)

OTHER = 5559876
SETTLE_S = 0.5  # after the expected replies, time for a wrong extra one to show


async def replies_to(fake, send, count: int, chat_id: int = CUSTOMER) -> list[str]:
    """What the customer is shown after ``send()``: exactly ``count`` texts (none more comes meanwhile)."""
    before = len(texts_to(fake, chat_id))
    send()
    await eventually(lambda: len(texts_to(fake, chat_id)) >= before + count)
    await asyncio.sleep(SETTLE_S)
    return texts_to(fake, chat_id)[before:]


def inbound(settings) -> list[tuple[str, str, dict]]:
    """The customer's messages as stored: text, status, payload."""
    with db_session(settings) as session:
        return [(m.text, m.delivery_status, m.payload or {})
                for m in session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]


def bot_said(settings) -> list[tuple[str, str]]:
    with db_session(settings) as session:
        return [(m.text, m.delivery_status) for m in session.scalars(
            select(Message).where(Message.direction == "out", Message.author == "bot").order_by(Message.id))]


async def test_commands_are_answered_with_the_bot_while_waiting_and_with_staff(telegram):
    fake, client, settings = telegram
    help_zh, unknown_zh = HELP_TEXT.to("zh"), UNKNOWN_COMMAND_TEXT.to("zh")
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/help"), 1) == [help_zh]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/start"), 1) == [help_zh]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/cancel"), 1) == [NOTHING_TO_CANCEL_TEXT.to("zh")]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/foo"), 1) == [unknown_zh]
    assert unknown_zh.startswith("我不认识这个命令") and help_zh in unknown_zh
    menu = LANGUAGE_MENU.text
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/language"), 1) == [menu]

    handed = await replies_to(fake, lambda: fake.text(CUSTOMER, "紫砂壶能开发票吗"), 2)  # Rasa down: to staff
    place = handed[-1]
    assert place.startswith("您现在排在第 1 位")
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/help"), 2) == [help_zh, place]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/human"), 1) == [place]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/start"), 2) == [help_zh, place]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/foo"), 2) == [unknown_zh, place]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/language"), 2) == [menu, place]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/cancel"), 1) == [CANCELLED_TEXT.to("zh")]

    commands = ["/help", "/start", "/cancel", "/foo", "/language", "紫砂壶能开发票吗", "/help", "/request_human",
                "/start", "/foo", "/language", "/cancel"]
    stored = inbound(settings)
    assert [text for text, _status, _payload in stored] == commands
    assert {status for _text, status, _payload in stored} == {"received"}
    assert [text for text, _status in bot_said(settings)][:5] == [help_zh, help_zh, NOTHING_TO_CANCEL_TEXT.to("zh"),
                                                                   unknown_zh, menu]
    menus = [p for p in fake.delivered("sendMessage", CUSTOMER) if p["text"] == menu]
    assert [[b["callback_data"] for b in sum(m["reply_markup"]["inline_keyboard"], [])] for m in menus] == [
        ["lang:zh", "lang:en"]] * 2
    assert {status for _text, status in bot_said(settings)} == {"sent"}


async def test_commands_while_staff_hold_the_chat_say_staff_are_there(telegram):
    fake, client, settings = telegram
    staff, handoff = await claimed_by_staff(fake, client, "紫砂壶能开发票吗")
    await eventually(lambda: any("已接入" in text for text in texts_to(fake, CUSTOMER)))
    await asyncio.sleep(SETTLE_S)
    here = STAFF_HERE_TEXT.to("zh")
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/human"), 1) == [here]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/cancel"), 1) == [here]
    assert await replies_to(fake, lambda: fake.text(CUSTOMER, "/help"), 1) == [HELP_TEXT.to("zh")]
    detail = await (await client.get(f"/api/conversations/{handoff['conversation_id']}", headers=staff)).json()
    assert detail["state"] == "assigned"  # the chat stays with staff, who see the commands
    assert [m["text"] for m in detail["transcript"] if m["direction"] == "in"][-3:] == [
        "/request_human", "/cancel", "/help"]


async def test_stickers_contacts_locations_and_other_messages_are_stored_and_answered(telegram):
    fake, client, settings = telegram
    noted = NOTED_TEXT.to("zh")
    assert await replies_to(fake, lambda: fake.sticker(CUSTOMER, "😊"), 1) == [EMOJI_TEXT.to("zh")]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, contact={
        "phone_number": "+8613800138000", "first_name": "小张", "last_name": "王"}), 1) == [noted]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, location={
        "latitude": 30.274085, "longitude": 120.15507}), 1) == [noted]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, location={"latitude": 39.9, "longitude": 116.4},
                                                    venue={"location": {"latitude": 39.9, "longitude": 116.4},
                                                           "title": "王府井店", "address": "北京东城区王府井大街1号"}),
                            1) == [noted]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, dice={"emoji": "🎲", "value": 3}), 1) == [noted]
    assert [(text, status) for text, status, _payload in inbound(settings)] == [
        ("[贴纸 😊]", "received"), ("[联系方式] 小张 王 +8613800138000", "received"),
        ("[位置] 30.274085,120.155070", "received"), ("[位置] 39.900000,116.400000 王府井店 北京东城区王府井大街1号", "received"),
        ("[其他消息]", "received")]
    assert bot_said(settings) == [(EMOJI_TEXT.to("zh"), "sent"), *[(noted, "sent")] * 4]


async def test_an_english_speaking_customer_is_answered_in_english(telegram):
    fake, client, settings = telegram
    english = {"language": "en"}
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, text="/help", entities=[
        {"type": "bot_command", "offset": 0, "length": 5}], **english), 1) == [HELP_TEXT.en]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, text="/nope", entities=[
        {"type": "bot_command", "offset": 0, "length": 5}], **english), 1) == [UNKNOWN_COMMAND_TEXT.en]
    assert UNKNOWN_COMMAND_TEXT.en.startswith("I don't know that command") and HELP_TEXT.en in UNKNOWN_COMMAND_TEXT.en
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, sticker={
        "file_id": "s", "file_unique_id": "s", "width": 512, "height": 512, "is_animated": False, "is_video": False,
        "type": "regular", "emoji": "👍"}, **english), 1) == [EMOJI_TEXT.en]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, location={"latitude": 1.0, "longitude": 2.0},
                                                    **english), 1) == [NOTED_TEXT.en]
    assert await replies_to(fake, lambda: fake.send(CUSTOMER, contact={"phone_number": "+8613800138000",
                                                                       "first_name": "小张"}, **english), 1) == [
        NOTED_TEXT.en]  # a Chinese name in the contact says nothing of the customer's language
    assert await replies_to(fake, lambda: fake.attachment(CUSTOMER, "photo", b"\xff\xd8\xff", **english), 1) == [
        MEDIA_TO_STAFF_TEXT.en]
    assert await replies_to(fake, lambda: fake.attachment(CUSTOMER, "document", b"PK", file_name="a.zip",
                                                          file_size=30 * 1024 * 1024, **english), 1) == [
        TOO_LARGE.notice.en]
    assert [text for text, _status, _payload in inbound(settings)] == [
        "/help", "/nope", "[贴纸 👍]", "[位置] 1.000000,2.000000", "[联系方式] 小张 +8613800138000", "[图片]",
        "[文件] a.zip（文件过大，未接收）"]


async def test_a_document_is_kept_for_staff_and_one_too_large_is_stored_as_a_note(telegram):
    fake, client, settings = telegram
    staff = bearer(client, "xiaoli", "staff")
    pdf = b"%PDF-1.4 a price list"
    replies = await replies_to(fake, lambda: fake.attachment(CUSTOMER, "document", pdf, file_name="报价单.pdf",
                                                             mime_type="application/pdf"), 1)
    assert replies == [MEDIA_TO_STAFF_TEXT.to("zh")]
    told = await replies_to(fake, lambda: fake.attachment(CUSTOMER, "document", b"PK", file_name="photos.zip",
                                                          file_size=30 * 1024 * 1024), 1)
    assert told == [TOO_LARGE.notice.to("zh")]
    (kept, kept_status, kept_payload), (refused, refused_status, refused_payload) = inbound(settings)
    assert (kept, kept_status) == ("[文件] 报价单.pdf", "received")
    assert kept_payload["media"]["kind"] == "document" and kept_payload["media"]["url"].endswith(".pdf")
    assert await (await client.get(kept_payload["media"]["url"])).read() == pdf
    assert (refused, refused_status) == ("[文件] photos.zip（文件过大，未接收）", "limited")
    assert refused_payload.get("limit") == "media" and "media" not in refused_payload
    assert len(fake.downloads) == 1  # the one too large was never fetched
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert queue == []  # the bot offered staff; nothing was handed over unasked


async def test_an_edit_is_stored_as_an_edit_shown_to_staff_and_not_answered_again(telegram):
    fake, client, settings = telegram
    rasa = use_fake_rasa(client.server.app)
    staff = bearer(client, "boss", "owner")
    update_id, message_id = fake.send(CUSTOMER, text="普洱茶保质期多久？")
    answer = await eventually(lambda: texts_to(fake, CUSTOMER))
    assert len(answer) == 1 and "普洱茶" in answer[0]
    fake.edit(CUSTOMER, message_id, "普洱茶保质期多久？存了十年的还能喝吗")
    await eventually(lambda: len(inbound(settings)) == 2)
    await asyncio.sleep(SETTLE_S)
    assert texts_to(fake, CUSTOMER) == answer  # not answered twice
    assert rasa.received == ["普洱茶保质期多久？"]
    (original, _status, first), (edited, status, payload) = inbound(settings)
    with db_session(settings) as session:
        original_id = session.scalar(select(Message.id).where(Message.text == original))
    assert edited == "普洱茶保质期多久？存了十年的还能喝吗" and status == "received"
    assert payload["edit_of"] == original_id and payload["telegram_message_id"] == message_id
    assert first["telegram_message_id"] == message_id and "edit_of" not in first
    with db_session(settings) as session:
        conversation_id = session.scalar(select(Message.conversation_id).where(Message.id == original_id))
    detail = await (await client.get(f"/api/conversations/{conversation_id}", headers=staff)).json()
    shown = [(m["text"], m.get("edit_of")) for m in detail["transcript"] if m["direction"] == "in"]
    assert shown == [("普洱茶保质期多久？", None), ("普洱茶保质期多久？存了十年的还能喝吗", original_id)]


async def test_a_photo_with_a_question_gets_the_answer_and_the_photo_is_kept(telegram):
    fake, client, settings = telegram
    rasa = use_fake_rasa(client.server.app)
    question = "普洱茶保质期多久？"
    typed = await replies_to(fake, lambda: fake.text(OTHER, question), 1, chat_id=OTHER)
    photo = b"\xff\xd8\xff\xe0 a photo of a tea cake"
    replies = await replies_to(fake, lambda: fake.attachment(CUSTOMER, "photo", photo, caption=question), 1)
    assert replies == typed  # the same answer the question gets typed, and nothing about pictures
    assert rasa.received == [question, question]
    text, status, payload = inbound(settings)[-1]
    assert (text, status) == (question, "received")
    assert payload["media"]["kind"] == "photo" and payload["captioned"] is True
    assert await (await client.get(payload["media"]["url"])).read() == photo
