"""The handoff desk: every change to a conversation's handoff, and every message to a customer.

One method per operation. Each is one transaction; what it did is told as typed events
(handoff.events) after the commit, never before and never for a rolled-back change. Operations that
are part of a customer's turn (request, cancel, rate, the bot's replies, the customer's return) take
the router's session, so that the turn stays one transaction; ``commit`` ends it. Staff operations
(claim, take over, transfer, resolve, send) open their own.

A conversation row carries a version (core.db.Conversation): two changes racing on one conversation
cannot both commit; the later one is refused (``Conflict``) and changes nothing. Refusals are named
errors with the text a person can act on; the edges map them to an HTTP status or a chat reply.
"""

from __future__ import annotations

import logging
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from core.accounts import Principal
from core.bot_payload import HandoffReason
from core.db import Conversation, Customer, Handoff, Message, StaffAccount, StaffNote, utcnow
from core.language import Say
from handoff import episodes
from handoff.events import (
    BotPaused, BotResumed, Bus, Event, OutboundMessage, QueueChanged, TranscriptChanged,
)
from handoff.rasa_client import RasaClient, RasaUnavailable, rasa_sender
from handoff.states import Event as Transition
from handoff.states import InvalidTransition, State
from handoff.unanswered import answer_to, note_question, question_before

log = logging.getLogger(__name__)
T = TypeVar("T")

JOINED_TEXT = Say("店员 {name} 已接入，为您服务。", "{name} from our staff is with you now.")
TRANSFERRED_TEXT = Say("已为您转给店员 {name}，TA 会接着为您服务。", "{name} from our staff is taking over from here.")
RATING_PROMPT = Say("店员已结束本次服务。请为这次服务打个分吧：", "Our staff have finished helping you. How did we do?")
RATING_BUTTONS = [{"title": "⭐" * n, "payload": f'/rate{{"score": {n}}}'} for n in range(5, 0, -1)]
# After a person: resume, close any form, forget misses and the gift search before it (a gift question after
# the person starts afresh, not from the old budget), and end the paused turn (see Desk._resume).
FORGOTTEN_SLOTS = ("requested_slot", "recipient", "occasion", "budget", "gift_query", "gifts_shown")
RESUME_EVENTS = ({"event": "resume"}, {"event": "active_loop", "name": None},
                 *({"event": "slot", "name": name, "value": None} for name in FORGOTTEN_SLOTS),
                 {"event": "slot", "name": "kb_misses", "value": 0},
                 {"event": "action", "name": "action_listen"})
EVENTS = "techan_desk_events"  # session.info key: the events this session's commit will tell


class Refused(Exception):
    """An operation the desk will not do, with the reason a person can act on."""

    status = 409


class NotFound(Refused):
    status = 404


class Conflict(Refused):
    status = 409


class Forbidden(Refused):
    status = 403


@dataclass(frozen=True)
class Outgoing:
    """A message to the customer: its text and what goes with it (buttons, a picture, products, meta)."""

    text: str
    payload: dict[str, Any] = field(default_factory=dict)


Compose = Callable[[str], Outgoing]  # the customer's language -> the message


def signed(outgoing: Outgoing, shown: str) -> Outgoing:
    """The message as from ``shown`` (a staff member's display name), which the web chat shows above it (on
    Telegram the join notice has named them: a one-to-one chat needs no label on every message)."""
    return Outgoing(outgoing.text, {**outgoing.payload, "from": shown})


@dataclass(frozen=True)
class _Outbound:
    """An OutboundMessage whose message gets its id at the commit."""

    message: Message
    external_id: str

    def event(self) -> OutboundMessage:
        return OutboundMessage(self.message.conversation_id, self.message.id, self.message.channel,
                               self.external_id)


CLASH = "the chat changed meanwhile; look again"


def clash_is_conflict(operation: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """A version clash found on any flush (not only at the commit) is the named refusal."""
    @functools.wraps(operation)
    async def guarded(*args: Any, **kwargs: Any) -> T:
        try:
            return await operation(*args, **kwargs)
        except StaleDataError:
            raise Conflict(CLASH) from None
    return guarded


class Desk:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus, rasa: RasaClient) -> None:
        self.sessions = sessions
        self.bus = bus
        self.rasa = rasa
        bus.subscribe(BotPaused, self._pause)
        bus.subscribe(BotResumed, self._resume)

    # ------------------------------------------------------------ the unit of work

    @asynccontextmanager
    async def operation(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed (then its events told) when the block ends, rolled back on an error."""
        async with self.sessions() as session:
            try:
                yield session
            except StaleDataError:
                raise Conflict(CLASH) from None
            await self.commit(session)

    async def commit(self, session: AsyncSession) -> None:
        """Commit, then tell what changed; a version clash (another change came first) is a ``Conflict``."""
        try:
            await session.commit()
        except StaleDataError:
            await session.rollback()
            session.info.pop(EVENTS, None)
            raise Conflict(CLASH) from None
        told = [event.event() if isinstance(event, _Outbound) else event for event in session.info.pop(EVENTS, [])]
        await self.bus.emit(*dict.fromkeys(told))  # each distinct event once, in the order it happened

    @staticmethod
    def forget(session: AsyncSession) -> None:
        """The session's change was rolled back: its events never happened."""
        session.info.pop(EVENTS, None)

    @staticmethod
    def _tell(session: AsyncSession, *events: Event | _Outbound) -> None:
        session.info.setdefault(EVENTS, []).extend(events)

    # ------------------------------------------------------------ the customer's side (the router's turn)

    @clash_is_conflict
    async def request(self, session: AsyncSession, conversation: Conversation, reason: HandoffReason) -> int:
        """Queue the chat for staff; returns the customer's position in the queue."""
        handoff, position = await self._open(session, conversation, reason)
        return position

    async def handoff_declined(self, session: AsyncSession, conversation: Conversation) -> None:
        """The bot asked for staff but the chat is not queued (the address has its share waiting): the bot
        keeps the chat, so Rasa, which paused itself in that turn, is resumed."""
        customer = await session.get(Customer, conversation.customer_id)
        self._tell(session, BotResumed(rasa_sender(customer.channel, customer.external_id)))

    @clash_is_conflict
    async def cancel(self, session: AsyncSession, conversation: Conversation) -> None:
        """The customer leaves the queue: back to the bot."""
        await episodes.transition(session, conversation, Transition.CANCELLED, {})
        if handoff := await episodes.current_handoff(session, conversation.id):
            episodes.end_handoff(handoff, "customer")
        customer = await session.get(Customer, conversation.customer_id)
        self._tell(session, QueueChanged(conversation.id), BotResumed(rasa_sender(customer.channel,
                                                                                 customer.external_id)))

    async def rate(self, session: AsyncSession, conversation: Conversation, score: int | None) -> bool:
        """The customer's 1-5 after staff resolved the chat, kept on that handoff; False if there is none to rate."""
        handoff = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation.id, Handoff.ended_by == "staff", Handoff.rating.is_(None))
            .order_by(Handoff.id.desc()).limit(1))
        if score is None or handoff is None:
            return False
        handoff.rating = score
        return True

    @clash_is_conflict
    async def customer_returned(self, session: AsyncSession, conversation: Conversation) -> None:
        """A resolved chat's customer writes again: the bot has them (Rasa told afresh, which also covers a
        resume that failed at resolve)."""
        await episodes.transition(session, conversation, Transition.CUSTOMER_RETURNED, {})
        customer = await session.get(Customer, conversation.customer_id)
        self._tell(session, BotResumed(rasa_sender(customer.channel, customer.external_id)))

    async def set_aside(self, session: AsyncSession, address: str, limit: str) -> None:
        """``address`` spent a network limit (a flood, or a crowd behind one address): its chats still waiting
        for staff leave the queue. Staff still see them apart and can claim them; nobody's place counts them."""
        waiting = await episodes.set_aside(session, address, limit)
        self._tell(session, *(QueueChanged(handoff.conversation_id) for handoff in waiting))
        if waiting:
            log.warning("%d chats from %s waiting for staff were set aside (limit %s)", len(waiting), address, limit)

    async def kept_for_staff(self, session: AsyncSession, conversation: Conversation) -> None:
        """A customer message while staff have the chat: the bot stays silent, the console is told."""
        self._tell(session, TranscriptChanged(conversation.id))

    @clash_is_conflict
    async def bot_replies(self, session: AsyncSession, conversation: Conversation, replies: list[Outgoing], *,
                          in_response: bool) -> list[Message]:
        """Store the bot's replies. ``in_response``: they go back in the customer's own request (the web
        chat renders them), so they are ``sent``; otherwise they wait ``pending`` for the channel, which
        marks them sent or failed once it has tried. Touching the conversation makes the reply a change
        of its row: a takeover that came first wins, and this turn is refused."""
        conversation.updated_at = utcnow()
        customer = await session.get(Customer, conversation.customer_id)
        return [self._store_out(session, conversation, customer, "bot", reply, delivered=in_response)
                for reply in replies]

    # ------------------------------------------------------------ staff

    async def claim(self, handoff_id: int, staff: Principal) -> Conversation:
        """Take a waiting customer: of staff claiming at once (in the console or the Telegram group), one wins."""
        async with self.operation() as session:
            won = await episodes.claim(session, handoff_id, staff.id)
            handoff = await session.get(Handoff, handoff_id)
            if handoff is None:
                raise NotFound("no such handoff")
            if not won:
                raise Conflict("this chat is already taken or finished")
            conversation = await session.get(Conversation, handoff.conversation_id)
            try:
                await episodes.transition(session, conversation, Transition.CLAIMED,
                                          {"staff": staff.name, "handoff": handoff_id})
            except InvalidTransition:
                raise Conflict("the customer is no longer waiting") from None
            await self._introduce(session, conversation, staff.id, JOINED_TEXT)
            self._tell(session, QueueChanged(conversation.id))
        return conversation

    async def take_over(self, conversation_id: int, staff: Principal) -> tuple[Handoff, Conversation]:
        """Staff step into a chat the bot is handling: handoff `staff_takeover`, claimed at once, bot paused."""
        async with self.operation() as session:
            conversation = await self._conversation(session, conversation_id)
            if conversation.state != State.BOT:
                raise Conflict(f"the conversation is {conversation.state}; only bot chats can be taken over")
            handoff, _position = await self._open(session, conversation, HandoffReason.STAFF_TAKEOVER)
            await episodes.claim(session, handoff.id, staff.id)
            await episodes.transition(session, conversation, Transition.CLAIMED,
                                      {"staff": staff.name, "handoff": handoff.id})
            customer = await self._introduce(session, conversation, staff.id, JOINED_TEXT)
            self._tell(session, BotPaused(rasa_sender(customer.channel, customer.external_id)))
        return handoff, conversation

    async def transfer(self, conversation_id: int, by: Principal, to_name: str) -> tuple[Conversation, str]:
        """Hand an assigned chat to another active staff member (the one who has it, or an owner)."""
        async with self.operation() as session:
            conversation, handoff = await self.assigned_in(session, conversation_id, by)
            target = await session.scalar(select(StaffAccount).where(
                StaffAccount.name == to_name, StaffAccount.active.is_(True)))
            if target is None:
                raise NotFound(f"no active staff member named {to_name!r}")
            if target.id == handoff.claimed_by:
                raise Conflict(f"{target.name} already has this chat")
            await episodes.transition(session, conversation, Transition.TRANSFERRED,
                                      {"from": by.name, "to": target.name, "handoff": handoff.id})
            handoff.claimed_by = target.id
            await self._introduce(session, conversation, target.id, TRANSFERRED_TEXT)
            self._tell(session, QueueChanged(conversation.id))
        return conversation, target.name

    async def resolve(self, conversation_id: int, by: Principal) -> Conversation:
        """End the handoff: the customer is asked for a rating and the bot takes over again."""
        async with self.operation() as session:
            conversation = await self._conversation(session, conversation_id)
            handoff = await episodes.current_handoff(session, conversation.id)
            if handoff and handoff.claimed_by not in (None, by.id) and by.role != "owner":
                raise Forbidden("another staff member has this chat")
            try:
                await episodes.transition(session, conversation, Transition.RESOLVED, {"staff": by.name})
            except InvalidTransition:
                raise Conflict(f"the conversation is {conversation.state}; nothing to resolve") from None
            if handoff:
                episodes.end_handoff(handoff, "staff")
            customer = await session.get(Customer, conversation.customer_id)
            prompt = Outgoing(RATING_PROMPT.to(customer.language), {"buttons": RATING_BUTTONS})
            self._store_out(session, conversation, customer, "system", prompt)
            self._tell(session, QueueChanged(conversation.id),
                       BotResumed(rasa_sender(customer.channel, customer.external_id)))
        return conversation

    async def assigned(self, conversation_id: int, staff: Principal) -> Conversation:
        """The conversation, if ``staff`` may write in it now (a read: check before preparing a message)."""
        async with self.sessions() as session:
            conversation, _handoff = await self.assigned_in(session, conversation_id, staff)
        return conversation

    async def send(self, conversation_id: int, by: Principal, compose: Compose, author: str = "staff") -> Message:
        """A message from staff to the customer (text, a picture, a product card), in the chat they hold; it
        carries the name the customer knows them by (``from``)."""
        async with self.operation() as session:
            conversation, _handoff = await self.assigned_in(session, conversation_id, by)
            shown = await self._shown_name(session, by.id)
            message = await self.send_in(session, conversation, lambda language: signed(compose(language), shown),
                                         author)
        return message

    @clash_is_conflict
    async def send_in(self, session: AsyncSession, conversation: Conversation, compose: Compose,
                      author: str = "staff") -> Message:
        """The same inside a larger operation (a call invitation is stored with its call)."""
        customer = await session.get(Customer, conversation.customer_id)
        message = self._store_out(session, conversation, customer, author, compose(customer.language))
        await session.flush()
        return message

    async def note(self, conversation_id: int, by: Principal, text: str) -> StaffNote:
        """A private note: colleagues see it in the console, the customer never does."""
        async with self.operation() as session:
            conversation = await self._conversation(session, conversation_id)
            note = StaffNote(conversation_id=conversation.id, author=by.name, text=text)
            session.add(note)
            self._tell(session, TranscriptChanged(conversation.id))
        return note

    async def delivered(self, session: AsyncSession, message: Message, status: str) -> None:
        """A channel tried to deliver a message: ``sent`` (it has it) or ``failed`` (after its retries)."""
        message.delivery_status = status
        self._tell(session, TranscriptChanged(message.conversation_id))

    # ------------------------------------------------------------ helpers

    async def _introduce(self, session: AsyncSession, conversation: Conversation, staff_id: int,
                         said: Say) -> Customer:
        """Tell the customer who is with them now, by the name they are shown (the bot is quiet meanwhile)."""
        customer = await session.get(Customer, conversation.customer_id)
        shown = await self._shown_name(session, staff_id)
        self._store_out(session, conversation, customer, "system",
                        Outgoing(said.to(customer.language).format(name=shown)))
        return customer

    @staticmethod
    async def _shown_name(session: AsyncSession, staff_id: int) -> str:
        """The name customers know a staff member by (their display name, else the account name)."""
        return (await session.get(StaffAccount, staff_id)).shown_name

    async def _open(self, session: AsyncSession, conversation: Conversation,
                    reason: HandoffReason) -> tuple[Handoff, int]:
        await episodes.transition(session, conversation, Transition.HANDOFF_REQUESTED, {"reason": reason})
        conversation.handoff_reason = reason
        handoff, position = await episodes.open_handoff(session, conversation, reason)
        if reason == HandoffReason.STAFF_TAKEOVER and (question := await question_before(session, conversation.id)):
            await note_question(session, question, reason, await answer_to(session, question))
        self._tell(session, QueueChanged(conversation.id))
        return handoff, position

    @staticmethod
    async def _conversation(session: AsyncSession, conversation_id: int) -> Conversation:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("no such conversation")
        return conversation

    async def assigned_in(self, session: AsyncSession, conversation_id: int,
                        staff: Principal) -> tuple[Conversation, Handoff]:
        conversation = await self._conversation(session, conversation_id)
        handoff = await episodes.current_handoff(session, conversation.id)
        if handoff is None or conversation.state != State.ASSIGNED:
            raise Conflict(f"the conversation is {conversation.state}; claim it first")
        if handoff.claimed_by != staff.id and staff.role != "owner":
            raise Forbidden("another staff member has this chat")
        return conversation, handoff

    def _store_out(self, session: AsyncSession, conversation: Conversation, customer: Customer, author: str,
                   outgoing: Outgoing, *, delivered: bool = False) -> Message:
        """The one place a message to a customer is written; unless it is already delivered, the console and
        the customer's channel are told."""
        message = Message(conversation_id=conversation.id, direction="out", author=author,
                          channel=conversation.channel, text=outgoing.text,
                          delivery_status="sent" if delivered else "pending", payload=outgoing.payload)
        session.add(message)
        if not delivered:  # a reply going back in the customer's own request is news to nobody
            self._tell(session, TranscriptChanged(conversation.id), _Outbound(message, customer.external_id))
        return message

    # ------------------------------------------------------------ Rasa's tracker

    async def _pause(self, event: BotPaused) -> None:
        """Stop Rasa's dialogue for this customer (best effort: the router no longer asks it anyway)."""
        await self._tracker_events(event.sender, [{"event": "pause"}])

    async def _resume(self, event: BotResumed) -> None:
        """Let Rasa answer this customer again, starting fresh (best effort: the customer's return retries it).

        Rasa stops its prediction loop at ``ConversationPaused`` without the closing ``action_listen``,
        so after a plain resume the next message followed an unfinished turn: no rule matched, the policies
        predicted the answer again and again until Rasa's circuit breaker (ten actions) tripped, and the
        turn after that failed. Closing the turn here, and any form left open, makes the next message a
        normal one.
        """
        await self._tracker_events(event.sender, list(RESUME_EVENTS))

    async def _tracker_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        try:
            await self.rasa.add_events(sender, events)
        except RasaUnavailable as exc:
            log.warning("could not %s the bot for a customer: %s", events[0]["event"], exc)


DESK = web.AppKey("desk", Desk)
