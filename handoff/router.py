"""The one path every customer message takes, whatever the channel.

Store the message first (``pending``), then act: ask Rasa while the conversation is
with the bot, otherwise keep it for staff. While the bot cannot answer (Rasa loading,
restarting, a turn timed out) the message stays pending and the customer is told
「稍等，助手马上就好」; the sweep (handoff.pending) answers it once the bot is back, in order
per customer, or hands it to staff (`bot_unavailable`) after the grace.

A few payloads are the router's own and never reach Rasa: ``/rate`` (the rating after
staff) and ``/feedback`` (有用 / 没用 under a knowledge answer, see handoff.feedback). Rasa's custom payloads carry control
(``handoff``), product cards (``products``) and answer provenance
(``techan``), which the router turns into state changes and stored metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.bot_payload import ASKED_BY_CUSTOMER, KB, UNSURE, HandoffReason, ask_human_button, read_custom
from core.db import Conversation, Customer, Message, attach, aware, retry_busy, utcnow
from core.hours import BusinessHours, describe
from core.language import Say, detect, to_simplified
from handoff import feedback, limits, pending
from handoff.desk import Desk, Outgoing
from handoff.episodes import current_handoff, estimated_wait_minutes, queue_position
from handoff.rasa_client import RasaClient, RasaTurnLost, RasaUnavailable, rasa_sender
from handoff.states import State
from handoff.turns import CustomerTurns, Turn
from handoff.unanswered import answer_to, note_question, question_before

log = logging.getLogger(__name__)

BOT_UNAVAILABLE_TEXT = Say("抱歉，智能助手暂时有点忙，您的消息已经收到并转给店员，我们会尽快回复您。",
                           "Sorry, the assistant is busy right now. Your message has reached our staff, "
                           "who will answer as soon as they can.")
# While the bot cannot answer yet (Rasa loading its model, restarting, a turn timed out): the message waits.
WARMING_TEXT = Say("稍等，助手马上就好", "One moment — the assistant is almost ready")
MAX_TEXT_TO_RASA = 1000
PROBE_S = 0.5  # while the bot is away, a new message looks whether it is back at most this often
QUEUE_TEXT = Say("您现在排在第 {position} 位，预计等待约 {minutes} 分钟，店员接入后会在这里回复您。想继续问机器人，可以点“取消”。",
                 "You are number {position} in the queue; the wait is about {minutes} minute{plural}. Our staff "
                 "will answer here. To keep asking the bot, tap \"Cancel\".")
CLOSED_TEXT = Say("店员现在下班了，{opening} 上班后会第一时间回复您。您的消息已经记下，不会丢；也可以点“取消”继续问机器人。",
                  "Our staff are away now and will answer first thing {opening}. Your messages are kept; "
                  "you can also tap \"Cancel\" to keep asking the bot.")
CANCEL_BUTTON = Say("取消，继续问机器人", "Cancel, keep asking the bot")
CANCELLED_TEXT = Say("好的，已取消转人工，机器人继续为您服务。", "OK, cancelled. The bot is here for you again.")
CANCEL_WORDS = ("取消", "不用了", "算了", "cancel")
EMOJI_TEXT = Say("收到 😊 还有想问的，直接打字告诉我就好。", "Got it 😊 If there's anything else, just type your question.")
# Asking for staff again while waiting: answered with the customer's place now (staff still see the message).
STAFF_AGAIN_WORDS = ("/request_human", "转人工", "人工", "人工客服", "找店员", "店员", "客服", "human", "staff", "agent",
                     "talk to a human", "real person")
RATING = re.compile(r'/rate\{"score":\s*([1-5])\}')
RATING_THANKS_TEXT = Say("谢谢您的评价！欢迎随时再来。", "Thank you for the rating! Come back any time.")
RATING_IGNORED_TEXT = Say("这次服务已经评过分了，谢谢！", "This chat has been rated already, thank you!")
MEDIA_TO_STAFF_TEXT = Say("收到啦！图片和语音我看不懂，要请店员来看看吗？",
                          "Got it! I can't look at pictures or listen to voice notes; shall I ask our staff?")
HELPFUL_THANKS_TEXT = Say("谢谢您的反馈！", "Thanks for letting us know!")
NOT_HELPFUL_TEXT = Say("抱歉没帮上忙。您是想问下面哪一个？也可以直接找店员。",
                       "Sorry that didn't help. Did you mean one of these? You can also ask our staff.")
FEEDBACK_AGAIN_TEXT = Say("这条回答您已经评价过了，谢谢！", "You've already told us about that answer, thank you!")
FEEDBACK_REFUSED_TEXT = Say("这条消息不能评价。", "That message can't be rated.")
SUGGESTED_QUESTIONS = 2

Phrasing = Callable[[str, str], str | None]  # (KB entry id, language) -> a phrasing to offer, None if gone
Similar = Callable[[str], list[str]]  # a question -> KB entry ids, best first


@dataclass
class Reply:
    text: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    image: str | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    feedback: list[dict[str, str]] = field(default_factory=list)  # 有用 / 没用 under a knowledge answer
    message_id: int | None = None  # stored (the channel delivers it from the store); None: a passing notice

    def public(self) -> dict[str, Any]:
        shown = {"text": self.text, "buttons": self.buttons, "image": self.image, "products": self.products}
        return {**shown, "feedback": self.feedback} if self.feedback else shown


@dataclass
class RouteResult:
    conversation_id: int
    state: str
    replies: list[Reply]
    duplicate: bool = False  # the same message came before (its first replies are given again)
    pending: bool = False  # not answered yet: the answer comes later, through the channel


@dataclass(frozen=True)
class Stored:
    """A customer message as stored (or found stored before: ``duplicate``)."""

    conversation_id: int
    message_id: int
    state: str
    language: str
    duplicate: bool = False
    replies: tuple[Reply, ...] = ()  # stored with it (the notice of a limit)
    # the conversation, customer and message as committed: acting on the message reads none of them again
    rows: tuple[Conversation, Customer, Message] | None = field(default=None, compare=False, repr=False)


REPLIES_IN_RESPONSE = ("web",)  # channels that show the replies of the customer's own request (the web chat page)
LATE = "techan_late"  # session.info key: this session answers pending messages, delivered later


def late(session: AsyncSession) -> bool:
    return bool(session.info.get(LATE))


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], HandoffReason | None]:
    """Turn Rasa's REST messages into replies; returns (replies, handoff reason or None)."""
    replies: list[Reply] = []
    handoff: HandoffReason | None = None
    for message in messages:
        custom = read_custom(message.get("custom"))
        if message.get("text") or message.get("image") or message.get("buttons"):
            buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                       for b in message.get("buttons") or []]
            replies.append(Reply(message.get("text"), buttons, message.get("image")))
        handoff = custom.handoff or handoff
        if custom.products:
            if not replies or replies[-1].products:
                replies.append(Reply())
            replies[-1].products = custom.products
        if custom.meta and replies:
            replies[-1].meta.update(custom.meta)
    return replies, handoff


def is_emoji_only(text: str) -> bool:
    """Emoji, symbols and punctuation alone (👍, 🙏🙏, 😊!): no letter, digit or Chinese character to read."""
    return bool(text.strip()) and not any(ch.isalnum() for ch in text) and not text.startswith("/")


class Router:
    """The customer's side of every conversation: receive, store, and answer by the conversation's state."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], rasa: RasaClient, desk: Desk,
                 hours: BusinessHours, *, phrasing: Phrasing = lambda _entry, _language: None,
                 similar: Similar = lambda _question: [], grace: Callable[[], float] = lambda: 60.0,
                 concurrency: int = 4, handoffs_per_address: int | None = None,
                 turns: CustomerTurns | None = None) -> None:
        """``phrasing`` and ``similar`` are the knowledge base as far as the router needs it: the
        questions to offer after a 没用 (the app passes the knowledge service's; the router never loads it).
        ``grace``: how long (s) a message may wait for the bot before it goes to staff (handoff.pending.grace);
        ``concurrency``: Rasa turns at once (back-pressure: the others wait for a slot, not for a timeout);
        ``handoffs_per_address``: chats one client address may have waiting for staff (None: no limit);
        ``turns``: the customers' turn locks (shared through Redis by several instances; else this process's)."""
        self.sessions = sessions
        self.rasa = rasa
        self.desk = desk
        self.hours = hours
        self.phrasing = phrasing
        self.similar = similar
        self.grace = grace
        self.concurrency = concurrency
        self.handoffs_per_address = handoffs_per_address
        self._queueing = asyncio.Lock()  # see _finish
        self.rasa_slots = asyncio.Semaphore(concurrency)
        self.bot_down_since: float | None = None  # monotonic; None while the bot answers (or was not asked yet)
        self.bot_away_reason = ""  # the last reason it did not answer
        self.wake = asyncio.Event()  # the sweep looks at once
        self.started_at = utcnow()
        self._probed_at = 0.0  # monotonic time the bot's availability was last looked at while away
        self._failures: set[int] = set()  # pending messages whose handling raised (logged in full once)
        self.turns = turns or CustomerTurns()  # one customer's messages one at a time, in order

    def _lock(self, channel: str, external_id: str) -> Turn:
        return self.turns.of(channel, external_id)

    async def handle(self, channel: str, external_id: str, text: str, *, name: str = "", language: str = "zh",
                     channel_message_id: str | None = None, media: dict[str, str] | None = None,
                     address: str | None = None, limited: limits.Over | None = None,
                     extra: dict[str, Any] | None = None,
                     answers: Mapping[str, Say | Reply] | None = None) -> RouteResult:
        """Route one customer message (already validated) and return the replies to show.

        ``channel_message_id`` (a Telegram update id, a web chat's client message id) makes a message sent
        again the same message: it is stored once, and the replies it got are returned again
        (``duplicate``). ``media`` is an attachment already stored under the data dir (kind, url).
        A message the bot cannot answer yet stays pending (see handoff.pending): the result says so, with
        the notice 「稍等，助手马上就好」 for the first one, and the answer comes later through the channel.
        ``address``: the client's (kept on the customer for the open-handoffs limit). ``limited``: the
        message is over an abuse limit (handoff.limits.admit): it is stored ``limited`` and nothing acts on
        it — not the bot, now or later — and the customer gets the limit's notice if ``limited.notify``.
        ``extra``: what the channel keeps with the message (Telegram's message id; ``edit_of``: the message an
        edit changes, stored for staff and not answered again; ``described``: the text is the channel's
        description of what was sent, 「[贴纸 😊]」, which says nothing of the customer's language).
        ``answers``: the channel's own answer by the conversation's state (a command's help; a Reply for one
        with buttons), stored as the bot's reply; while waiting, with the place.
        """
        async with self._lock(channel, external_id):
            stored = await retry_busy(lambda: self._store(channel, external_id, text, name, language,
                                                          channel_message_id, media, address, limited, extra))
            if stored.duplicate:
                return await self._replay(stored)
            if limited:
                return RouteResult(stored.conversation_id, stored.state, list(stored.replies))
            try:
                assert stored.rows is not None, "a message stored now carries its rows"
                async with self.sessions() as session:
                    conversation, customer, inbound = [await attach(session, row) for row in stored.rows]
                    return await self._act(session, conversation, customer, inbound, answers)
            except Exception:  # stored, so not lost: the sweep finishes it (e.g. once the database is free)
                log.exception("message %s was stored but not handled; the sweep will finish it", stored.message_id)
                self.wake.set()
                return RouteResult(stored.conversation_id, stored.state, [Reply(WARMING_TEXT.to(stored.language))],
                                   pending=True)

    async def _store(self, channel: str, external_id: str, text: str, name: str, language: str,
                     channel_message_id: str | None, media: dict[str, str] | None, address: str | None,
                     limited: limits.Over | None, extra: dict[str, Any] | None) -> Stored:
        """Store the message first (``pending``), in one short transaction of its own.

        Over a limit it is stored ``limited``, with the limit's notice when the customer is to be told (the
        first time in the window) as a bot reply, in the same transaction: a flood costs one commit a message.
        """
        async with self.sessions() as session:
            words = "" if (extra or {}).get("described") else text
            conversation, customer = await self._open_conversation(session, channel, external_id, name,
                                                                   language, words, address)
            # read now: a rollback below expires them
            conversation_id, state, language = conversation.id, conversation.state, customer.language
            if channel_message_id:
                known = await session.scalar(select(Message.id).where(
                    Message.channel == channel, Message.channel_message_id == channel_message_id))
                if known is not None:
                    await self.desk.commit(session)  # the customer's last_seen and language
                    return Stored(conversation_id, known, state, language, duplicate=True)
            inbound = Message(conversation_id=conversation.id, direction="in", author="customer",
                              channel=channel, text=text,
                              delivery_status=pending.LIMITED if limited else pending.PENDING,
                              channel_message_id=channel_message_id,
                              payload={**(extra or {}), **({"media": media} if media else {}),
                                       **({"limit": limited.limit} if limited else {})})
            session.add(inbound)
            if limited and limited.first and limited.limit in limits.NETWORK_LIMITS and address:
                await self.desk.set_aside(session, address, limited.limit)
            notice = [Reply(limited.notice(language))] if limited and limited.notify else []
            if notice:
                await self._store_replies(session, conversation, notice)
                if state != State.BOT:  # staff holding the chat are told (once a window, with the notice)
                    await self.desk.kept_for_staff(session, conversation)
            try:
                await self.desk.commit(session)
            except IntegrityError:  # the same message arriving twice at once (another app instance)
                await session.rollback()
                self.desk.forget(session)
                known = await session.scalar(select(Message.id).where(
                    Message.channel == channel, Message.channel_message_id == channel_message_id))
                if known is None:
                    raise
                return Stored(conversation_id, known, state, language, duplicate=True)
            return Stored(conversation_id, inbound.id, state, language, replies=tuple(notice),
                          rows=(conversation, customer, inbound))

    async def _act(self, session: AsyncSession, conversation: Conversation, customer: Customer,
                   inbound: Message, answers: Mapping[str, Say | Reply] | None = None) -> RouteResult:
        """What a stored, pending message gets; the same whether it just came in or the sweep found it."""
        text, language, payload = inbound.text, customer.language, inbound.payload or {}
        if inbound.delivery_status != pending.PENDING:  # handled meanwhile (by the sweep, say)
            return RouteResult(conversation.id, conversation.state, [])
        if "edit_of" in payload:  # an edit: staff see it marked; what the bot said to the original stands
            return await self._keep_for_staff(session, conversation, inbound)
        if (answer := (answers or {}).get(conversation.state)) is not None:
            told = [dataclasses.replace(answer) if isinstance(answer, Reply) else Reply(answer.to(language))]
            await self._store_replies(session, conversation, told)
            kept = await self._keep_for_staff(session, conversation, inbound, place=conversation.state == State.WAITING)
            return RouteResult(conversation.id, conversation.state, [*told, *kept.replies])
        if text.startswith("/rate"):
            inbound.delivery_status = pending.HANDLED
            replies = await self._rate(session, conversation, text, language)
            return RouteResult(conversation.id, conversation.state, replies)
        if text.startswith(feedback.PREFIX):
            inbound.delivery_status = pending.HANDLED
            replies = await self._feedback(session, conversation, text, language)
            return RouteResult(conversation.id, conversation.state, replies)
        if conversation.state == State.WAITING and (text == "/cancel" or text.lower() in CANCEL_WORDS):
            inbound.delivery_status = pending.HANDLED
            replies = await self._cancel(session, conversation, language)
            return RouteResult(conversation.id, conversation.state, replies)
        if conversation.state == State.WAITING and text.strip().lower().rstrip("!！?？。.") in STAFF_AGAIN_WORDS:
            return await self._keep_for_staff(session, conversation, inbound, place=True)
        if conversation.state != State.BOT:
            return await self._keep_for_staff(session, conversation, inbound)
        if is_emoji_only(text):  # 👍, 🙏, 😊: nothing to look up; a word back, and no "unsure" for the owner
            return await self._finish(session, conversation, inbound, [Reply(EMOJI_TEXT.to(language))], None,
                                      language)
        if payload.get("media") and not payload.get("captioned"):  # the bot cannot look or listen; a caption it reads
            replies = [Reply(MEDIA_TO_STAFF_TEXT.to(language), [ask_human_button(language)])]
            return await self._finish(session, conversation, inbound, replies, None, language)
        return await self._answer(session, conversation, customer, inbound)

    async def _answer(self, session: AsyncSession, conversation: Conversation, customer: Customer,
                      inbound: Message) -> RouteResult:
        """Ask the bot, in turn; if it cannot answer yet the message waits (or, past the grace, goes to staff)."""
        language = customer.language
        waiting = await pending.of_conversation(session, conversation.id)
        earlier = [message for message in waiting if message.id < inbound.id]
        if not earlier:
            await self._look_again()
        if not earlier and self.bot_down_since is None:
            # Hold nothing across the Rasa call: staff may take the chat meanwhile, and then it is theirs.
            await self.desk.commit(session)
            try:
                # Rasa's NLU learnt simplified characters; the stored message keeps what the customer wrote.
                async with self.rasa_slots:  # back-pressure: a few turns at once, the others wait their turn
                    messages = await self.rasa.message(
                        rasa_sender(customer.channel, customer.external_id),
                        to_simplified(inbound.text)[:MAX_TEXT_TO_RASA], {"channel": customer.channel,
                                                                          "language": language})
            except RasaTurnLost as exc:  # this turn waits, and the sweep tries it again at once
                log.warning("conversation %s: %s; the message waits for the next round", conversation.id, exc)
            except RasaUnavailable as exc:
                self._bot_away(exc)
            else:
                self._bot_back()
                replies, handoff = replies_from_rasa(messages)
                if not replies:  # Rasa is up but said nothing: its dialogue or our action endpoint failed
                    log.error("conversation %s: Rasa produced no reply (action endpoint failing?); handing off",
                              conversation.id)
                    replies, handoff = [Reply(BOT_UNAVAILABLE_TEXT.to(language))], HandoffReason.BOT_UNAVAILABLE
                await session.refresh(conversation)  # as it is now (its version too: a later clash is refused)
                if conversation.state != State.BOT:
                    log.info("conversation %s: staff took the chat while the bot answered; the answer is dropped",
                             conversation.id)
                    return await self._keep_for_staff(session, conversation, inbound)
                return await self._finish(session, conversation, inbound, replies, handoff, language)
        if self.overdue((waiting[0] if waiting else inbound).created_at):
            return await self._to_staff(session, conversation, customer, inbound, waiting)
        self.wake.set()
        notice = [] if earlier else [Reply(WARMING_TEXT.to(language))]
        return RouteResult(conversation.id, conversation.state, notice, pending=True)

    async def _to_staff(self, session: AsyncSession, conversation: Conversation, customer: Customer,
                        inbound: Message, waiting: list[Message]) -> RouteResult:
        """The bot did not answer within the grace: this message and the others waiting go to staff."""
        oldest = waiting[0] if waiting else inbound
        log.error("conversation %s: the bot has not answered for %.0f s (%s); handing %d message(s) to staff",
                  conversation.id, self.waited(oldest.created_at), self.bot_away_reason or "an error",
                  len(waiting) or 1)
        others = [message for message in waiting if message.id != inbound.id]
        return await self._finish(session, conversation, inbound, [Reply(BOT_UNAVAILABLE_TEXT.to(customer.language))],
                                  HandoffReason.BOT_UNAVAILABLE, customer.language, routed=others)

    async def _finish(self, session: AsyncSession, conversation: Conversation, inbound: Message,
                      replies: list[Reply], handoff: HandoffReason | None, language: str,
                      routed: list[Message] | tuple[()] = ()) -> RouteResult:
        """Store the replies (and the handoff, if any) in the same commit that marks the message handled.

        ``routed``: other pending messages of the conversation that go to staff with this one.
        """
        for message in (inbound, *routed):
            message.delivery_status = pending.HANDLED
        # One handoff at a time is counted and queued here, so 转人工 sent at once from one address cannot
        # all pass the open-handoffs count.
        async with self._queueing if handoff else contextlib.nullcontext():
            if handoff and await self._handoffs_full(session, conversation, handoff):
                # Not queued, so the bot's 「正在为您转接店员」 would not be true: the customer hears why instead.
                await self.desk.handoff_declined(session, conversation)
                replies = [Reply(limits.HANDOFFS_FULL_TEXT.to(language), [ask_human_button(language)])]
                handoff = None
            # their ids: feedback buttons name them
            stored = await self._store_replies(session, conversation, replies)
            for reply, message in zip(replies, stored):
                if feedback.is_knowledge_answer(reply.meta):
                    reply.feedback = feedback.buttons(message.id, language)
                    # the channel sends it, reading the buttons from the row
                    if message.delivery_status == "pending":
                        message.payload = {**message.payload, "feedback": reply.feedback}
            await self._note_unanswered(session, inbound, replies, handoff)
            for message in routed:
                await note_question(session, message, handoff or HandoffReason.BOT_UNAVAILABLE)
            if handoff:
                position = await self.desk.request(session, conversation, handoff)
                queued = await self._queued(session, position, language)
                await self._store_replies(session, conversation, [queued])
                replies = [*replies, queued]
            await self.desk.commit(session)
        return RouteResult(conversation.id, conversation.state, replies)

    async def _handoffs_full(self, session: AsyncSession, conversation: Conversation,
                             handoff: HandoffReason) -> bool:
        """The customer's address already has its share of chats waiting for staff (a flood of 转人工).

        A chat the bot could not answer (``bot_unavailable``) always goes: the customer asked nothing of
        staff, and it would otherwise be answered by no one."""
        if self.handoffs_per_address is None or handoff == HandoffReason.BOT_UNAVAILABLE:
            return False
        customer = await session.get(Customer, conversation.customer_id)
        return await limits.handoffs_full(session, customer.client_address, self.handoffs_per_address)

    async def _keep_for_staff(self, session: AsyncSession, conversation: Conversation, inbound: Message, *,
                              place: bool = False) -> RouteResult:
        """With staff: the bot stays silent (``place``: but for the customer's place in the queue, asked for
        again); the console is told of the stored message."""
        inbound.delivery_status = pending.HANDLED
        replies = []
        if place and (handoff := await current_handoff(session, conversation.id)):
            language = (await session.get(Customer, conversation.customer_id)).language
            replies = [await self._queued(session, await queue_position(session, handoff), language)]
            await self._store_replies(session, conversation, replies)
        await self.desk.kept_for_staff(session, conversation)
        await self.desk.commit(session)
        return RouteResult(conversation.id, conversation.state, replies)

    async def _replay(self, stored: Stored) -> RouteResult:
        """A message sent again (a web chat retry, a Telegram redelivery): what it got the first time."""
        async with self.sessions() as session:
            inbound = await session.get(Message, stored.message_id)
            conversation = await session.get(Conversation, inbound.conversation_id)
            if inbound.delivery_status == pending.PENDING:
                self.wake.set()
                return RouteResult(conversation.id, conversation.state, [], duplicate=True, pending=True)
            following = await session.scalar(select(func.min(Message.id)).where(
                Message.conversation_id == conversation.id, Message.direction == "in", Message.id > inbound.id))
            query = select(Message).where(Message.conversation_id == conversation.id, Message.id > inbound.id,
                                          Message.direction == "out", Message.delivery_status == "sent")
            if following is not None:
                query = query.where(Message.id < following)
            answers = (await session.scalars(query.order_by(Message.id))).all()
        replies = []
        for message in answers:
            payload = message.payload or {}
            reply = Reply(message.text or None, list(payload.get("buttons") or []), payload.get("image"),
                          list(payload.get("products") or []), dict(payload.get("meta") or {}))
            if feedback.is_knowledge_answer(reply.meta) and not reply.meta.get("feedback"):
                reply.feedback = feedback.buttons(message.id, stored.language)
            replies.append(reply)
        return RouteResult(conversation.id, conversation.state, replies, duplicate=True)

    # ------------------------------------------------------------ the bot's availability and the sweep

    async def _failed(self, message_id: int, exc: Exception) -> bool:
        """A pending message whose handling raised (the database locked, say): the next round tries again,
        and once it has waited past the grace it goes to staff without the bot (then True)."""
        if message_id not in self._failures:
            log.exception("pending message %s could not be handled; trying again", message_id, exc_info=exc)
        else:
            log.warning("pending message %s still cannot be handled (%s)", message_id, exc.__class__.__name__)
        self._failures.add(message_id)
        try:
            async with self.sessions() as session:
                session.info[LATE] = True
                inbound = await session.get(Message, message_id)
                if inbound is None or inbound.delivery_status != pending.PENDING or not self.overdue(
                        inbound.created_at):
                    return False
                conversation = await session.get(Conversation, inbound.conversation_id)
                customer = await session.get(Customer, conversation.customer_id)
                waiting = await pending.of_conversation(session, conversation.id)
                if conversation.state == State.BOT:
                    await self._to_staff(session, conversation, customer, inbound, waiting)
                else:  # with staff already: they have it
                    for message in waiting:
                        message.delivery_status = pending.HANDLED
                    await self.desk.kept_for_staff(session, conversation)
                    await self.desk.commit(session)
            self._failures.discard(message_id)
            return True
        except Exception as again:
            log.warning("pending message %s could not go to staff either (%s); trying again",
                        message_id, again.__class__.__name__)
            return False

    def waited(self, since: datetime) -> float:
        """Seconds a message has waited, counted from this app's start at the earliest (a restart restarts it)."""
        return (utcnow() - max(aware(since), self.started_at)).total_seconds()

    def overdue(self, since: datetime) -> bool:
        return self.waited(since) >= self.grace()

    def _bot_away(self, exc: Exception) -> None:
        self.bot_away_reason = str(exc)
        if self.bot_down_since is None:
            self.bot_down_since = time.monotonic()
            log.warning("the bot is not answering (%s); messages wait for it up to %.0f s", exc, self.grace())
        self.wake.set()

    async def _look_again(self) -> None:
        """While the bot is away, see (at most every PROBE_S) whether it is back: a customer writing just
        after Rasa came up is answered at once rather than at the next sweep."""
        now = time.monotonic()
        if self.bot_down_since is None or now - self._probed_at < PROBE_S:
            return
        self._probed_at = now
        if await self.rasa.reachable():
            self._bot_back()

    def _bot_back(self) -> None:
        if self.bot_down_since is not None:
            log.info("the bot answers again after %.0f s", time.monotonic() - self.bot_down_since)
            self.bot_down_since = None

    async def sweep(self) -> bool:
        """One round: answer what is pending (the bot is back), or route to staff what waited past the grace.

        Returns whether to look again soon (something is still pending, or the bot is away).
        """
        self._probed_at = 0.0  # the sweep always looks
        await self._look_again()
        async with self.sessions() as session:
            waiting = await pending.waiting_customers(session)
        if self.bot_down_since is not None:  # nothing to ask the bot: only what waited too long moves
            waiting = [w for w in waiting if self.overdue(w.since)]
        slots = asyncio.Semaphore(self.concurrency)

        async def drain(customer: pending.Waiting) -> None:
            async with slots:
                await self._drain(customer.channel, customer.external_id)
        await asyncio.gather(*(drain(customer) for customer in waiting))
        async with self.sessions() as session:
            left = await pending.count(session)
        return bool(left) or self.bot_down_since is not None

    async def _drain(self, channel: str, external_id: str) -> None:
        """This customer's pending messages, in order, each as if it had just come in; the answers are
        delivered later (stored ``pending``: the desk tells the channel, and the web chat fetches them)."""
        lock = self._lock(channel, external_id)
        if lock.locked():  # the customer's own message is being handled; the next round comes back
            return
        async with lock:
            for _ in range(pending.PER_CUSTOMER):
                failure: Exception | None = None
                async with self.sessions() as session:
                    session.info[LATE] = True
                    inbound = await pending.first_of_customer(session, channel, external_id)
                    if inbound is None:
                        return
                    message_id = inbound.id
                    conversation = await session.get(Conversation, inbound.conversation_id)
                    customer = await session.get(Customer, conversation.customer_id)
                    try:
                        result = await self._act(session, conversation, customer, inbound)
                    except Exception as exc:
                        failure = exc
                if failure is not None:
                    await self._failed(message_id, failure)
                    return
                self._failures.discard(message_id)
                if result.pending:
                    return

    async def _note_unanswered(self, session: AsyncSession, inbound: Message, replies: list[Reply],
                               handoff: HandoffReason | None) -> None:
        """Feed the owner's inbox: questions the bot was unsure of, and what went to staff."""
        if handoff in ASKED_BY_CUSTOMER:
            # "转人工" is not the question; the customer's message before it usually is, with what it got.
            question = await question_before(session, inbound.conversation_id, inbound.id)
            if question is not None:
                await note_question(session, question, handoff, await answer_to(session, question))
        elif handoff:
            await note_question(session, inbound, handoff)
        elif any(reply.meta.get(UNSURE) for reply in replies):
            await note_question(session, inbound, UNSURE)

    async def _open_conversation(self, session: AsyncSession, channel: str, external_id: str,
                                 name: str, language: str, text: str,
                                 address: str | None) -> tuple[Conversation, Customer]:
        """The customer's current conversation, and the customer (with the language to answer this message in)."""
        customer = await self._customer(session, channel, external_id, name, language)
        customer.last_seen = utcnow()
        if address is not None:
            customer.client_address = address
        customer.language = detect(text, customer.language)
        conversation = await session.scalar(
            select(Conversation).where(Conversation.customer_id == customer.id)
            .order_by(Conversation.id.desc()).limit(1))
        if conversation is None:
            conversation = Conversation(customer_id=customer.id, channel=channel, state=State.BOT)
            session.add(conversation)
            await session.flush()
        elif conversation.state == State.RESOLVED:
            await self.desk.customer_returned(session, conversation)
        return conversation, customer

    async def set_language(self, channel: str, external_id: str, name: str, language: str) -> None:
        """The language a customer chose (before writing anything, maybe): later answers follow it."""
        async with self.sessions() as session:
            customer = await self._customer(session, channel, external_id, name, language)
            customer.language = language
            await session.commit()

    @staticmethod
    async def _customer(session: AsyncSession, channel: str, external_id: str, name: str,
                        language: str) -> Customer:
        """The customer by their id in the channel; made on their first contact."""
        customer = await session.scalar(select(Customer).where(
            Customer.channel == channel, Customer.external_id == external_id))
        if customer is None:
            customer = Customer(channel=channel, external_id=external_id, name=name, language=language)
            session.add(customer)
            await session.flush()
        return customer

    async def _queued(self, session: AsyncSession, position: int, language: str) -> Reply:
        """Where the customer stands: place and expected wait, or when staff are back; and how to leave."""
        now = utcnow()
        if not self.hours.is_open(now):
            text = CLOSED_TEXT.to(language).format(opening=describe(self.hours.next_opening(now), now, language))
        else:
            minutes = await estimated_wait_minutes(session, position)
            text = QUEUE_TEXT.to(language).format(position=position, minutes=minutes, plural="s" if minutes != 1 else "")
        return Reply(text, [{"title": CANCEL_BUTTON.to(language), "payload": "/cancel"}])

    async def _cancel(self, session: AsyncSession, conversation: Conversation, language: str) -> list[Reply]:
        await self.desk.cancel(session, conversation)
        replies = [Reply(CANCELLED_TEXT.to(language))]
        await self._store_replies(session, conversation, replies)
        await self.desk.commit(session)
        return replies

    async def _rate(self, session: AsyncSession, conversation: Conversation, text: str,
                    language: str) -> list[Reply]:
        """The one-tap rating after staff resolved the chat (1-5), kept on the handoff."""
        match = RATING.fullmatch(text)
        if await self.desk.rate(session, conversation, int(match.group(1)) if match else None):
            replies = [Reply(RATING_THANKS_TEXT.to(language))]
        else:
            replies = [Reply(RATING_IGNORED_TEXT.to(language))]
        await self._store_replies(session, conversation, replies)
        await self.desk.commit(session)
        return replies

    async def _feedback(self, session: AsyncSession, conversation: Conversation, text: str,
                        language: str) -> list[Reply]:
        """有用 / 没用 under one of this customer's knowledge answers: kept once on that answer.

        没用 also offers the closest other questions and a person, and puts the customer's question
        with the answer it got in the owner's inbox.
        """
        parsed = feedback.parse(text)
        answer = await session.get(Message, parsed[0]) if parsed else None
        owner = await session.get(Conversation, answer.conversation_id) if answer is not None else None
        meta = dict((answer.payload or {}).get("meta") or {}) if answer is not None else {}
        if (parsed is None or answer is None or owner is None or owner.customer_id != conversation.customer_id
                or answer.author != "bot" or not feedback.is_knowledge_answer(meta)):
            replies = [Reply(FEEDBACK_REFUSED_TEXT.to(language))]
        elif meta.get("feedback"):
            replies = [Reply(FEEDBACK_AGAIN_TEXT.to(language))]
        else:
            verdict = feedback.HELPFUL if parsed[1] else feedback.NOT_HELPFUL
            meta.update(feedback=verdict, feedback_at=utcnow().isoformat())
            answer.payload = {**(answer.payload or {}), "meta": meta}  # a new dict: SQLAlchemy sees the change
            if parsed[1]:
                replies = [Reply(HELPFUL_THANKS_TEXT.to(language), meta={"feedback_on": answer.id})]
            else:
                question = await session.scalar(select(Message).where(
                    Message.conversation_id == answer.conversation_id, Message.direction == "in",
                    Message.id < answer.id).order_by(Message.id.desc()).limit(1))
                await note_question(session, question, "not_helpful", answer.text or None)
                asked = question.text if question is not None and not question.text.startswith("/") else ""
                questions = await self._other_questions(meta, asked, language)
                replies = [Reply(NOT_HELPFUL_TEXT.to(language),
                                 [*({"title": q, "payload": q} for q in questions), ask_human_button(language)],
                                 meta={"feedback_on": answer.id})]
        await self._store_replies(session, conversation, replies)
        await self.desk.commit(session)
        return replies

    async def _other_questions(self, meta: dict[str, Any], question: str, language: str) -> list[str]:
        """The closest questions other than the one answered: the answer's other KB hits, else the next best."""
        answered = feedback.answering_entry(meta)
        hits = [str(hit["id"]) for hit in meta.get(KB) or [] if isinstance(hit, dict) and hit.get("id")]
        questions = self._phrasings(hits, answered, question, language, [])
        if len(questions) < SUGGESTED_QUESTIONS and question:
            similar = await asyncio.to_thread(self.similar, question)
            questions = self._phrasings(similar, answered, question, language, questions)
        return questions

    def _phrasings(self, entry_ids: list[str], answered: str | None, question: str, language: str,
                   questions: list[str]) -> list[str]:
        for entry_id in entry_ids:
            if len(questions) >= SUGGESTED_QUESTIONS:
                break
            phrasing = self.phrasing(entry_id, language) if entry_id != answered else None
            if phrasing and phrasing != question and phrasing not in questions:
                questions = [*questions, phrasing]
        return questions

    async def _store_replies(self, session: AsyncSession, conversation: Conversation,
                             replies: list[Reply]) -> list[Message]:
        """Bot replies, through the desk: ``sent`` when they go back in the customer's own web chat request
        (the page shows them), else ``pending`` for the channel, which marks them once it has sent them."""
        in_response = not late(session) and conversation.channel in REPLIES_IN_RESPONSE
        outgoing = [Outgoing(reply.text or "", {key: value for key, value in (
            ("buttons", reply.buttons), ("image", reply.image), ("products", reply.products), ("meta", reply.meta))
            if value}) for reply in replies]
        stored = await self.desk.bot_replies(session, conversation, outgoing, in_response=in_response)
        await session.flush()
        for reply, message in zip(replies, stored):
            reply.message_id = message.id
        return stored


ROUTER = web.AppKey("router", Router)
