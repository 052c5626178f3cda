"""Staff assist: beside a chat, what the knowledge service (the bot's own answer path) offers for the customer's
last question, and the products nearest to it, each ready to go into the reply."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from core.bot_payload import ASKED_BY_CUSTOMER, CATALOG, FAMILY
from core.db import Conversation, Customer, Handoff, Message, aware
from knowledge.live import KNOWLEDGE
from knowledge.service import product_summary
from web.auth import require
from web.body import path_id
from web.keys import SESSIONS

LOOK_BACK = 50  # messages read back from the newest to find the last question and the product discussed


def last_question(messages: list[Message], person_asked_at: list) -> tuple[Message | None, str | None]:
    """The customer's newest typed message (not a tapped button, a picture, or the words that asked for a person,
    such as 转人工: the message just before a handoff the customer asked for), and the product or family the bot
    spoke of before it (the conversation's context), from messages newest first."""
    typed = [m for m in messages if m.direction == "in" and m.text.strip() and not m.text.startswith("/")
             and not (m.payload or {}).get("media")]
    inbound = [m for m in messages if m.direction == "in"]  # a tapped 找店员 button asks too
    asking_for_a_person = {next((m.id for m in inbound if aware(m.created_at) <= aware(at)), None)
                           for at in person_asked_at}
    question = next((m for m in typed if m.id not in asking_for_a_person), None)
    if question is None:
        return None, None
    for earlier in messages:
        meta = (earlier.payload or {}).get("meta") or {}
        if earlier.id < question.id and earlier.author == "bot" and (meta.get(CATALOG) or meta.get(FAMILY)):
            return question, meta.get(CATALOG) or meta.get(FAMILY)
    return question, None


async def assist(request: web.Request) -> web.Response:
    await require(request, "staff")
    conversation_id = path_id(request, "conversation_id")
    async with request.app[SESSIONS]() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise web.HTTPNotFound(text="no such conversation")
        customer = await session.get(Customer, conversation.customer_id)
        messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation_id)
                                          .order_by(Message.id.desc()).limit(LOOK_BACK))).all()
        person_asked_at = (await session.scalars(select(Handoff.created_at).where(
            Handoff.conversation_id == conversation_id, Handoff.reason.in_(ASKED_BY_CUSTOMER)))).all()
    question, context = last_question(list(messages), list(person_asked_at))
    if question is None:
        return web.json_response({"question": None, "suggestions": [], "products": []})
    knowledge, language = request.app[KNOWLEDGE], customer.language
    suggestions, product_ids = await asyncio.to_thread(knowledge.suggest, question.text, context, language)
    products = [product for product in map(knowledge.catalog.get, product_ids) if product is not None]
    return web.json_response({
        "question": {"id": question.id, "text": question.text},
        "suggestions": [{"source": s.source, "title": s.title, "text": s.text, "bot_answer": s.bot_answer}
                        for s in suggestions],
        "products": [{**product.card(language=language), "stock": product.stock,
                      "text": product_summary(product, language)} for product in products],
    })


def setup(app: web.Application) -> None:
    app.router.add_get("/api/conversations/{conversation_id}/assist", assist)
