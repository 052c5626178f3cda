"""The web chat: the page customers open, and ``POST /api/chat/{sender}`` behind it."""

from __future__ import annotations

import hashlib
import logging
import re
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web
from sqlalchemy import or_, select, update

from handoff import limits, pending
from handoff.events import BUS, OutboundMessage
from handoff.hub import HUB
from handoff.transcript import message_json
from handoff.router import ROUTER
from web.keys import LIMITS, SESSIONS, SETTINGS, TEMPLATES
from core.db import Conversation, Customer, Message, is_busy
from core.limits import client_address
from web.auth import refuse_cross_origin
from web.body import json_object

log = logging.getLogger(__name__)

CHANNEL = "web"
SENDER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Both languages: nothing is known of the customer when even storing the message failed.
NOT_STORED_TEXT = "消息暂时没有存上，正在重新发送，请稍候。/ Your message didn't go through yet; sending it again, one moment."
PAYLOAD = re.compile(r"^/[a-z_]+(\{.*\})?$", re.S)
MAX_TEXT = 4000
MAX_BODY_BYTES = 64 * 1024  # enforced by the app's body limits (techan/app.py BODY_LIMITS)
STATIC = Path(__file__).resolve().parent.parent / "static"


async def chat_page(request: web.Request) -> web.Response:
    html = request.app[TEMPLATES].get_template("chat.html").render(max_text=MAX_TEXT)
    return web.Response(text=html, content_type="text/html")


async def chat_message(request: web.Request) -> web.Response:
    """One customer message in; the conversation state and the bot's replies out.

    ``client_id`` (optional, from the page) names the message: a retry with the same id is the same
    message, stored once, and gets the replies it got the first time. ``pending`` in the answer: the bot
    will answer later (the page fetches it from ``…/messages``).
    """
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    body = await json_object(request, '{"text": "..."}')
    text, payload, client_id = body.get("text"), body.get("payload"), body.get("client_id")
    if payload is not None:
        if not isinstance(payload, str) or not PAYLOAD.match(payload.strip()):
            raise web.HTTPBadRequest(text='payload must look like "/intent" or "/intent{...}"')
        text = payload.strip()
    if not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest(text="message text is empty")
    if client_id is not None and (not isinstance(client_id, str) or not CLIENT_ID.match(client_id)):
        raise web.HTTPBadRequest(text="client_id must be 8-64 letters, digits, '-' or '_'")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_TEXT, actual_size=len(text),
            text=f"message is {len(text)} characters; the limit is {MAX_TEXT}")
    router, settings = request.app[ROUTER], request.app[SETTINGS]
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), settings.proxies)
    try:
        over = await limits.admit(request.app[LIMITS], settings, CHANNEL, sender, address,
                                  new_customer=lambda: router.is_new(CHANNEL, sender))
        result = await router.handle(CHANNEL, sender, text, channel_message_id=message_key(sender, client_id),
                                     address=address, limited=over)
    except Exception as exc:  # never an English "internal error" for a customer; the page sends it again
        busy = is_busy(exc)
        log.log(logging.WARNING if busy else logging.ERROR, "a web chat message could not be stored (%s)",
                "database busy" if busy else exc.__class__.__name__, exc_info=not busy)
        return web.json_response({"error": NOT_STORED_TEXT, "retry": True}, status=503 if busy else 500)
    answer = {"state": result.state, "replies": [r.public() for r in result.replies]}
    if over:  # 200, so the page shows the notice; the header and flag say when to send again
        return web.json_response({**answer, "limited": True, "retry_after": over.retry_after},
                                 headers={"Retry-After": str(over.retry_after)})
    return web.json_response({**answer, "pending": True} if result.pending else answer)


def message_key(sender: str, client_id: str | None) -> str | None:
    """The stored channel message id of a web message: one customer's client id, never another's."""
    if client_id is None:
        return None
    return "web:" + hashlib.sha256(f"{sender}\n{client_id}".encode()).hexdigest()[:40]


async def latest_conversation(session, sender: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).join(Customer, Conversation.customer_id == Customer.id)
        .where(Customer.channel == CHANNEL, Customer.external_id == sender).order_by(Conversation.id.desc()).limit(1))


async def staff_messages(request: web.Request) -> web.Response:
    """What reached the chat outside the customer's own requests since ``after``: staff and system messages,
    and bot answers that came later (the bot was not ready). The page polls this; it only reads
    (``POST …/messages/read`` marks them delivered). ``pending``: some of the customer's messages still
    wait for the bot."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    after = message_id_param(request.query.get("after", "0"), "after")
    async with request.app[SESSIONS]() as session:
        conversation = await latest_conversation(session, sender)
        if conversation is None:
            return web.json_response({"state": "bot", "messages": [], "pending": False})
        messages = (await session.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.id > after, Message.direction == "out",
            or_(Message.author.in_(("staff", "system")), Message.delivery_status != "sent"))
            .order_by(Message.id))).all()
        waiting = await pending.customer_has_pending(session, conversation.customer_id)
        return web.json_response({"state": conversation.state, "messages": [message_json(m) for m in messages],
                                  "pending": waiting})


async def messages_read(request: web.Request) -> web.Response:
    """The page showed the messages up to ``upto``: they count as delivered."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    upto = (await json_object(request, '{"upto": 123}')).get("upto")
    if isinstance(upto, bool) or not isinstance(upto, int) or upto < 0:
        raise web.HTTPBadRequest(text="upto must be a message id")
    async with request.app[SESSIONS]() as session:
        conversation = await latest_conversation(session, sender)
        marked = 0
        if conversation is not None:
            marked = (await session.execute(update(Message).where(
                Message.conversation_id == conversation.id, Message.direction == "out", Message.id <= upto,
                Message.delivery_status == "pending").values(delivery_status="delivered"))).rowcount
            await session.commit()
    return web.json_response({"delivered": marked})


async def push_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """An open chat page is told when something was stored for it (staff wrote, the bot answered late)."""
    hub = app[HUB]

    async def message_stored(event: OutboundMessage) -> None:
        if event.channel == CHANNEL:
            await hub.notify_customer(event.external_id, {"type": "message"})
    app[BUS].subscribe(OutboundMessage, message_stored)
    yield


async def customer_socket(request: web.Request) -> web.WebSocketResponse:
    """The web chat's push channel: it is told when staff write, then fetches the messages."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    refuse_cross_origin(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.customers.setdefault(sender, weakref.WeakSet()).add(ws)
    try:
        async for _message in ws:
            pass
    finally:
        group = hub.customers.get(sender)
        if group is not None:
            group.discard(ws)
            if not group:
                hub.customers.pop(sender, None)
    return ws


def message_id_param(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a message id") from None


def setup(app: web.Application) -> None:
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat/{sender}", chat_message)
    app.router.add_get("/api/chat/{sender}/messages", staff_messages)
    app.router.add_post("/api/chat/{sender}/messages/read", messages_read)
    app.router.add_get("/ws/chat/{sender}", customer_socket)
    app.router.add_static("/static", STATIC)
