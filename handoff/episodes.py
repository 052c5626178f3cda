"""Handoff episodes: opening one with its context card, the queue, claiming, ending, and the state
transitions they go with. Only the desk (handoff.desk) changes handoffs through these; readers may share `in_queue`."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.bot_payload import CATALOG, FAMILY, KB, SHIPPING, UNSURE, HandoffReason
from handoff import limits
from handoff.feedback import PREFIX as FEEDBACK_PREFIX
from handoff.feedback import parse as parse_feedback
from handoff.states import Event, State, next_state
from core.db import Conversation, ConversationEvent, Customer, Handoff, Message, aware, utcnow
from handoff.transcript import message_json

log = logging.getLogger(__name__)

TRANSCRIPT_LIMIT = 200
SUMMARY_QUESTIONS = 3
CONTEXT_LINES = 8  # what the bot did, its last steps
ASKED_CHARS = 40  # of the question each step quotes
DEFAULT_WAIT_S = 180


async def build_context(session: AsyncSession, conversation: Conversation, reason: HandoffReason) -> dict:
    """The context card staff see first: why, who, what was asked and answered, in brief."""
    messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                      .order_by(Message.id.desc()).limit(TRANSCRIPT_LIMIT))).all()[::-1]
    customer = await session.get(Customer, conversation.customer_id)
    earlier = await session.scalar(select(func.count(Conversation.id)).where(
        Conversation.customer_id == customer.id, Conversation.id != conversation.id))
    questions = [m.text for m in messages if m.direction == "in" and not m.text.startswith("/")]
    kb_answers, products = [], []
    for message in messages:
        meta = (message.payload or {}).get("meta", {})
        if meta.get(KB) and not meta.get(UNSURE):
            kb_answers.append({"id": meta[KB][0]["id"], "score": meta[KB][0]["score"]})
        products += [{"id": p.get("id"), "name": p.get("name"), "price": p.get("price")}
                     for p in (message.payload or {}).get("products", [])]
    summary_items = [q for q in questions if q not in ("转人工", "人工客服")][-SUMMARY_QUESTIONS:]
    summary = "顾客问了：" + "；".join(summary_items)  # for staff, whose console and group are in Chinese
    return {
        "reason": reason,
        "summary": summary if summary_items else "",
        "questions": summary_items,  # the summary's questions, for a console in another language
        "customer": {"name": customer.name, "language": customer.language, "channel": customer.channel,
                     "first_seen": aware(customer.first_seen).isoformat(), "earlier_conversations": earlier},
        "kb_answers": kb_answers,
        "bot_did": bot_did(messages),
        "products": products,
        "transcript": [message_json(m) for m in messages],
    }


def bot_did(messages: list[Message]) -> list[dict[str, Any]]:
    """What the bot did with each question, for staff to read in words (the console phrases each step in its
    language): answered from which entry, unsure, recommended gifts, quoted shipping, and where the customer
    said 没用 — not ids and scores. Each step: ``did``, and ``asked`` / ``entry`` / ``products`` as it has them."""
    said: list[dict[str, Any]] = []
    question = ""
    by_id = {message.id: message for message in messages}
    for message in messages:
        payload = message.payload or {}
        if message.direction == "in":
            verdict = parse_feedback(message.text) if message.text.startswith(FEEDBACK_PREFIX) else None
            if verdict and not verdict[1] and verdict[0] in by_id:
                said.append({"did": "not_helpful", "entry": entry_of(by_id[verdict[0]])})
            elif not message.text.startswith("/"):
                question = message.text
            continue
        if message.author != "bot":
            continue
        meta = payload.get("meta", {})
        asked = question if len(question) <= ASKED_CHARS else question[:ASKED_CHARS - 1] + "…"
        if meta.get(UNSURE):
            said.append({"did": "unsure", "asked": asked})
        elif meta.get(SHIPPING):
            said.append({"did": "shipping", "asked": asked})
        elif meta.get(CATALOG) or meta.get(FAMILY):
            said.append({"did": "catalog", "asked": asked})
        elif meta.get(KB):
            said.append({"did": "answered", "asked": asked, "entry": entry_of(message)})
        elif payload.get("products"):
            said.append({"did": "recommended", "products": [p.get("name", "") for p in payload["products"]]})
    return said[-CONTEXT_LINES:]


def entry_of(message: Message) -> str:
    """The knowledge entry an answer came from, by its first question (its id for older answers)."""
    hits = ((message.payload or {}).get("meta", {}) or {}).get(KB) or [{}]
    first = hits[0] if isinstance(hits[0], dict) else {}
    return str(first.get("question") or first.get("id") or "?")


async def open_handoff(session: AsyncSession, conversation: Conversation, reason: HandoffReason) -> tuple[Handoff, int]:
    """Start a handoff episode; returns it and the customer's position in the queue. From an address that has
    spent a network limit lately it starts set aside, as the chats that were waiting when the limit tripped."""
    handoff = Handoff(conversation_id=conversation.id, reason=reason,
                      context=await build_context(session, conversation, reason))
    session.add(handoff)
    await session.flush()
    customer = await session.get(Customer, conversation.customer_id)
    if reason != HandoffReason.STAFF_TAKEOVER and (
            limit := await limits.network_limit_spent(session, customer.client_address)):
        _set_aside(session, handoff, limit)
    return handoff, await queue_position(session, handoff)


def in_queue():
    """The handoffs waiting in the staff queue: not ended, not claimed, not set aside."""
    return (Handoff.ended_at.is_(None), Handoff.claimed_by.is_(None), Handoff.set_aside.is_(None))


async def queue_position(session: AsyncSession, handoff: Handoff) -> int:
    """1 for the first in the queue; a handoff set aside is behind everyone (counted as last)."""
    if handoff.set_aside:
        return await session.scalar(select(func.count(Handoff.id)).where(*in_queue())) + 1
    return await session.scalar(select(func.count(Handoff.id)).where(*in_queue(), Handoff.id <= handoff.id))


async def set_aside(session: AsyncSession, address: str, limit: str) -> list[Handoff]:
    """Take the handoffs of ``address`` still waiting out of the queue, each with its reason recorded."""
    waiting = (await session.scalars(
        select(Handoff).join(Conversation, Handoff.conversation_id == Conversation.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(Customer.client_address == address, *in_queue()))).all()
    for handoff in waiting:
        _set_aside(session, handoff, limit)
    return list(waiting)


def _set_aside(session: AsyncSession, handoff: Handoff, limit: str) -> None:
    handoff.set_aside = limit
    session.add(ConversationEvent(conversation_id=handoff.conversation_id, name="set_aside",
                                  from_state=State.WAITING, to_state=State.WAITING,
                                  data={"limit": limit, "handoff": handoff.id}))


async def estimated_wait_minutes(session: AsyncSession, position: int) -> int:
    """Position × the median time recent customers waited to be claimed (3 minutes before any data)."""
    recent = (await session.execute(select(Handoff.created_at, Handoff.claimed_at).where(
        Handoff.claimed_at.is_not(None)).order_by(Handoff.id.desc()).limit(50))).all()
    waits = sorted((aware(claimed) - aware(created)).total_seconds() for created, claimed in recent)
    median = waits[len(waits) // 2] if waits else DEFAULT_WAIT_S
    return max(1, round(position * median / 60))


async def current_handoff(session: AsyncSession, conversation_id: int) -> Handoff | None:
    return await session.scalar(select(Handoff).where(
        Handoff.conversation_id == conversation_id, Handoff.ended_at.is_(None)).order_by(Handoff.id.desc()).limit(1))


async def claim(session: AsyncSession, handoff_id: int, staff_id: int) -> bool:
    """Atomically take an unclaimed handoff: of two staff clicking at once, exactly one wins."""
    result = await session.execute(
        update(Handoff).where(Handoff.id == handoff_id, Handoff.claimed_by.is_(None), Handoff.ended_at.is_(None))
        .values(claimed_by=staff_id, claimed_at=utcnow()))
    return result.rowcount == 1


def end_handoff(handoff: Handoff, ended_by: str) -> None:
    handoff.ended_at, handoff.ended_by = utcnow(), ended_by


async def transition(session: AsyncSession, conversation: Conversation, event: Event, data: dict) -> None:
    """Move the conversation through the state table and record the named event."""
    before = conversation.state
    conversation.state = next_state(before, event)
    conversation.state_changed_at = utcnow()
    session.add(ConversationEvent(conversation_id=conversation.id, name=event, from_state=before,
                                  to_state=conversation.state, data=data))
    log.info("conversation %s: %s -> %s (%s)", conversation.id, before, conversation.state, event)
