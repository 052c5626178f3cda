"""The Telegram channel under abuse and failure, against the fake Bot API server: nothing dropped, nothing stalled.

A flood from one customer is stored whole and told once; Telegram's flood control on one chat holds only
that chat; a message or an announcement Telegram refuses is retried on its own, a bounded number of
times, while the others go on; new topics stay within their budget and the group within Telegram's
limit; attachments are fetched only after the checks, within a size cap and a daily quota.
"""

from __future__ import annotations

import time

from sqlalchemy import select

from core.db import Handoff, Message
from handoff.channels.telegram import customers, outbox, sending, webhook_secret
from handoff.channels.telegram.staff_group import ANNOUNCING, OVER_TOPIC_BUDGET
from tests.service.conftest import db_session
from tests.service.test_kb_admin import bearer
from tests.service.test_telegram import (  # noqa: F401 (telegram: the fixture)
    CUSTOMER, STAFF_GROUP, STAFF_MEMBER, claimed_by_staff, eventually, eventually_json, start_telegram, telegram,
    texts_to,
)

OTHER = 5559876
QUICK_RETRY_S = 0.2  # the first backoff in these tests (doubling: 0.2, 0.4, 0.8, 1.6 s)


def inbound(settings) -> list[tuple[str, str, dict]]:
    """The customers' messages as stored: text, status, attachment."""
    with db_session(settings) as session:
        return [(m.text, m.delivery_status, (m.payload or {}).get("media") or {})
                for m in session.scalars(select(Message).where(Message.direction == "in").order_by(Message.id))]


def kept_by(settings) -> list[str]:
    """For each message stored over a limit, which limit kept it (the console names it to staff)."""
    with db_session(settings) as session:
        return [(m.payload or {}).get("limit") for m in session.scalars(
            select(Message).where(Message.delivery_status == "limited").order_by(Message.id))]


def outbound(settings, author: str | None = None) -> list[tuple[str, str]]:
    """What the shop said, as stored: text and delivery status."""
    with db_session(settings) as session:
        query = select(Message).where(Message.direction == "out").order_by(Message.id)
        if author:
            query = query.where(Message.author == author)
        return [(m.text, m.delivery_status) for m in session.scalars(query)]


def none_pending(settings) -> bool:
    return all(status != "pending" for _text, status in outbound(settings))


async def test_a_burst_over_the_limit_is_stored_whole_and_told_once(aiohttp_server, aiohttp_client, settings,
                                                                    knowledge):
    fake, client, settings = await start_telegram(aiohttp_server, aiohttp_client,
                                                  settings.model_copy(update={"limit_customer_per_minute": 3}),
                                                  knowledge)
    burst = [f"第{n}条：在吗" for n in range(10)]
    for text in burst:
        fake.text(CUSTOMER, text)
    fake.voice(CUSTOMER, b"OggS-a-voice-note-over-the-limit")
    stored = await eventually(lambda: rows if len(rows := inbound(settings)) == 11 else None)
    await eventually(lambda: none_pending(settings))

    assert [text for text, _status, _media in stored] == [*burst, "[语音]"]
    assert [status for _text, status, _media in stored] == ["received"] * 3 + ["limited"] * 8
    assert kept_by(settings) == ["customer"] * 8
    assert not fake.downloads and not fake.sent("getFile")  # over the limit: the attachment is not fetched
    notices = [text for text in texts_to(fake, CUSTOMER) if "发得有点快" in text]
    assert len(notices) == 1 and "这条消息已经记下了" in notices[0]
    assert len([text for text in texts_to(fake, CUSTOMER) if "转给店员" in text]) == 1  # the first message's answer


async def test_flood_control_on_one_chat_holds_that_chat_only(aiohttp_server, aiohttp_client, settings, knowledge):
    fake, client, settings = await start_telegram(aiohttp_server, aiohttp_client, settings, knowledge)
    fake.flood_chat(CUSTOMER, 5)
    fake.text(CUSTOMER, "在吗")
    refused = (await eventually(lambda: fake.sent("sendMessage", CUSTOMER)))[0]
    assert refused["_refused"] == 429 and refused["_retry_after"] >= 3
    flood_ends = refused["_at"] + refused["_retry_after"]  # the time Telegram asked us to wait for
    fake.text(CUSTOMER, "/language")  # its handler shows a menu: it must not wait for the flood to end either
    fake.text(OTHER, "在吗")
    other = (await eventually(lambda: fake.delivered("sendMessage", OTHER)))[0]
    assert other["_at"] < flood_ends  # answered while the first chat waits out its flood control
    # the answer to 在吗 (sorry, the place), then the menu and, as the chat waits for staff, the place again
    mine = await eventually(lambda: found if len(found := fake.delivered("sendMessage", CUSTOMER)) == 4 else None)
    assert all(p["_at"] >= flood_ends for p in mine)
    assert [p["text"] for p in mine][::2] == [refused["text"], "请选择语言 / Choose a language:"]  # in order
    assert [p["_refused"] for p in fake.sent("sendMessage", CUSTOMER) if "_refused" in p] == [429]  # asked once


async def test_a_burst_to_one_customer_is_paced_while_another_customer_is_answered_at_once(telegram):
    """Staff send eight messages at once: the customer gets a short burst, then one a second (Telegram's pace
    for one chat, so it never has to ask), all in order; another customer who writes meanwhile is answered
    at once, not after them."""
    fake, client, settings = telegram
    staff, handoff = await claimed_by_staff(fake, client, "我想问问腊肉")
    burst = [f"第{n}句：腊肉是今年冬天熏的" for n in range(8)]
    for text in burst:
        assert (await client.post(f"/api/conversations/{handoff['conversation_id']}/messages", json={"text": text},
                                  headers=staff)).status == 201
    written = time.monotonic()
    fake.text(OTHER, "在吗")
    await eventually(lambda: burst[-1] in texts_to(fake, CUSTOMER), timeout=20)

    sends = fake.delivered(chat_id=CUSTOMER)  # the handoff's notice and 店员已接入 too: one chat, one pace
    assert [p["text"] for p in sends if p["text"] in burst] == burst
    times = [p["_at"] for p in sends]
    paced = [later - earlier for earlier, later in zip(times, times[outbox.PRIVATE_CHAT_BURST:])]
    assert all(gap >= 0.9 * outbox.PRIVATE_CHAT_INTERVAL_S for gap in paced)  # never more than a burst at once
    assert not [p for p in fake.sent(chat_id=CUSTOMER) if "_refused" in p]
    other = (await eventually(lambda: fake.delivered("sendMessage", OTHER)))[0]
    assert other["_at"] - written < 1.5 and other["_at"] < sends[-1]["_at"]  # not held behind the first chat


async def test_a_refused_message_is_retried_on_its_own_then_failed_while_the_next_go_out(telegram, monkeypatch):
    monkeypatch.setattr(sending, "RETRY_BASE_S", QUICK_RETRY_S)
    fake, client, settings = telegram
    staff, handoff = await claimed_by_staff(fake, client, "我想问问腊肉")
    fake.refused.add("这条坏了")
    for text in ("腊肉是今年冬天熏的", "这条坏了发不出去", "一斤八十"):
        response = await client.post(f"/api/conversations/{handoff['conversation_id']}/messages", json={"text": text},
                                     headers=staff)
        assert response.status == 201
    await eventually(lambda: none_pending(settings), timeout=15)

    assert outbound(settings, "staff") == [("腊肉是今年冬天熏的", "sent"), ("这条坏了发不出去", "failed"),
                                           ("一斤八十", "sent")]
    tries = [p for p in fake.sent("sendMessage", CUSTOMER) if p["text"] == "这条坏了发不出去"]
    assert len(tries) == sending.DELIVERY_ATTEMPTS  # bounded
    gaps = [later["_at"] - earlier["_at"] for earlier, later in zip(tries, tries[1:])]
    assert all(gap >= 0.9 * QUICK_RETRY_S * 2 ** n for n, gap in enumerate(gaps))  # with a growing backoff
    after = next(p for p in fake.delivered("sendMessage", CUSTOMER) if p["text"] == "一斤八十")
    assert after["_at"] < tries[-1]["_at"]  # the next message went out while the refused one was still retried
    assert texts_to(fake, CUSTOMER)[-2:] == ["腊肉是今年冬天熏的", "一斤八十"]


async def test_a_failing_announcement_is_retried_on_its_own_and_the_others_are_posted(telegram, monkeypatch):
    monkeypatch.setattr(sending, "RETRY_BASE_S", QUICK_RETRY_S)
    fake, client, settings = telegram
    fake.refused.add("坏名字")  # Telegram refuses this customer's topic (and card)
    fake.text(CUSTOMER, "在吗", name="坏名字")
    fake.text(OTHER, "在吗", name="小李")
    card = await eventually(lambda: next((p for p in fake.delivered("sendMessage", STAFF_GROUP)
                                          if "小李" in p["text"] and "reply_markup" in p), None))

    def given_up() -> dict | None:
        with db_session(settings) as session:
            return next((h.context[ANNOUNCING] for h in session.scalars(select(Handoff))
                         if h.context.get(ANNOUNCING, {}).get("failed")), None)
    record = await eventually(given_up, timeout=15)
    tries = [p for p in fake.sent("createForumTopic") if "坏名字" in p["name"]]
    assert len(tries) == record["tries"] == sending.DELIVERY_ATTEMPTS and "parse entities" in record["error"]
    assert card["_at"] < tries[-1]["_at"]  # the other customer's card did not wait for the failing one
    assert not [p for p in fake.sent("sendMessage", STAFF_GROUP) if "坏名字" in p["text"]]  # no card without its topic


async def test_a_staff_group_the_bot_cannot_post_to_shows_in_healthz_while_customers_are_answered(telegram):
    """The bot is removed from the staff group after its first card: /healthz says the group is failing, with
    Telegram's words, and the shop is degraded; customers' chats go on (replies from the console arrive)."""
    fake, client, settings = telegram
    staff = bearer(client, "xiaoli", "staff")
    fake.text(OTHER, "在吗", name="小李")
    await eventually(lambda: [p for p in fake.delivered("sendMessage", STAFF_GROUP) if "小李" in p["text"]])
    assert (await (await client.get("/healthz")).json())["telegram"]["staff_group"] == "ok"
    fake.removed_from.add(STAFF_GROUP)
    fake.text(CUSTOMER, "紫砂壶能开发票吗", name="小王")
    health = await eventually_json(client, "/healthz", {}, lambda body: body["telegram"]["staff_group"] == "failing")
    assert health["status"] == "degraded"
    assert health["telegram"]["staff_group_error"] == "Forbidden: bot was kicked from the supergroup chat"
    assert not [p for p in fake.delivered("sendMessage", STAFF_GROUP) if "紫砂壶" in p["text"]]

    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    handoff = next(h for h in queue if h["customer"] == "小王")
    assert (await client.post(f"/api/handoffs/{handoff['id']}/claim", headers=staff)).status == 200
    assert (await client.post(f"/api/conversations/{handoff['conversation_id']}/messages",
                              json={"text": "可以开，下单时备注抬头"}, headers=staff)).status == 201
    await eventually(lambda: "可以开，下单时备注抬头" in texts_to(fake, CUSTOMER))
    health = await eventually_json(client, "/healthz", {}, lambda body: not body["telegram"]["pending_messages"])
    assert health["telegram"]["failed_messages"] == 0


async def test_over_the_topic_budget_cards_go_to_the_general_thread_within_the_groups_limit(
        aiohttp_server, aiohttp_client, settings, knowledge, monkeypatch):
    monkeypatch.setattr(outbox, "GROUP_CALLS", (4, 2.0))  # the group's limit, scaled down to seconds
    monkeypatch.setattr(outbox, "GROUP_BURST", 2)
    fake, client, settings = await start_telegram(aiohttp_server, aiohttp_client,
                                                  settings.model_copy(update={"limit_topics_per_minute": 2}),
                                                  knowledge)
    fake.group_limit = (4, 2.0)  # and the fake answers 429 past it, as Telegram does
    customers_ = [CUSTOMER + n for n in range(4)]
    for n, customer in enumerate(customers_):
        fake.text(customer, "在吗", name=f"顾客{n}")
    cards = await eventually(lambda: found if len(found := [p for p in fake.delivered("sendMessage", STAFF_GROUP)
                                                              if "reply_markup" in p]) == 4 else None, timeout=20)

    assert len(fake.delivered("createForumTopic")) == 2
    in_topics = [card for card in cards if card.get("message_thread_id")]
    general = [card for card in cards if not card.get("message_thread_id")]
    assert len(in_topics) == 2 and len(general) == 2
    assert all(OVER_TOPIC_BUDGET in card["text"] for card in general)
    assert not [p for p in fake.sent(chat_id=STAFF_GROUP) if "_refused" in p]  # Telegram never had to ask

    card = general[0]  # claimed and answered in the general thread, by replying to the card
    fake.press(STAFF_MEMBER, card["_result"], card["reply_markup"]["inline_keyboard"][0][0]["callback_data"])
    await eventually(lambda: fake.delivered("editMessageText"))
    customer = customers_[[f"顾客{n}" in card["text"] for n in range(4)].index(True)]
    fake.text(STAFF_MEMBER, "您好，我来帮您看看", chat_id=STAFF_GROUP, reply_to_message=card["_result"])
    await eventually(lambda: "您好，我来帮您看看" in texts_to(fake, customer))


async def test_an_attachment_over_the_size_cap_is_refused_without_being_fetched(telegram, monkeypatch):
    monkeypatch.setattr(customers, "MAX_MEDIA_BYTES", 100)
    fake, client, settings = telegram
    fake.voice(CUSTOMER, b"x" * 200)  # the update says how large: not even asked for
    fake.voice(CUSTOMER, b"y" * 200, declared=False)  # it does not: asked for, never downloaded
    refusals = await eventually(
        lambda: found if len(found := [t for t in texts_to(fake, CUSTOMER) if "文件太大了" in t]) == 2 else None)

    assert refusals[0].startswith("这个文件太大了")
    assert len(fake.sent("getFile")) == 1 and not fake.downloads
    assert inbound(settings) == [("[语音]（文件过大，未接收）", "limited", {})] * 2
    assert kept_by(settings) == ["media", "media"]


async def test_a_redelivered_attachment_is_not_fetched_again_and_the_daily_quota_holds(telegram, monkeypatch):
    monkeypatch.setattr(customers, "MEDIA_BYTES_PER_DAY", 250)
    fake, client, settings = telegram
    update = {"update_id": 900100, **fake.voice_update(CUSTOMER, b"a" * 100)}
    for _ in range(2):  # Telegram delivers again when it did not see our answer in time
        response = await client.post("/telegram/webhook", json=update,
                                     headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret(settings)})
        assert response.status == 200
    fake.voice(CUSTOMER, b"b" * 100)  # 200 bytes today: within the quota
    fake.voice(CUSTOMER, b"c" * 100)  # 300: over it
    refusal = await eventually(lambda: next((t for t in texts_to(fake, CUSTOMER) if "文件已经很多了" in t), None))

    assert refusal.startswith("今天收到您的文件已经很多了")
    assert sorted(fake.downloads) == ["files/voice0", "files/voice1"] and len(fake.sent("getFile")) == 2
    stored = inbound(settings)
    assert [(text, status) for text, status, _media in stored] == [
        ("[语音]", "received"), ("[语音]", "received"), ("[语音]（超过今日文件额度，未接收）", "limited")]
    assert [media.get("bytes") for _text, _status, media in stored] == [100, 100, None]
    for _text, _status, media in stored[:2]:
        assert (await (await client.get(media["url"])).read()) in (b"a" * 100, b"b" * 100)



async def test_healthz_answers_when_the_telegram_deliveries_cannot_be_read(telegram, monkeypatch):
    """A health check that fails with the database would tell a load balancer nothing: it says the Telegram
    state is unknown (and the shop degraded, which Rasa being down here says anyway)."""
    from handoff.channels import telegram as telegram_channel

    async def database_gone(_channel):
        raise ConnectionError("the database went away")
    monkeypatch.setattr(telegram_channel, "delivery_state", database_gone)
    _fake, client, _settings = telegram
    response = await client.get("/healthz")
    health = await response.json()
    assert response.status == 200 and health["telegram"] == {"staff_group": "unknown"}
