"""Abuse limits on the web chat: each trips at its count and not before, the message over it is stored
and never answered by the bot, the customer is told once per window, and a flood of 转人工 from one
address cannot fill the staff queue while customers elsewhere chat on.

Every simulated customer has a client of its own (its own cookie jar), as a browser would.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import aiohttp
import pytest
from sqlalchemy import select

from actions.handoff import HANDOFF_TEXT
from core.bot_payload import HandoffReason
from core.db import Conversation, ConversationEvent, Customer, Message
from handoff import limits
from handoff.router import ROUTER
from tests.service.conftest import db_session, migrated_demo_shop
from tests.service.fake_rasa import use_fake_rasa
from tests.service.test_kb_admin import bearer
from techan.app import create_app
from web.keys import LIMITS
from tests.conftest import Clock

PUER = "普洱茶保质期多久？"
CONNECTING = HANDOFF_TEXT[HandoffReason.CUSTOMER_REQUEST].to("zh")
HANDOFFS_FULL = limits.HANDOFFS_FULL_TEXT.to("zh")
FAST = "您发得有点快，请 {} 秒后再发。这条消息已经记下了。"
NETWORK = "您所在的网络现在发来的消息太多，请 {} 秒后再发。这条消息已经记下了。"


@pytest.fixture
def settings(settings):
    """Small limits, so each trips within a test; the test client's own address is the trusted proxy."""
    return settings.model_copy(update=dict(
        limit_customer_per_minute=3, limit_address_per_minute=8, limit_new_customers_per_hour=5,
        limit_open_handoffs_per_address=2, trusted_proxies="127.0.0.1"))


@pytest.fixture
async def shop(client):
    """The app with the fake Rasa (the real actions behind it) and a clock the limits run on."""
    fake = use_fake_rasa(client.server.app)
    clock = Clock()
    client.server.app[LIMITS].clock = clock
    return client, fake, clock


@pytest.fixture
async def customers(shop):
    """Make a customer: its own HTTP client (cookie jar), from its own address (X-Forwarded-For) or the peer's."""
    client = shop[0]
    async with AsyncExitStack() as stack:
        async def make(sender: str, address: str | None = None) -> Chat:
            session = await stack.enter_async_context(aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)))
            return Chat(session, str(client.make_url(f"/api/chat/{sender}")), address)
        yield make


class Chat:
    def __init__(self, session: aiohttp.ClientSession, url: str, address: str | None) -> None:
        self.session, self.url = session, url
        self.headers = {"X-Forwarded-For": address} if address else {}

    async def say(self, text: str) -> tuple[dict, str | None]:
        """The answer's JSON and its Retry-After header."""
        body = {"payload": text} if text.startswith("/") else {"text": text}
        async with self.session.post(self.url, json=body, headers=self.headers) as response:
            assert response.status == 200, await response.text()
            return await response.json(), response.headers.get("Retry-After")


def texts(answer: dict) -> list[str]:
    return [reply["text"] for reply in answer["replies"]]


def stored(settings, sender: str) -> list[tuple[str, str, str]]:
    """(direction, text, delivery status) of everything stored for a web customer, in order."""
    with db_session(settings) as session:
        return [(m.direction, m.text, m.delivery_status) for m in session.scalars(
            select(Message).join(Conversation).join(Customer)
            .where(Customer.external_id == sender).order_by(Message.id))]


async def test_the_customer_limit_trips_at_its_count_stores_the_message_and_tells_once(shop, customers, settings,
                                                                                       caplog):
    _client, fake, clock = shop
    caplog.set_level(logging.WARNING, logger="handoff.limits")
    chat = await customers("web-fast")
    for _ in range(3):
        answer, retry_after = await chat.say(PUER)
        assert "limited" not in answer and retry_after is None and texts(answer)[0].startswith("普洱茶")
    answer, retry_after = await chat.say("在吗")
    assert answer["limited"] is True and retry_after == "20" and answer["retry_after"] == 20
    assert texts(answer) == [FAST.format(20)]
    for text in ("在吗在吗", "快回答"):  # within the window: stored, no more notices
        answer, retry_after = await chat.say(text)
        assert answer["limited"] is True and answer["replies"] == [] and retry_after == "20"
    assert fake.received == [PUER] * 3
    rows = stored(settings, "web-fast")
    assert [row for row in rows if row[0] == "in"][3:] == [
        ("in", "在吗", "limited"), ("in", "在吗在吗", "limited"), ("in", "快回答", "limited")]
    assert [text for direction, text, _ in rows if direction == "out"][3:] == [FAST.format(20)]
    trips = [r.getMessage() for r in caplog.records if "limit customer spent" in r.getMessage()]
    assert len(trips) == 1 and "在吗" not in trips[0]  # one line per window, no message text

    # the pending sweep never gives the stored messages to the bot, not even once it has time
    await shop[0].server.app[ROUTER].sweep()
    assert fake.received == [PUER] * 3

    clock.now += 20  # one message's worth of allowance back
    answer, _ = await chat.say(PUER)
    assert "limited" not in answer and texts(answer)[0].startswith("普洱茶")
    clock.now += 60  # a new window: over again, told again (once)
    for _ in range(3):
        await chat.say(PUER)
    answer, _ = await chat.say("喂")
    assert texts(answer) == [FAST.format(20)]
    assert len([r for r in caplog.records if "limit customer spent" in r.getMessage()]) == 2


async def test_the_address_limit_counts_every_customer_of_one_address(shop, customers, settings):
    _client, fake, _clock = shop
    first, second = await customers("web-a1", "203.0.113.7"), await customers("web-a2", "203.0.113.7")
    elsewhere = await customers("web-b1", "198.51.100.9")
    for _ in range(3):
        await first.say(PUER)
    for _ in range(3):
        await second.say(PUER)
    await first.say("/request_human")  # the fourth message of web-a1 is over its own limit, not the address's
    answer, _ = await second.say("这个呢")
    assert texts(answer) == [FAST.format(20)]
    # 8 counted from 203.0.113.7 (three each, and two over the customer limit that the address counted first)
    third = await customers("web-a3", "203.0.113.7")
    answer, retry_after = await third.say(PUER)
    assert answer["limited"] is True and retry_after == "8" and texts(answer) == [NETWORK.format(8)]
    answer, _ = await elsewhere.say(PUER)  # another address is not affected
    assert "limited" not in answer and texts(answer)[0].startswith("普洱茶")
    assert stored(settings, "web-a3") == [("in", PUER, "limited"), ("out", NETWORK.format(8), "sent")]
    assert len(fake.received) == 7


@pytest.mark.parametrize(("proxies", "limited", "addresses"), [
    ("", [False] * 5 + [True] * 4, {"127.0.0.1"}),  # the header is the client's own word: all one address
    ("127.0.0.1", [False] * 9, {f"192.0.2.{number}" for number in range(9)}),  # a trusted proxy's word is taken
])
async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(aiohttp_client, settings, knowledge, proxies,
                                                                   limited, addresses):
    settings = settings.model_copy(update=dict(trusted_proxies=proxies))
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    use_fake_rasa(client.server.app)
    answers = []
    for number in range(9):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            response = await session.post(client.make_url(f"/api/chat/web-x{number}"), json={"text": PUER},
                                          headers={"X-Forwarded-For": f"192.0.2.{number}"})
            answers.append(await response.json())
    assert ["limited" in answer for answer in answers] == limited
    with db_session(settings) as session:
        assert set(session.scalars(select(Customer.client_address))) == addresses


async def test_new_customers_per_address_trip_at_their_count_known_ones_carry_on(shop, customers, settings):
    _client, fake, clock = shop
    regular = await customers("web-regular", "203.0.113.50")
    await regular.say(PUER)
    newcomers = [await customers(f"web-n{number}", "203.0.113.50") for number in range(5)]
    answers = [(await chat.say(PUER))[0] for chat in newcomers]
    assert ["limited" in answer for answer in answers] == [False] * 4 + [True]
    assert texts(answers[-1]) == ["您所在的网络刚才新开的对话太多，机器人没有回答这条消息（消息已经记下了）。请再发一次您的问题。"]
    answer, _ = await regular.say(PUER)  # not new: still answered
    assert "limited" not in answer
    answer, _ = await newcomers[-1].say(PUER)  # sent again, as the notice asks: no longer new, answered
    assert "limited" not in answer and texts(answer)[0].startswith("普洱")
    assert stored(settings, "web-n4")[:2] == [("in", PUER, "limited"), ("out", texts(answers[-1])[0], "sent")]
    clock.now += 720
    answer, _ = await (await customers("web-n5", "203.0.113.50")).say(PUER)
    assert "limited" not in answer


async def test_english_customers_are_told_in_english(shop, customers):
    chat = await customers("web-en-fast")
    for _ in range(3):
        await chat.say("How long does the beef jerky keep?")
    answer, _ = await chat.say("hello? anyone there?")
    assert texts(answer) == ["You're sending messages a little fast. Please wait 20 seconds before sending more; "
                             "we've kept this message."]


async def test_a_flood_of_request_human_from_one_address_leaves_only_honest_chats_in_the_queue(shop, customers,
                                                                                              settings):
    """The flood's first requests for staff come before any limit trips; when its address spends the new-chats
    limit they are set aside: still listed for staff (apart), but out of the queue and of anyone's place."""
    client, fake, _clock = shop
    staff = bearer(client, "xiaoli", "staff")
    flood = [await customers(f"web-f{number}", "203.0.113.66") for number in range(12)]
    answers = [(await chat.say("/request_human"))[0] for chat in flood]
    honest = await customers("web-honest", "198.51.100.20")
    await honest.say(PUER)
    honest_answer, _ = await honest.say("/request_human")

    assert [answer["state"] for answer in answers[:2]] == ["waiting", "waiting"]
    assert texts(answers[0])[0] == CONNECTING and "第 1 位" in texts(answers[0])[1]
    assert [texts(answer) for answer in answers[2:5]] == [[HANDOFFS_FULL]] * 3  # the bot keeps them
    assert [answer["state"] for answer in answers[2:5]] == ["bot"] * 3
    assert all(answer.get("limited") for answer in answers[5:])  # past 5 new customers: stored, not asked
    assert honest_answer["state"] == "waiting" and texts(honest_answer)[0] == CONNECTING
    assert "第 1 位" in texts(honest_answer)[1]  # the flood's two waiting chats are not ahead of them

    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert [(entry["customer"], entry["set_aside"]) for entry in queue] == [
        ("web-f0", "new_customers"), ("web-f1", "new_customers"), ("web-honest", None)]
    with db_session(settings) as session:
        recorded = session.scalars(select(ConversationEvent.data).where(ConversationEvent.name == "set_aside")).all()
    assert sorted(event["limit"] for event in recorded) == ["new_customers"] * 2
    assert fake.received.count("/request_human") == 6  # five from the flood's address, one honest
    resumed = [sender for sender, events in fake.events if any(e.get("event") == "resume" for e in events)]
    assert sorted(resumed) == ["web-web-f2", "web-web-f3", "web-web-f4"]  # Rasa paused itself: resumed

    # staff who take a chat see what its customer sent over a limit
    honest_conversation = next(entry["conversation_id"] for entry in queue if entry["customer"] == "web-honest")
    for _ in range(2):  # its third and fourth message this minute: the fourth is over the customer limit
        await honest.say("还在吗")
    detail = await (await client.get(f"/api/conversations/{honest_conversation}", headers=staff)).json()
    shown = [(m["text"], m["delivery_status"]) for m in detail["transcript"] if m["direction"] == "in"]
    assert shown[-2:] == [("还在吗", "received"), ("还在吗", "limited")]


async def test_a_chat_from_a_flooding_address_that_asks_for_staff_after_the_limit_tripped_is_set_aside(
        shop, customers, settings):
    """The limit trips while none of the address's chats waits for staff (nothing to set aside then); a chat from
    there that asks for staff within the limit's window starts set aside, so the honest customer is still first.
    Before, such a handoff joined the queue ahead of them (seen once in an end-to-end run, when a flood's
    handoffs were made after the limit tripped)."""
    client, _fake, clock = shop
    staff = bearer(client, "xiaoli", "staff")
    flood = [await customers(f"web-late{number}", "203.0.113.77") for number in range(6)]
    for chat in flood[:5]:
        assert texts((await chat.say(PUER))[0])[0].startswith("普洱茶")  # answered: nobody waits for staff
    assert (await flood[5].say(PUER))[0]["limited"] is True  # the sixth new chat this hour: the limit trips
    late, _ = await flood[0].say("/request_human")
    assert late["state"] == "waiting"
    honest = await customers("web-fair", "198.51.100.21")
    honest_answer, _ = await honest.say("/request_human")
    assert "第 1 位" in texts(honest_answer)[1]
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert [(entry["customer"], entry["set_aside"]) for entry in queue] == [
        ("web-late0", "new_customers"), ("web-fair", None)]

    clock.now += 3601  # past the hour the limit counts over: a new request for staff queues as any other
    with db_session(settings) as session:
        for message in session.scalars(select(Message).where(Message.delivery_status == "limited")):
            message.created_at = message.created_at.replace(year=message.created_at.year - 1)
        session.commit()
    assert "第 2 位" in texts((await flood[1].say("/request_human"))[0])[1]



async def test_a_chat_the_bot_cannot_answer_still_goes_to_staff_when_its_address_is_full(shop, customers):
    """The limit is on asking for staff; a message the bot could not answer must reach someone."""
    client, fake, _clock = shop
    staff = bearer(client, "xiaowang", "staff")
    for number in range(2):
        await (await customers(f"web-o{number}", "203.0.113.80")).say("/request_human")
    fake.ready = False  # Rasa down (the service tier's grace is 0: at once to staff)
    answer, _ = await (await customers("web-o2", "203.0.113.80")).say(PUER)
    assert answer["state"] == "waiting" and "尽快回复" in texts(answer)[0]
    queue = (await (await client.get("/api/handoffs", headers=staff)).json())["handoffs"]
    assert sorted(entry["customer"] for entry in queue) == ["web-o0", "web-o1", "web-o2"]


async def test_each_limit_tells_the_customer_once_in_its_own_words(shop, customers):
    """A new chat held back by the new-chats limit is asked to send again; when the same customer then spends
    the address's allowance, they are told that too (each limit's notice once per window, not one for all)."""
    for number in range(5):
        await (await customers(f"web-m{number}", "203.0.113.60")).say(PUER)
    late = await customers("web-m-late", "203.0.113.60")
    first, _ = await late.say(PUER)
    assert texts(first) == ["您所在的网络刚才新开的对话太多，机器人没有回答这条消息（消息已经记下了）。请再发一次您的问题。"]
    answers = [(await late.say(PUER))[0] for _ in range(3)]  # the address's 7th, 8th and 9th message a minute
    assert ["limited" in answer for answer in answers] == [False, False, True]
    assert texts(answers[-1])[0].startswith("您所在的网络现在发来的消息太多，请")
