"""The web chat: the page customers open, and ``POST /api/chat/{sender}`` behind it."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from handoff.queue import message_json
from techan.appkeys import ROUTER, SESSIONS, TEMPLATES
from techan.db import Conversation, Customer, Message
from techan.jsonbody import json_object

SENDER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PAYLOAD = re.compile(r"^/[a-z_]+(\{.*\})?$", re.S)
MAX_TEXT = 4000
MAX_BODY_BYTES = 64 * 1024
STATIC = Path(__file__).resolve().parent.parent / "static"


async def chat_page(request: web.Request) -> web.Response:
    html = request.app[TEMPLATES].get_template("chat.html").render(max_text=MAX_TEXT)
    return web.Response(text=html, content_type="text/html")


async def chat_message(request: web.Request) -> web.Response:
    """One customer message in; the conversation state and the bot's replies out."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length,
                                            text=f"request body is over {MAX_BODY_BYTES // 1024} KB")
    body = await json_object(request, '{"text": "..."}')
    text, payload = body.get("text"), body.get("payload")
    if payload is not None:
        if not isinstance(payload, str) or not PAYLOAD.match(payload.strip()):
            raise web.HTTPBadRequest(text='payload must look like "/intent" or "/intent{...}"')
        text = payload.strip()
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(text="message text is empty")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_TEXT, actual_size=len(text),
            text=f"message is {len(text)} characters; the limit is {MAX_TEXT}")
    result = await request.app[ROUTER].handle("web", sender, text)
    return web.json_response({"state": result.state, "replies": [r.public() for r in result.replies]})


async def staff_messages(request: web.Request) -> web.Response:
    """What staff (or the system) sent since ``after``: the web chat polls this while with staff."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        raise web.HTTPBadRequest(text="after must be a message id") from None
    async with request.app[SESSIONS]() as session:
        conversation = await session.scalar(
            select(Conversation).join(Customer, Conversation.customer_id == Customer.id)
            .where(Customer.channel == "web", Customer.external_id == sender).order_by(Conversation.id.desc()).limit(1))
        if conversation is None:
            return web.json_response({"state": "bot", "messages": []})
        messages = (await session.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.id > after,
            Message.author.in_(("staff", "system"))).order_by(Message.id))).all()
        for message in messages:
            message.delivery_status = "delivered"
        await session.commit()
        return web.json_response({"state": conversation.state, "messages": [message_json(m) for m in messages]})


def setup(app: web.Application) -> None:
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat/{sender}", chat_message)
    app.router.add_get("/api/chat/{sender}/messages", staff_messages)
    app.router.add_static("/static", STATIC)
