"""The handoff desk: each operation, what it stores, the events it tells after the commit, its refusals,
and races on one conversation (a takeover, claims, a resolve, a cancel, a bot reply) that never overwrite
each other."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import Principal, add_staff
from core.bot_payload import HandoffReason
from core.db import (Conversation, ConversationEvent, Customer, Handoff, Message, make_async_engine,
                     make_async_session_factory, make_engine)
from core.migrate import upgrade
from core.settings import Settings
from handoff.desk import RATING_BUTTONS, Conflict, Desk, Forbidden, NotFound, Outgoing
from handoff.events import (BotPaused, BotResumed, Bus, OutboundMessage, QueueChanged, TranscriptChanged)
from handoff.router import Router
from handoff.states import State


class FakeRasa:
    """Rasa's tracker API as the desk uses it: the events it was sent, per sender."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def add_events(self, sender: str, events: list[dict]) -> None:
        self.sent.append((sender, events[0]["event"]))


class World:
    def __init__(self, settings: Settings) -> None:
        engine = make_engine(settings)
        upgrade(engine)
        with Session(engine) as session, session.begin():
            self.alice, self.bob, self.owner = (
                Principal((account := add_staff(session, name, role, "password-1")).id, account.name, role)
                for name, role in (("alice", "staff"), ("bob", "staff"), ("owen", "owner")))
        engine.dispose()
        self.engine = make_async_engine(settings)
        self.sessions = make_async_session_factory(self.engine)
        self.bus, self.rasa, self.told = Bus(), FakeRasa(), []
        for kind in (QueueChanged, TranscriptChanged, OutboundMessage, BotPaused, BotResumed):
            self.bus.subscribe(kind, self._record)
        self.desk = Desk(self.sessions, self.bus, self.rasa)

    async def _record(self, event) -> None:
        self.told.append(event)

    async def conversation(self, external_id: str, state: str = State.BOT, channel: str = "web") -> int:
        async with self.sessions() as session:
            customer = Customer(channel=channel, external_id=external_id, name="顾客")
            session.add(customer)
            await session.flush()
            conversation = Conversation(customer_id=customer.id, channel=channel, state=State.BOT)
            session.add(conversation)
            await session.flush()
            conversation_id = conversation.id
            if state != State.BOT:
                await self.desk.request(session, conversation, HandoffReason.CUSTOMER_REQUEST)
            await self.desk.commit(session)
        if state == State.ASSIGNED:
            await self.desk.claim(await self.open_handoff(conversation_id), self.alice)
        self.told.clear()
        return conversation_id

    async def open_handoff(self, conversation_id: int) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(Handoff.id).where(
                Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None)))

    async def stored(self, conversation_id: int) -> tuple[Conversation, list[Handoff], list[Message],
                                                          list[ConversationEvent]]:
        async with self.sessions() as session:
            conversation = await session.get(Conversation, conversation_id)
            handoffs = (await session.scalars(select(Handoff).where(Handoff.conversation_id == conversation_id)
                                              .order_by(Handoff.id))).all()
            messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                              .order_by(Message.id))).all()
            events = (await session.scalars(select(ConversationEvent).where(
                ConversationEvent.conversation_id == conversation_id).order_by(ConversationEvent.id))).all()
        return conversation, list(handoffs), list(messages), list(events)


@pytest.fixture
async def world(tmp_path):
    world = World(Settings(_env_file=None, data_dir=tmp_path))
    yield world
    await world.engine.dispose()


# ---------------------------------------------------------------- the customer's side

async def test_request_queues_the_chat_and_tells_the_console(world):
    conversation_id = await world.conversation("c1")
    async with world.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        position = await world.desk.request(session, conversation, HandoffReason.LOW_CONFIDENCE)
        assert world.told == []  # nothing is told before the commit
        await world.desk.commit(session)
    conversation, handoffs, _messages, events = await world.stored(conversation_id)
    assert position == 1 and conversation.state == State.WAITING and conversation.handoff_reason == "low_confidence"
    assert [(h.reason, h.claimed_by, h.ended_at) for h in handoffs] == [("low_confidence", None, None)]
    assert [(e.name, e.from_state, e.to_state) for e in events] == [("handoff_requested", "bot", "waiting")]
    assert world.told == [QueueChanged(conversation_id)]


async def test_a_rolled_back_change_tells_nothing(world):
    conversation_id = await world.conversation("c1")
    async with world.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        await world.desk.request(session, conversation, HandoffReason.CUSTOMER_REQUEST)
        await session.rollback()
        world.desk.forget(session)
    assert (await world.stored(conversation_id))[0].state == State.BOT and world.told == []


async def test_cancel_ends_the_handoff_and_resumes_the_bot(world):
    conversation_id = await world.conversation("c1", State.WAITING)
    async with world.sessions() as session:
        await world.desk.cancel(session, await session.get(Conversation, conversation_id))
        await world.desk.commit(session)
    conversation, handoffs, _messages, _events = await world.stored(conversation_id)
    assert conversation.state == State.BOT and handoffs[0].ended_by == "customer"
    assert world.told == [QueueChanged(conversation_id), BotResumed("web-c1")]
    assert world.rasa.sent == [("web-c1", "resume")]


async def test_rate_keeps_one_score_on_the_resolved_handoff(world):
    conversation_id = await world.conversation("c1", State.ASSIGNED)
    await world.desk.resolve(conversation_id, world.alice)
    async with world.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert await world.desk.rate(session, conversation, 4) is True
        await world.desk.commit(session)
    async with world.sessions() as session:
        assert await world.desk.rate(session, await session.get(Conversation, conversation_id), 5) is False
    assert (await world.stored(conversation_id))[1][0].rating == 4


# ---------------------------------------------------------------- staff

async def test_claim_assigns_and_refuses_the_second(world):
    conversation_id = await world.conversation("c1", State.WAITING)
    handoff_id = await world.open_handoff(conversation_id)
    conversation = await world.desk.claim(handoff_id, world.alice)
    joined = (await world.stored(conversation_id))[2][-1]  # the customer is told who is with them
    assert (joined.author, joined.text, joined.delivery_status) == ("system", "店员 alice 已接入，为您服务。", "pending")
    assert conversation.state == State.ASSIGNED and world.told == [
        TranscriptChanged(conversation_id), OutboundMessage(conversation_id, joined.id, "web", "c1"),
        QueueChanged(conversation_id)]
    with pytest.raises(Conflict, match="already taken"):
        await world.desk.claim(handoff_id, world.bob)
    with pytest.raises(NotFound, match="no such handoff"):
        await world.desk.claim(9999, world.bob)
    _conversation, handoffs, _messages, events = await world.stored(conversation_id)
    assert handoffs[0].claimed_by == world.alice.id
    assert [e.data for e in events if e.name == "claimed"] == [{"staff": "alice", "handoff": handoff_id}]


async def test_take_over_claims_at_once_and_pauses_the_bot(world):
    conversation_id = await world.conversation("c1")
    handoff, conversation = await world.desk.take_over(conversation_id, world.bob)
    assert conversation.state == State.ASSIGNED
    _conversation, handoffs, _messages, events = await world.stored(conversation_id)
    assert [(h.reason, h.claimed_by) for h in handoffs] == [("staff_takeover", world.bob.id)]
    assert [e.name for e in events] == ["handoff_requested", "claimed"]
    assert [(m.author, m.text) for m in _messages] == [("system", "店员 bob 已接入，为您服务。")]
    assert world.told == [QueueChanged(conversation_id), TranscriptChanged(conversation_id),
                          OutboundMessage(conversation_id, _messages[0].id, "web", "c1"), BotPaused("web-c1")]
    assert world.rasa.sent == [("web-c1", "pause")]
    with pytest.raises(Conflict, match="only bot chats can be taken over"):
        await world.desk.take_over(conversation_id, world.alice)
    with pytest.raises(NotFound):
        await world.desk.take_over(9999, world.alice)


async def test_transfer_hands_the_chat_on_and_refuses_strangers(world):
    conversation_id = await world.conversation("c1", State.ASSIGNED)
    with pytest.raises(Forbidden):
        await world.desk.transfer(conversation_id, world.bob, "bob")
    with pytest.raises(NotFound, match="nobody"):
        await world.desk.transfer(conversation_id, world.alice, "nobody")
    with pytest.raises(Conflict, match="alice already has this chat"):
        await world.desk.transfer(conversation_id, world.alice, "alice")
    conversation, target = await world.desk.transfer(conversation_id, world.alice, "bob")
    assert (conversation.state, target) == (State.ASSIGNED, "bob")
    _conversation, handoffs, messages, _events = await world.stored(conversation_id)
    assert handoffs[0].claimed_by == world.bob.id
    assert [(m.author, m.text) for m in messages] == [("system", "店员 alice 已接入，为您服务。"),
                                                      ("system", "已为您转给店员 bob，TA 会接着为您服务。")]
    assert world.told == [TranscriptChanged(conversation_id), OutboundMessage(conversation_id, messages[1].id, "web", "c1"),
                          QueueChanged(conversation_id)]


async def test_resolve_asks_for_a_rating_and_resumes_the_bot(world):
    conversation_id = await world.conversation("c1", State.ASSIGNED)
    with pytest.raises(Forbidden):
        await world.desk.resolve(conversation_id, world.bob)
    conversation = await world.desk.resolve(conversation_id, world.alice)
    assert conversation.state == State.RESOLVED
    _conversation, handoffs, messages, _events = await world.stored(conversation_id)
    assert handoffs[0].ended_by == "staff"
    prompt = messages[-1]
    assert (prompt.author, prompt.text, prompt.delivery_status, prompt.payload) == (
        "system", "店员已结束本次服务。请为这次服务打个分吧：", "pending", {"buttons": RATING_BUTTONS})
    assert world.told == [TranscriptChanged(conversation_id), OutboundMessage(conversation_id, prompt.id, "web", "c1"),
                          QueueChanged(conversation_id), BotResumed("web-c1")]
    with pytest.raises(Conflict, match="nothing to resolve"):
        await world.desk.resolve(conversation_id, world.owner)


async def test_send_stores_a_pending_message_for_the_channel_in_the_customers_language(world):
    conversation_id = await world.conversation("c1", State.WAITING, channel="telegram")
    with pytest.raises(Conflict, match="claim it first"):
        await world.desk.send(conversation_id, world.alice, lambda _language: Outgoing("你好"))
    await world.desk.claim(await world.open_handoff(conversation_id), world.alice)
    with pytest.raises(Forbidden):
        await world.desk.send(conversation_id, world.bob, lambda _language: Outgoing("你好"))
    world.told.clear()
    message = await world.desk.send(conversation_id, world.owner,
                                    lambda language: Outgoing(f"给您看看 ({language})", {"staff": "owen"}))
    stored = (await world.stored(conversation_id))[2][-1]
    assert (stored.id, stored.author, stored.text, stored.delivery_status, stored.payload) == (
        message.id, "staff", "给您看看 (zh)", "pending", {"staff": "owen", "from": "owen"})
    assert world.told == [TranscriptChanged(conversation_id),
                          OutboundMessage(conversation_id, message.id, "telegram", "c1")]


async def test_bot_replies_are_sent_only_when_they_go_back_in_the_request(world):
    conversation_id = await world.conversation("c1")
    async with world.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        shown = await world.desk.bot_replies(session, conversation, [Outgoing("您好")], in_response=True)
        later = await world.desk.bot_replies(session, conversation, [Outgoing("答案来了")], in_response=False)
        await world.desk.commit(session)
    assert [(m.text, m.delivery_status) for m in (await world.stored(conversation_id))[2]] == [
        ("您好", "sent"), ("答案来了", "pending")]
    assert world.told == [TranscriptChanged(conversation_id),
                          OutboundMessage(conversation_id, later[0].id, "web", "c1")] and shown[0].id


async def test_a_channel_marks_what_it_delivered(world):
    conversation_id = await world.conversation("c1", State.ASSIGNED)
    message = await world.desk.send(conversation_id, world.alice, lambda _language: Outgoing("你好"))
    world.told.clear()
    async with world.sessions() as session:
        await world.desk.delivered(session, await session.get(Message, message.id), "failed")
        await world.desk.commit(session)
    assert (await world.stored(conversation_id))[2][-1].delivery_status == "failed"
    assert world.told == [TranscriptChanged(conversation_id)]


async def test_a_failing_subscriber_is_logged_and_the_others_still_hear(world, caplog):
    async def broken(_event) -> None:
        raise RuntimeError("console gone")
    world.bus.subscribe(QueueChanged, broken)
    heard = []

    async def after(event) -> None:
        heard.append(event)
    world.bus.subscribe(QueueChanged, after)
    conversation_id = await world.conversation("c1")
    with caplog.at_level(logging.ERROR):
        await world.desk.take_over(conversation_id, world.alice)  # does not raise
    assert heard == [QueueChanged(conversation_id)] and "a subscriber of QueueChanged failed" in caplog.text
    assert (await world.stored(conversation_id))[0].state == State.ASSIGNED


# ---------------------------------------------------------------- races on one conversation

async def named(operation, name: str) -> str:
    """The operation's name if it went through (a refusal is raised, and gathered as the outcome)."""
    await operation
    return name


def assert_consistent(conversation: Conversation, events: list[ConversationEvent]) -> None:
    """What is stored tells one story: each change starts where the one before ended, and the
    conversation is where the last one left it."""
    state = State.BOT
    for event in events:
        assert event.from_state == state, [(e.name, e.from_state, e.to_state) for e in events]
        state = event.to_state
    assert conversation.state == state


async def test_takeovers_a_bot_handoff_a_claim_and_a_resolve_racing_never_overwrite_each_other(world):
    """From the bot: two takeovers and the bot's own handoff (its conversation read before the Rasa call)
    exclude each other: exactly one wins. A resolve or a claim in the same race only succeeds after it."""
    for round_ in range(25):
        conversation_id = await world.conversation(f"race-{round_}")
        bot_session = world.sessions()
        stale = await bot_session.get(Conversation, conversation_id)  # the router's read, before asking Rasa

        async def bot_hands_off() -> str:
            try:
                await world.desk.bot_replies(bot_session, stale, [Outgoing("我请店员来回答")], in_response=True)
                await world.desk.request(bot_session, stale, HandoffReason.LOW_CONFIDENCE)
                await world.desk.commit(bot_session)
                return "bot"
            finally:
                await bot_session.close()

        async def claim() -> None:
            handoff_id = await world.open_handoff(conversation_id)
            await world.desk.claim(handoff_id if handoff_id is not None else -1, world.bob)

        outcomes = await asyncio.gather(
            named(world.desk.take_over(conversation_id, world.alice), "alice"),
            named(world.desk.take_over(conversation_id, world.bob), "bob"), bot_hands_off(),
            named(world.desk.resolve(conversation_id, world.owner), "resolve"), named(claim(), "claim"),
            return_exceptions=True)
        winners = [o for o in outcomes[:3] if isinstance(o, str)]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, (str, NotFound, Conflict)) for o in outcomes), outcomes
        conversation, handoffs, messages, events = await world.stored(conversation_id)
        assert_consistent(conversation, events)
        assert len(handoffs) == 1 and handoffs[0].reason == (
            "low_confidence" if winners == ["bot"] else "staff_takeover")
        assert [m.text for m in messages if m.author == "bot"] == (["我请店员来回答"] if winners == ["bot"] else [])
        holder = {world.alice.id: "alice", world.bob.id: "bob"}.get(handoffs[0].claimed_by)
        assert [m.text for m in messages if "已接入" in m.text] == ([f"店员 {holder} 已接入，为您服务。"] if holder else [])
        if winners != ["bot"]:
            assert handoffs[0].claimed_by == (world.alice if winners == ["alice"] else world.bob).id
        assert (conversation.state == State.RESOLVED) == isinstance(outcomes[3], str)


async def test_claims_a_cancel_and_a_resolve_racing_on_a_waiting_customer(world):
    """From the queue: two claims and the customer's cancel exclude each other; a resolve wins only
    against the cancel's side (it may follow a claim)."""
    for round_ in range(25):
        conversation_id = await world.conversation(f"queue-{round_}", State.WAITING)
        handoff_id = await world.open_handoff(conversation_id)
        customer_session = world.sessions()
        stale = await customer_session.get(Conversation, conversation_id)

        async def cancel() -> str:
            try:
                await world.desk.cancel(customer_session, stale)
                await world.desk.commit(customer_session)
                return "cancel"
            finally:
                await customer_session.close()

        outcomes = await asyncio.gather(
            named(world.desk.claim(handoff_id, world.alice), "alice"),
            named(world.desk.claim(handoff_id, world.bob), "bob"), cancel(),
            named(world.desk.resolve(conversation_id, world.owner), "resolve"), return_exceptions=True)
        exclusive = [o for o in outcomes[:3] if isinstance(o, str)]
        assert len(exclusive) <= 1 and all(isinstance(o, (str, Conflict)) for o in outcomes), outcomes
        conversation, handoffs, _messages, events = await world.stored(conversation_id)
        assert_consistent(conversation, events)
        assert len(handoffs) == 1
        if exclusive in (["alice"], ["bob"]):
            assert handoffs[0].claimed_by == (world.alice if exclusive == ["alice"] else world.bob).id
        elif exclusive == ["cancel"]:
            assert conversation.state == State.BOT and handoffs[0].ended_by == "customer"
        else:  # the resolve came first: nobody claimed, the customer did not cancel
            assert outcomes[3] == "resolve" and handoffs[0].ended_by == "staff"


async def test_a_takeover_during_the_rasa_call_keeps_the_chat_with_staff(world):
    """The router holds nothing across the Rasa call: a takeover meanwhile wins and the bot's answer
    (even one that asks for a person) is dropped; the message stays with staff."""
    conversation_id = await world.conversation("slow")
    asked, answer = asyncio.Event(), asyncio.Event()

    class SlowRasa(FakeRasa):
        async def message(self, sender, text, metadata=None):
            asked.set()
            await answer.wait()
            return [{"text": "还是没能帮上您", "custom": {"handoff": {"reason": "low_confidence"}}}]

        async def reachable(self) -> bool:
            return True

    router = Router(world.sessions, SlowRasa(), world.desk, Settings(_env_file=None).hours)
    turn = asyncio.create_task(router.handle("web", "slow", "能便宜点吗"))
    await asyncio.wait_for(asked.wait(), 10)
    await world.desk.take_over(conversation_id, world.alice)
    answer.set()
    result = await turn
    assert (result.state, result.replies) == (State.ASSIGNED, [])
    conversation, handoffs, messages, events = await world.stored(conversation_id)
    assert_consistent(conversation, events)
    assert [(h.reason, h.claimed_by) for h in handoffs] == [("staff_takeover", world.alice.id)]
    assert [(m.author, m.text, m.delivery_status) for m in messages] == [
        ("customer", "能便宜点吗", "received"), ("system", "店员 alice 已接入，为您服务。", "pending")]
