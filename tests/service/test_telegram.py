"""The Telegram channel against a fake Bot API server on 127.0.0.1 (python-telegram-bot's base_url).

Rasa is down in this tier, so every customer message is handed to staff: these tests cover the
channel's own duties. The bot's answers over Telegram are in tests/e2e/test_channel_telegram.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select
from telegram.constants import MessageLimit

from handoff.channels.telegram import outbox, webhook_secret
from techan.app import create_app
from core.accounts import add_staff
from core.db import Message, StaffAccount
from tests.fake_telegram import TOKEN, FakeBotAPI
from tests.service.conftest import db_session, migrated_demo_shop
from tests.service.test_kb_admin import bearer

CUSTOMER = 5551234
STAFF_GROUP = -1001234
STAFF_MEMBER = 7770001
OTHER_MEMBER = 7770002


async def eventually(check, timeout: float = 10.0):
    """Wait (bounded) until ``check()`` returns something truthy, and return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting for the Telegram channel")


@pytest.fixture
async def telegram(aiohttp_server, aiohttp_client, settings, knowledge):
    return await start_telegram(aiohttp_server, aiohttp_client, settings, knowledge)


async def start_telegram(aiohttp_server, aiohttp_client, settings, knowledge):
    """The app with its Telegram channel pointed at a fake Bot API server: (fake, client, settings)."""
    fake = FakeBotAPI()
    fake.forum_chats.add(STAFF_GROUP)
    server = await aiohttp_server(fake.app())
    settings = settings.model_copy(update={"telegram_token": TOKEN, "telegram_staff_chat": str(STAFF_GROUP),
                                           "telegram_api_url": f"http://127.0.0.1:{server.port}/bot"})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    return fake, client, settings


async def claimed_by_staff(fake: FakeBotAPI, client, text: str) -> tuple[dict[str, str], dict]:
    """A customer writes (Rasa is down: the chat goes to staff) and a staff member claims it: (their auth, handoff)."""
    staff = bearer(client, "xiaoli", "staff")
    fake.text(CUSTOMER, text)
    await eventually(lambda: texts_to(fake, CUSTOMER))
    handoff = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    assert (await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    return staff, handoff


def texts_to(fake: FakeBotAPI, chat_id: int) -> list[str]:
    """What the chat shows: the texts and captions of the calls the server took."""
    return [p.get("text") or p.get("caption") or "" for p in fake.delivered(chat_id=chat_id)
            if "text" in p or "caption" in p]


async def test_a_customer_message_is_stored_and_answered_in_their_chat(telegram, settings):
    fake, client, settings = telegram
    await eventually(lambda: fake.polls)  # long polling by default
    fake.text(CUSTOMER, "普洱茶保质期多久？")
    replies = await eventually(lambda: texts_to(fake, CUSTOMER))
    assert "转给店员" in replies[0]  # Rasa is down here: the polite handoff message
    with db_session(settings) as session:
        stored = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert [m.text for m in stored] == ["普洱茶保质期多久？"] and stored[0].channel == "telegram"


async def test_language_switches_to_english_and_later_answers_follow_it(telegram):
    fake, client, settings = telegram
    fake.text(CUSTOMER, "/language")
    menu = await eventually(lambda: next((p for p in fake.sent("sendMessage", CUSTOMER)
                                          if "Choose a language" in p["text"]), None))
    fake.press(CUSTOMER, menu["_result"], "lang:en")
    await eventually(lambda: any(t.startswith("OK, I'll answer in English") for t in texts_to(fake, CUSTOMER)))
    fake.text(CUSTOMER, "300")  # says nothing about language: the chosen one holds
    assert (await eventually(lambda: [t for t in texts_to(fake, CUSTOMER) if "assistant is busy" in t]))


async def test_a_message_of_telegrams_full_length_is_kept_whole(telegram):
    fake, client, settings = telegram
    longest = "岩茶" * (MessageLimit.MAX_TEXT_LENGTH // 2)  # 4,096 characters, the most Telegram sends
    fake.text(CUSTOMER, longest)
    await eventually(lambda: texts_to(fake, CUSTOMER))
    with db_session(settings) as session:
        assert session.scalars(select(Message.text).where(Message.direction == "in")).all() == [longest]


async def test_webhook_refuses_a_wrong_secret_and_handles_a_repeated_update_once(telegram):
    fake, client, settings = telegram
    update = {"update_id": 900001, "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": CUSTOMER, "type": "private", "first_name": "王"},
        "from": {"id": CUSTOMER, "is_bot": False, "first_name": "王"}, "text": "在吗，想问问大红袍"}}
    for header in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
        assert (await client.post("/telegram/webhook", json=update, headers=header)).status == 403
    good = {"X-Telegram-Bot-Api-Secret-Token": webhook_secret(settings)}
    for _ in range(2):  # Telegram delivers again when it did not see our answer in time
        assert (await client.post("/telegram/webhook", json=update, headers=good)).status == 200
    await eventually(lambda: texts_to(fake, CUSTOMER))
    await asyncio.sleep(1.0)  # time for a second (wrong) processing to show
    with db_session(settings) as session:
        assert [m.text for m in session.scalars(select(Message).where(Message.direction == "in"))] == ["在吗，想问问大红袍"]
    assert len([t for t in texts_to(fake, CUSTOMER) if "转给店员" in t]) == 1


async def test_voice_note_reaches_the_console_and_the_staff_reply_goes_back(telegram):
    fake, client, settings = telegram
    staff = bearer(client, "xiaoli", "staff")
    fake.text(CUSTOMER, "我想问问腊肉")
    await eventually(lambda: texts_to(fake, CUSTOMER))
    voice = b"OggS\x00fake-voice-note-bytes"
    fake.voice(CUSTOMER, voice)
    handoff = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"][0]
    detail = await eventually_json(client, f"/api/conversations/{handoff['conversation_id']}", staff,
                                   lambda d: any(m.get("media") for m in d["transcript"]))
    media = next(m["media"] for m in detail["transcript"] if m.get("media"))
    assert media["kind"] == "voice" and media["url"].endswith(".oga")
    assert await (await client.get(media["url"])).read() == voice

    await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)
    await client.post(f"/api/conversations/{handoff['conversation_id']}/messages", json={"text": "腊肉是今年冬天熏的"},
                      headers=staff)
    await eventually(lambda: "腊肉是今年冬天熏的" in texts_to(fake, CUSTOMER))
    # the status is stored once Telegram's answer to sendMessage is back, a moment after the customer has the text
    await eventually_json(client, f"/api/conversations/{handoff['conversation_id']}", staff, lambda d: [
        m["delivery_status"] for m in d["transcript"] if m["author"] == "staff"] == ["sent"])


async def eventually_json(client, path, headers, check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = await (await client.get(path, headers=headers)).json()
        if check(data):
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never met the condition")


async def test_staff_group_gets_a_card_claims_it_and_answers_in_the_topic(telegram):
    fake, client, settings = telegram
    staff = bearer(client, "boss", "owner")
    fake.text(CUSTOMER, "紫砂壶能开发票吗")
    card = await eventually(lambda: next((p for p in fake.sent("sendMessage", STAFF_GROUP)
                                          if "reply_markup" in p), None))
    assert "紫砂壶能开发票吗" in card["text"] and fake.sent("createForumTopic")
    claim_button = card["reply_markup"]["inline_keyboard"][0][0]
    fake.press(STAFF_MEMBER, card["_result"], claim_button["callback_data"])
    await eventually(lambda: fake.sent("editMessageText"))
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert queue[0]["state"] == "assigned" and queue[0]["claimed_by"].startswith("tg-")

    await eventually(lambda: "店员 小王 已接入，为您服务。" in texts_to(fake, CUSTOMER))  # by her Telegram name

    thread = card["_result"]["message_thread_id"]
    fake.text(STAFF_MEMBER, "可以开，下单时备注抬头就好", chat_id=STAFF_GROUP, message_thread_id=thread)
    await eventually(lambda: "可以开，下单时备注抬头就好" in texts_to(fake, CUSTOMER))


async def test_flood_control_is_answered_by_waiting_as_long_as_telegram_asks(telegram):
    fake, client, settings = telegram
    fake.flood["sendMessage"] = 1
    fake.text(CUSTOMER, "你好")
    await eventually(lambda: fake.delivered("sendMessage", CUSTOMER))
    first, second = fake.sent("sendMessage", CUSTOMER)[:2]
    assert first["_refused"] == 429 and "_refused" not in second
    assert first["text"] == second["text"]  # the same message, sent again
    assert second["_at"] - first["_at"] >= 1.0  # not before the 1 s Telegram asked for had passed


async def test_a_staff_picture_reaches_the_customer_as_a_photo(telegram):
    from aiohttp import FormData

    from tests.service.test_staff_tools import tiny_png

    fake, client, settings = telegram
    staff, handoff = await claimed_by_staff(fake, client, "茶饼能看看实物照片吗")
    form = FormData()
    form.add_field("text", "这是今天拍的")
    form.add_field("image", tiny_png(), filename="cake.png", content_type="image/png")
    assert (await client.post(f"/api/conversations/{handoff['conversation_id']}/messages", data=form,
                              headers=staff)).status == 201
    photo = await eventually(lambda: fake.sent("sendPhoto", CUSTOMER))
    assert photo[0]["photo"]["size"] == len(tiny_png())
    await eventually(lambda: "这是今天拍的" in texts_to(fake, CUSTOMER))


async def test_webhook_mode_registers_the_secret_and_takes_updates_only_with_it(aiohttp_server, aiohttp_client,
                                                                               settings, knowledge):
    fake = FakeBotAPI()
    server = await aiohttp_server(fake.app())
    settings = settings.model_copy(update={"telegram_token": TOKEN, "public_url": "https://shop.example.com",
                                           "telegram_api_url": f"http://127.0.0.1:{server.port}/bot"})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    registered = fake.sent("setWebhook")
    assert registered[0]["url"] == "https://shop.example.com/telegram/webhook"
    assert registered[0]["secret_token"] == webhook_secret(settings)
    assert fake.polls == 0  # no polling in webhook mode
    update = {"update_id": 77, "message": {
        "message_id": 1, "date": int(time.time()), "chat": {"id": CUSTOMER, "type": "private", "first_name": "王"},
        "from": {"id": CUSTOMER, "is_bot": False, "first_name": "王"}, "text": "你好"}}
    assert (await client.post("/telegram/webhook", json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": "x" * 48})).status == 403
    assert (await client.post("/telegram/webhook", json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": registered[0]["secret_token"]})).status == 200
    await eventually(lambda: texts_to(fake, CUSTOMER))


async def eventually_paced(check):
    """As ``eventually``, for what waits its turn in the staff group's pace."""
    return await eventually(check, timeout=60.0)


def card_edits(fake: FakeBotAPI, card: dict) -> list[dict]:
    """The edits of one staff-group card, oldest first."""
    return [p for p in fake.sent("editMessageText", STAFF_GROUP)
            if str(p.get("message_id")) == str(card["_result"]["message_id"])]


def buttons_of(params: dict) -> list[str]:
    return [b["text"] for row in (params.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def test_the_staff_group_is_a_desk_the_card_follows_the_chat_and_one_topic_keeps_the_customer(telegram):
    """Claimed, resolved from the topic, written to after the end, back again, cancelled: the card says each
    step with the buttons that fit it, and every handoff of the customer lands in their one topic. The group's
    calls are paced (a burst of 5, then one every 4 s), so the waits below are long."""
    fake, client, settings = telegram
    fake.text(CUSTOMER, "紫砂壶能开发票吗")
    card = await eventually_paced(lambda: next((p for p in fake.sent("sendMessage", STAFF_GROUP)
                                          if "reply_markup" in p), None))
    assert "（机器人不可用）" in card["text"] and "bot_unavailable" not in card["text"]  # the reason in Chinese
    assert buttons_of(card) == ["认领 Claim"]
    thread = card["_result"]["message_thread_id"]
    fake.text(STAFF_MEMBER, "/help", chat_id=STAFF_GROUP, message_thread_id=thread)  # no business of the customer's
    fake.text(STAFF_MEMBER, "/resolve", chat_id=STAFF_GROUP, message_thread_id=thread)  # not served yet: refused
    await eventually_paced(lambda: "请先点“认领”" in [p["text"] for p in fake.sent("sendMessage", STAFF_GROUP)])
    assert "/help" not in texts_to(fake, CUSTOMER) and not card_edits(fake, card)

    fake.press(STAFF_MEMBER, card["_result"], card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    claimed = await eventually_paced(lambda: card_edits(fake, card))
    assert claimed[-1]["text"].endswith("\n\n✅ 由 小王 接待")
    assert buttons_of(claimed[-1]) == ["结束服务 Resolve", "转给… Transfer"]

    fake.text(STAFF_MEMBER, "/resolve", chat_id=STAFF_GROUP, message_thread_id=thread)
    await eventually_paced(lambda: any(text.startswith("店员已结束本次服务") for text in texts_to(fake, CUSTOMER)))
    ended = await eventually_paced(lambda: (lambda edits: edits if len(edits) >= 2 else None)(card_edits(fake, card)))
    assert ended[-1]["text"].endswith("\n\n☑️ 已结束（小王 接待）") and buttons_of(ended[-1]) == []
    assert "在这里回复" in claimed[-1]["text"] and "在这里回复" not in ended[-1]["text"]  # no longer invites replies
    assert "已结束服务，顾客会收到评价邀请" in [p["text"] for p in fake.sent("sendMessage", STAFF_GROUP)]

    fake.text(STAFF_MEMBER, "还有别的需要吗", chat_id=STAFF_GROUP, message_thread_id=thread)  # the chat is over
    await eventually_paced(lambda: any(p["text"].startswith("这个对话已经结束") for p in fake.sent("sendMessage", STAFF_GROUP)))
    assert "还有别的需要吗" not in texts_to(fake, CUSTOMER)

    fake.text(CUSTOMER, "我又想问问岩茶")  # back again: a new card, in the same topic
    again = await eventually_paced(lambda: next((p for p in fake.sent("sendMessage", STAFF_GROUP)
                                           if "reply_markup" in p and p is not card), None))
    assert again["message_thread_id"] == str(thread) or int(again["message_thread_id"]) == thread
    assert len(fake.sent("createForumTopic")) == 1
    fake.text(CUSTOMER, "/cancel")
    cancelled = await eventually_paced(lambda: card_edits(fake, again))
    assert cancelled[-1]["text"].endswith("\n\n↩️ 顾客取消了，回到机器人") and buttons_of(cancelled[-1]) == []


async def test_what_the_customer_sends_after_the_card_appears_in_their_topic(telegram):
    """Texts, a voice note and an edit after the handoff reach the group's topic as they arrive (before, only the
    card's summary was there, while the customer was told 「您的消息店员都能看到」)."""
    fake, client, settings = telegram
    fake.text(CUSTOMER, "紫砂壶能开发票吗")
    card = await eventually(lambda: next((p for p in fake.sent("sendMessage", STAFF_GROUP)
                                          if "reply_markup" in p), None))
    thread = card["_result"]["message_thread_id"]
    fake.text(CUSTOMER, "要增值税专用发票")
    fake.voice(CUSTOMER, b"OggS\x00a-voice-note")
    in_topic = await eventually(lambda: (lambda shown: shown if len(shown) >= 2 else None)(
        [p for p in fake.delivered(chat_id=STAFF_GROUP) if p is not card and str(p.get("message_thread_id")) == str(thread)
         and (p.get("text") or p.get("caption") or "").startswith("顾客：")]))
    assert [p.get("text") or p.get("caption") for p in in_topic] == ["顾客：要增值税专用发票", "顾客：[语音]"]
    assert in_topic[1]["voice"]["size"] == len(b"OggS\x00a-voice-note")  # the voice note itself
    assert "紫砂壶能开发票吗" not in [p.get("text") for p in in_topic]  # the card's summary has it already
    await asyncio.sleep(1.0)
    assert len([p for p in fake.delivered(chat_id=STAFF_GROUP) if (p.get("text") or "").startswith("顾客：要增值税")]) == 1


async def test_the_holder_transfers_a_chat_from_the_staff_group_to_a_colleague(telegram, monkeypatch):
    """转给… on a claimed card lists the colleagues by the names customers know them by; pressing one passes the
    chat through the desk: the customer is told who serves them now, the card says who has it. Someone else
    in the group cannot. (The group's pace is scaled down: the flow takes a dozen calls there.)"""
    monkeypatch.setattr(outbox, "GROUP_CALLS", (60, 6.0))
    fake, client, settings = telegram
    with db_session(settings) as session:
        colleague = add_staff(session, "xiaoli", "staff", "correct horse battery", display_name="小李")
        session.commit()
        colleague_id = colleague.id
    fake.text(CUSTOMER, "紫砂壶能开发票吗")
    card = await eventually(lambda: next((p for p in fake.sent("sendMessage", STAFF_GROUP)
                                          if "reply_markup" in p), None))
    handoff_id = card["reply_markup"]["inline_keyboard"][0][0]["callback_data"].removeprefix("claim:")
    fake.press(STAFF_MEMBER, card["_result"], f"claim:{handoff_id}")
    await eventually(lambda: card_edits(fake, card))

    fake.press(OTHER_MEMBER, card["_result"], f"transfer:{handoff_id}")  # not theirs to pass on
    await eventually(lambda: answers(fake, "只有接待的店员可以转给别人"))
    fake.press(STAFF_MEMBER, card["_result"], f"transfer:{handoff_id}")
    menu = await eventually(lambda: fake.delivered("editMessageReplyMarkup", STAFF_GROUP))
    assert len(menu) == 1 and "小李" in buttons_of(menu[0]) and buttons_of(menu[0])[-1] == "返回 Back"
    pressable = {b["text"]: b["callback_data"] for row in menu[0]["reply_markup"]["inline_keyboard"] for b in row}
    with db_session(settings) as session:
        holder = session.scalar(select(StaffAccount.id).where(StaffAccount.name == f"tg-{STAFF_MEMBER}"))
    assert f"transfer:{handoff_id}:{holder}" not in pressable.values()  # not to the one who has it
    choice = pressable["小李"]
    assert choice == f"transfer:{handoff_id}:{colleague_id}" and len(choice.encode()) <= 64

    fake.press(STAFF_MEMBER, card["_result"], choice)
    told = "已为您转给店员 小李，TA 会接着为您服务。"
    await eventually(lambda: told in texts_to(fake, CUSTOMER))
    moved = await eventually(lambda: [p for p in card_edits(fake, card) if p["text"].endswith("✅ 由 小李 接待")])
    assert buttons_of(moved[-1]) == ["结束服务 Resolve", "转给… Transfer"]
    assert answers(fake, "已转给 小李") and texts_to(fake, CUSTOMER).count(told) == 1
    notice = "↪️ 这个对话已转给 小李，请 小李 接着回复顾客。"  # a card's edit notifies nobody; a message does
    thread = card["_result"]["message_thread_id"]
    await eventually(lambda: [p for p in fake.delivered("sendMessage", STAFF_GROUP)
                              if p["text"] == notice and str(p.get("message_thread_id")) == str(thread)])

    fake.text(STAFF_MEMBER, "我再补充一句", chat_id=STAFF_GROUP, message_thread_id=thread)  # not theirs any more
    held = "这个对话现在由 小李 接待，您的消息没有发给顾客。"
    await eventually(lambda: [p for p in fake.delivered("sendMessage", STAFF_GROUP) if p["text"] == held])
    assert "我再补充一句" not in texts_to(fake, CUSTOMER)


def answers(fake: FakeBotAPI, text: str) -> list[dict]:
    """The callback answers (the note over the pressed button) that say ``text``."""
    return [p for p in fake.delivered("answerCallbackQuery") if p.get("text") == text]
