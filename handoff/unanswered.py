"""Feeding the owner's inbox: which customer message was the question, and what the bot answered to it.

Each customer message is noted once (``UnansweredQuestion.message_id``), whatever happens to it
later; tapped buttons (``/intent{...}`` payloads) are not questions and are never noted.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.feedback import is_knowledge_answer
from core.db import Message, UnansweredQuestion


async def question_before(session: AsyncSession, conversation_id: int, before: int | None = None) -> Message | None:
    """The customer's latest typed message in the conversation (before message id ``before``, if given).

    "转人工" tapped as a button is not the question; the message the customer wrote before it usually is.
    """
    query = select(Message).where(Message.conversation_id == conversation_id, Message.direction == "in",
                                  Message.author == "customer", ~Message.text.startswith("/"))
    if before is not None:
        query = query.where(Message.id < before)
    return await session.scalar(query.order_by(Message.id.desc()).limit(1))


async def answer_to(session: AsyncSession, question: Message) -> str | None:
    """The bot's knowledge answer to ``question``, if its first reply was one."""
    reply = await session.scalar(select(Message).where(
        Message.conversation_id == question.conversation_id, Message.id > question.id, Message.author == "bot")
        .order_by(Message.id).limit(1))
    if reply is None or not is_knowledge_answer((reply.payload or {}).get("meta")):
        return None
    return reply.text or None


async def note_question(session: AsyncSession, question: Message | None, reason: str,
                        answer: str | None = None) -> None:
    """Put ``question`` in the inbox (once per message; a later note only adds the answer it got)."""
    if question is None or question.direction != "in" or not question.text.strip() or question.text.startswith("/"):
        return
    row = await session.scalar(select(UnansweredQuestion).where(UnansweredQuestion.message_id == question.id)
                               .order_by(UnansweredQuestion.id).limit(1))
    if row is None:
        session.add(UnansweredQuestion(message_id=question.id, text=question.text, reason=reason, answer=answer))
    elif answer and not row.answer:
        row.answer = answer
