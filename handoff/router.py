"""The one path every customer message takes, whatever the channel.

Store the message first, then act: ask Rasa while the conversation is with the
bot, otherwise keep it for staff. A few payloads are the router's own and never
reach Rasa: ``/rate`` (the rating after staff) and ``/feedback`` (有用 / 没用 under
a knowledge answer, see handoff.feedback). Rasa's custom payloads carry control
(``handoff``), product cards (``products``) and answer provenance
(``techan``), which the router turns into state changes and stored metadata.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from actions.handoff import ask_human_button
from handoff import feedback
from handoff.hub import Hub
from handoff.hours import BusinessHours, describe
from handoff.queue import current_handoff, end_handoff, estimated_wait_minutes, open_handoff, transition
from handoff.rasa_client import RasaClient, RasaUnavailable
from handoff.states import HANDOFF_REASONS, Event, State
from handoff.unanswered import answer_to, note_question, question_before
from techan.db import Conversation, Customer, Handoff, Message, utcnow
from techan.language import Say, detect, to_simplified

log = logging.getLogger(__name__)

BOT_UNAVAILABLE_TEXT = Say("抱歉，智能助手暂时有点忙，您的消息已经收到并转给店员，我们会尽快回复您。",
                           "Sorry, the assistant is busy right now. Your message has reached our staff, "
                           "who will answer as soon as they can.")
MAX_TEXT_TO_RASA = 1000
QUEUE_TEXT = Say("您现在排在第 {position} 位，预计等待约 {minutes} 分钟，店员接入后会在这里回复您。想继续问机器人，可以点“取消”。",
                 "You are number {position} in the queue, about {minutes} minutes' wait. Our staff will answer "
                 "here. To keep asking the bot, tap \"Cancel\".")
CLOSED_TEXT = Say("店员现在下班了，{opening} 上班后会第一时间回复您。您的消息已经记下，不会丢；也可以点“取消”继续问机器人。",
                  "Our staff are away now and will answer first thing {opening}. Your messages are kept; "
                  "you can also tap \"Cancel\" to keep asking the bot.")
CANCEL_BUTTON = Say("取消，继续问机器人", "Cancel, keep asking the bot")
CANCELLED_TEXT = Say("好的，已取消转人工，机器人继续为您服务。", "OK, cancelled. The bot is here for you again.")
CANCEL_WORDS = ("取消", "不用了", "算了", "cancel")
RATING = re.compile(r'/rate\{"score":\s*([1-5])\}')
RATING_THANKS_TEXT = Say("谢谢您的评价！欢迎随时再来。", "Thank you for the rating! Come back any time.")
RATING_IGNORED_TEXT = Say("这次服务已经评过分了，谢谢！", "This chat has been rated already, thank you!")
# After a person: resume, close any form, forget misses, and end the paused turn (see Router.resume_bot).
RESUME_EVENTS = ({"event": "resume"}, {"event": "active_loop", "name": None},
                 {"event": "slot", "name": "requested_slot", "value": None},
                 {"event": "slot", "name": "kb_misses", "value": 0},
                 {"event": "action", "name": "action_listen"})
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

    def public(self) -> dict[str, Any]:
        shown = {"text": self.text, "buttons": self.buttons, "image": self.image, "products": self.products}
        return {**shown, "feedback": self.feedback} if self.feedback else shown


@dataclass
class RouteResult:
    conversation_id: int
    state: str
    replies: list[Reply]
    duplicate: bool = False


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], str | None]:
    """Turn Rasa's REST messages into replies; returns (replies, handoff reason or None)."""
    replies: list[Reply] = []
    handoff: str | None = None
    for message in messages:
        custom = message.get("custom") or {}
        if message.get("text") or message.get("image") or message.get("buttons"):
            buttons = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                       for b in message.get("buttons") or []]
            replies.append(Reply(message.get("text"), buttons, message.get("image")))
        if not isinstance(custom, dict):
            continue
        if isinstance(custom.get("handoff"), dict):
            reason = custom["handoff"].get("reason")
            handoff = reason if reason in HANDOFF_REASONS else "customer_request"
        if custom.get("products"):
            if not replies or replies[-1].products:
                replies.append(Reply())
            replies[-1].products = list(custom["products"])
        if isinstance(custom.get("techan"), dict) and replies:
            replies[-1].meta.update(custom["techan"])
    return replies, handoff


def rasa_sender(channel: str, external_id: str) -> str:
    return f"{channel}-{external_id}"


class Router:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], rasa: RasaClient, hub: Hub,
                 hours: BusinessHours, *, phrasing: Phrasing = lambda _entry, _language: None,
                 similar: Similar = lambda _question: []) -> None:
        """``phrasing`` and ``similar`` are the knowledge base as far as the router needs it: the
        questions to offer after a 没用 (the app passes the knowledge service's; the router never loads it)."""
        self.sessions = sessions
        self.rasa = rasa
        self.hub = hub
        self.hours = hours
        self.phrasing = phrasing
        self.similar = similar
        # One lock per customer keeps their messages in order; unused locks vanish with their last user.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    async def handle(self, channel: str, external_id: str, text: str, *, name: str = "", language: str = "zh",
                     channel_message_id: str | None = None, media: dict[str, str] | None = None) -> RouteResult:
        """Route one customer message (already validated) and return the replies to show.

        ``channel_message_id`` (a Telegram update id, say) makes a redelivered message a no-op;
        ``media`` is an attachment already stored under the data dir (kind, url).
        """
        lock = self._locks.get((channel, external_id))
        if lock is None:
            lock = self._locks[(channel, external_id)] = asyncio.Lock()
        async with lock:
            async with self.sessions() as session:
                conversation, language = await self._open_conversation(session, channel, external_id, name,
                                                                       language, text)
                if channel_message_id and await session.scalar(select(Message.id).where(
                        Message.channel == channel, Message.channel_message_id == channel_message_id)):
                    return RouteResult(conversation.id, conversation.state, [], duplicate=True)
                inbound = Message(conversation_id=conversation.id, direction="in", author="customer",
                                  channel=channel, text=text, delivery_status="received",
                                  channel_message_id=channel_message_id, payload={"media": media} if media else {})
                session.add(inbound)
                known = RouteResult(conversation.id, conversation.state, [], duplicate=True)
                try:
                    await session.commit()
                except IntegrityError:  # the same message arriving twice at once
                    await session.rollback()  # expires the conversation; answer from what was read before
                    return known

                if text.startswith("/rate"):
                    replies = await self._rate(session, conversation, text, language)
                    return RouteResult(conversation.id, conversation.state, replies)
                if text.startswith(feedback.PREFIX):
                    replies = await self._feedback(session, conversation, text, language)
                    return RouteResult(conversation.id, conversation.state, replies)
                if conversation.state == State.WAITING and (text == "/cancel" or text.lower() in CANCEL_WORDS):
                    replies = await self._cancel(session, conversation, rasa_sender(channel, external_id), language)
                    return RouteResult(conversation.id, conversation.state, replies)
                if conversation.state != State.BOT:
                    # With staff: the bot stays silent; the console is told of the stored message.
                    await self.hub.publish({"type": "message", "conversation_id": conversation.id})
                    return RouteResult(conversation.id, conversation.state, [])
                if media:  # the bot cannot look at pictures or listen to voice notes; staff can
                    replies = [Reply(MEDIA_TO_STAFF_TEXT.to(language), [ask_human_button(language)])]
                    self._store_replies(session, conversation, replies)
                    await session.commit()
                    return RouteResult(conversation.id, conversation.state, replies)

                sender = rasa_sender(channel, external_id)
                try:
                    # Rasa's NLU learnt simplified characters; the stored message keeps what the customer wrote.
                    messages = await self.rasa.message(sender, to_simplified(text)[:MAX_TEXT_TO_RASA],
                                                       {"channel": channel, "language": language})
                    replies, handoff = replies_from_rasa(messages)
                    if not replies:
                        raise RasaUnavailable("Rasa produced no reply (action endpoint failing?)")
                except RasaUnavailable as exc:
                    log.error("conversation %s: %s; handing off", conversation.id, exc)
                    replies, handoff = [Reply(BOT_UNAVAILABLE_TEXT.to(language))], "bot_unavailable"

                stored = self._store_replies(session, conversation, replies)
                await session.flush()  # the answers' ids: their feedback buttons name them
                for reply, message in zip(replies, stored):
                    if feedback.is_knowledge_answer(reply.meta):
                        reply.feedback = feedback.buttons(message.id, language)
                await self._note_unanswered(session, inbound, replies, handoff)
                if handoff:
                    await transition(session, conversation, Event.HANDOFF_REQUESTED, {"reason": handoff})
                    conversation.handoff_reason = handoff
                    _episode, position = await open_handoff(session, conversation, handoff)
                    queued = Reply(await self._queue_text(session, position, language),
                                   [{"title": CANCEL_BUTTON.to(language), "payload": "/cancel"}])
                    self._store_replies(session, conversation, [queued])
                    replies.append(queued)
                await session.commit()
                if handoff:
                    await self.hub.publish({"type": "queue", "conversation_id": conversation.id})
                return RouteResult(conversation.id, conversation.state, replies)

    async def _note_unanswered(self, session: AsyncSession, inbound: Message, replies: list[Reply],
                               handoff: str | None) -> None:
        """Feed the owner's inbox: questions the bot was unsure of, and what went to staff."""
        if handoff in ("customer_request", "video_request"):
            # "转人工" is not the question; the customer's message before it usually is, with what it got.
            question = await question_before(session, inbound.conversation_id, inbound.id)
            if question is not None:
                await note_question(session, question, handoff, await answer_to(session, question))
        elif handoff:
            await note_question(session, inbound, handoff)
        elif any(reply.meta.get("unsure") for reply in replies):
            await note_question(session, inbound, "unsure")

    async def _open_conversation(self, session: AsyncSession, channel: str, external_id: str,
                                 name: str, language: str, text: str) -> tuple[Conversation, str]:
        """The customer's current conversation, and the language to answer this message in."""
        customer = await session.scalar(select(Customer).where(
            Customer.channel == channel, Customer.external_id == external_id))
        if customer is None:
            customer = Customer(channel=channel, external_id=external_id, name=name, language=language)
            session.add(customer)
            await session.flush()
        customer.last_seen = utcnow()
        customer.language = detect(text, customer.language)
        conversation = await session.scalar(
            select(Conversation).where(Conversation.customer_id == customer.id)
            .order_by(Conversation.id.desc()).limit(1))
        if conversation is None:
            conversation = Conversation(customer_id=customer.id, channel=channel, state=State.BOT)
            session.add(conversation)
            await session.flush()
        elif conversation.state == State.RESOLVED:
            await transition(session, conversation, Event.CUSTOMER_RETURNED, {})
            await self.resume_bot(rasa_sender(channel, external_id))  # idempotent: covers a failed resume
        return conversation, customer.language

    async def _queue_text(self, session: AsyncSession, position: int, language: str) -> str:
        """Where the customer stands: place and expected wait, or when staff are back."""
        now = utcnow()
        if not self.hours.is_open(now):
            opening = self.hours.next_opening(now)
            return CLOSED_TEXT.to(language).format(opening=describe(opening, now, language))
        minutes = await estimated_wait_minutes(session, position)
        return QUEUE_TEXT.to(language).format(position=position, minutes=minutes)

    async def resume_bot(self, sender: str) -> None:
        """Let Rasa answer this customer again, starting fresh (best effort: the customer's return retries it).

        Rasa stops its prediction loop at ``ConversationPaused`` without the closing ``action_listen``,
        so after a plain resume the next message followed an unfinished turn: no rule matched, the policies
        predicted the answer again and again until Rasa's circuit breaker (ten actions) tripped, and the
        turn after that failed. Closing the turn here, and any form left open, makes the next message a
        normal one.
        """
        await self._tracker_events(sender, list(RESUME_EVENTS))

    async def pause_bot(self, sender: str) -> None:
        """Stop Rasa's dialogue for this customer (best effort: the router no longer asks it anyway)."""
        await self._tracker_events(sender, [{"event": "pause"}])

    async def _tracker_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        try:
            await self.rasa.add_events(sender, events)
        except RasaUnavailable as exc:
            log.warning("could not %s the bot for a customer: %s", events[0]["event"], exc)

    async def _cancel(self, session: AsyncSession, conversation: Conversation, sender: str,
                      language: str) -> list[Reply]:
        await transition(session, conversation, Event.CANCELLED, {})
        if handoff := await current_handoff(session, conversation.id):
            await end_handoff(session, handoff, "customer")
        replies = [Reply(CANCELLED_TEXT.to(language))]
        self._store_replies(session, conversation, replies)
        await session.commit()
        await self.hub.publish({"type": "queue", "conversation_id": conversation.id})
        await self.resume_bot(sender)
        return replies

    async def _rate(self, session: AsyncSession, conversation: Conversation, text: str,
                    language: str) -> list[Reply]:
        """The one-tap rating after staff resolved the chat (1-5), kept on the handoff."""
        match = RATING.fullmatch(text)
        handoff = await session.scalar(select(Handoff).where(
            Handoff.conversation_id == conversation.id, Handoff.ended_by == "staff", Handoff.rating.is_(None))
            .order_by(Handoff.id.desc()).limit(1))
        if match is None or handoff is None:
            replies = [Reply(RATING_IGNORED_TEXT.to(language))]
        else:
            handoff.rating = int(match.group(1))
            replies = [Reply(RATING_THANKS_TEXT.to(language))]
        self._store_replies(session, conversation, replies)
        await session.commit()
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
        self._store_replies(session, conversation, replies)
        await session.commit()
        return replies

    async def _other_questions(self, meta: dict[str, Any], question: str, language: str) -> list[str]:
        """The closest questions other than the one answered: the answer's other KB hits, else the next best."""
        answered = feedback.answering_entry(meta)
        hits = [str(hit["id"]) for hit in meta.get("kb") or [] if isinstance(hit, dict) and hit.get("id")]
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

    @staticmethod
    def _store_replies(session: AsyncSession, conversation: Conversation, replies: list[Reply]) -> list[Message]:
        stored = []
        for reply in replies:
            shown = {"buttons": reply.buttons, "image": reply.image, "products": reply.products, "meta": reply.meta}
            stored.append(Message(
                conversation_id=conversation.id, direction="out", author="bot", channel=conversation.channel,
                text=reply.text or "", delivery_status="sent", payload={k: v for k, v in shown.items() if v}))
            session.add(stored[-1])
        return stored
