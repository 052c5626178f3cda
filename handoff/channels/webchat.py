"""The web chat: the page customers open, and ``POST /api/chat/{sender}`` behind it.

Identity: the sender id is only a name. The first message of a new sender id mints a signed chat token
(returned as ``chat_token`` and set as HttpOnly cookies scoped to the sender's two paths); every later
request for that sender needs it, as the cookie or the ``X-Chat-Token`` header, or gets 401.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import weakref
from datetime import timedelta
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

from aiohttp import web
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from handoff import limits, pending
from handoff.events import BUS, OutboundMessage
from handoff.hub import HUB
from handoff.transcript import message_json
from handoff.router import ROUTER
from web.keys import IN_FLIGHT, LIMITS, SESSIONS, SETTINGS, TEMPLATES
from core.accounts import sign, unsign
from core.db import Call, Conversation, Customer, Message, aware, is_busy, retry_busy, utcnow
from core.language import LANGUAGES
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
HISTORY_MESSAGES = 60  # what a reopened chat page shows of the chat so far
STATIC = Path(__file__).resolve().parent.parent / "static"
CHAT_COOKIES = {"/api/chat/": "techan_chat", "/ws/chat/": "techan_chat_ws"}  # path prefix: cookie name
CHAT_TOKEN_HEADER = "X-Chat-Token"
CHAT_TOKEN_DAYS = 180  # renewed by every message, so a customer back after weeks still has their chat
LOST_ANSWER_S = 600  # a message resent this soon proves its sender (its answer and cookie were lost)
# Both languages: a request without the token proves nothing about who sends it.
NOT_YOU_TEXT = ("这段对话只能在开始它的浏览器里继续，请刷新页面开始新的对话。/ This chat continues only in the "
                "browser that started it; reload the page to start a new chat.")


async def chat_page(request: web.Request) -> web.Response:
    html = request.app[TEMPLATES].get_template("chat.html").render(max_text=MAX_TEXT)
    return web.Response(text=html, content_type="text/html")


async def chat_message(request: web.Request) -> web.Response:
    """One customer message in; the conversation state and the bot's replies out.

    ``language`` (optional, the page's): a new customer's language until their words say otherwise ("hi" from
    an English page is answered in English). ``client_id`` (optional, from the page) names the message: a retry with the same id is the same
    message, stored once, and gets the replies it got the first time. ``pending`` in the answer: the bot
    will answer later (the page fetches it from ``…/messages``).
    """
    sender = chat_sender(request)
    body = await json_object(request, '{"text": "..."}')
    text, payload, client_id = body.get("text"), body.get("payload"), body.get("client_id")
    language = body.get("language", "zh")  # the page's: the first answer's language when the words don't say
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"language must be one of {', '.join(LANGUAGES)}")
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
    refuse_cross_origin(request)  # the cookie may be SameSite=None (an embedded chat): no posting from other sites
    router, settings = request.app[ROUTER], request.app[SETTINGS]
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), settings.proxies)
    admitted = None
    try:
        async with request.app[IN_FLIGHT].slot(address):  # a flood from one address waits behind itself
            admitted = await retry_busy(lambda: admit(request, sender, client_id, language))
            over = await limits.admit(request.app[LIMITS], settings, CHANNEL, sender, address,
                                      new_customer=admitted.new)
            result = await router.handle(CHANNEL, sender, text, channel_message_id=message_key(sender, client_id),
                                         language=language, address=address, limited=over)
    except web.HTTPUnauthorized:
        raise
    except Exception as exc:  # never an English "internal error" for a customer; the page sends it again
        busy = is_busy(exc)
        log.log(logging.WARNING if busy else logging.ERROR, "a web chat message could not be stored (%s)",
                "database busy" if busy else exc.__class__.__name__, exc_info=not busy)
        return answer(request, sender, admitted, {"error": NOT_STORED_TEXT, "retry": True}, 503 if busy else 500)
    body = {"state": result.state, "replies": [r.public() for r in result.replies]}
    if over:  # 200, so the page shows the notice; the header and flag say when to send again
        response = answer(request, sender, admitted, {**body, "limited": True, "retry_after": over.retry_after})
        response.headers["Retry-After"] = str(over.retry_after)
        return response
    return answer(request, sender, admitted, {**body, "pending": True} if result.pending else body)


class Admitted(NamedTuple):
    token: str
    tell: bool  # the client may not have it yet: say it in the JSON too
    new: bool = False  # this message made the customer (the new-customers limit counts it)


async def admit(request: web.Request, sender: str, client_id: str | None, language: str = "zh") -> Admitted:
    """Who may send as ``sender``: a new sender id becomes a customer with a fresh token; a customer from
    before tokens gets one, once; the token's holder gets it renewed, and so does the resend of a message
    whose answer was lost (``resent``). Anyone else: 401."""
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        customer = await web_customer(session, sender)
        if customer is None:
            session.add(Customer(channel=CHANNEL, external_id=sender, chat_token_version=1, language=language))
            try:
                await session.commit()
                return Admitted(chat_token(settings.secret, sender, 1), True, new=True)
            except IntegrityError:  # another request made this sender id first: it holds the token
                await session.rollback()
                customer = await web_customer(session, sender)
        if customer.chat_token_version is None:  # from before tokens: the first to write again gets one
            claimed = await session.execute(update(Customer).where(
                Customer.id == customer.id, Customer.chat_token_version.is_(None)).values(chat_token_version=1))
            await session.commit()
            if claimed.rowcount == 1:
                return Admitted(chat_token(settings.secret, sender, 1), True)
            await session.refresh(customer)
        renewed = chat_token(settings.secret, sender, customer.chat_token_version)
        if holds_token(request, customer):
            return Admitted(renewed, False)
        if await resent(session, customer, message_key(sender, client_id)):
            return Admitted(renewed, True)
    raise web.HTTPUnauthorized(text=NOT_YOU_TEXT)


def chat_token(secret: str, sender: str, version: int) -> str:
    return sign(secret, {"kind": "chat", "sub": sender, "v": version,
                         "exp": int(time.time()) + CHAT_TOKEN_DAYS * 86400})


def holds_token(request: web.Request, customer: Customer) -> bool:
    """The request carries a current chat token of ``customer`` (header or cookie)."""
    secret = request.app[SETTINGS].secret
    for token in (request.headers.get(CHAT_TOKEN_HEADER), *map(request.cookies.get, CHAT_COOKIES.values())):
        claims = unsign(secret, token) if token else None
        if (claims and claims.get("kind") == "chat" and claims.get("sub") == customer.external_id
                and customer.chat_token_version is not None and claims.get("v") == customer.chat_token_version):
            return True
    return False


async def resent(session, customer: Customer, key: str | None) -> bool:
    """This request resends a message whose answer (cookie included) was lost: that message was stored
    minutes ago, or it was the customer's first and was never stored (nothing of theirs to read anyway)."""
    since = utcnow() - timedelta(seconds=LOST_ANSWER_S)
    theirs = (select(Message.id).join(Conversation, Message.conversation_id == Conversation.id)
              .where(Conversation.customer_id == customer.id).limit(1))
    if key is not None and await session.scalar(theirs.where(Message.channel == CHANNEL,
                                                             Message.channel_message_id == key,
                                                             Message.created_at > since)) is not None:
        return True
    return aware(customer.first_seen) > since and await session.scalar(theirs) is None


def answer(request: web.Request, sender: str, admitted: Admitted | None, body: dict,
           status: int = 200) -> web.Response:
    """``body`` as JSON, with the token as the two cookies (renewed by every message), and in the JSON too
    when the client may lack it."""
    if admitted is None:
        return web.json_response(body, status=status)
    response = web.json_response({**body, "chat_token": admitted.token} if admitted.tell else body, status=status)
    https = request.app[SETTINGS].public_url.startswith("https://")
    for prefix, name in CHAT_COOKIES.items():
        # Over HTTPS an embedding site (or Telegram's web client) may frame the chat: SameSite=None, so a
        # framed page keeps its chat where the browser allows such cookies (else the page sends the header
        # from memory); over plain HTTP browsers refuse SameSite=None, and Lax serves the page.
        response.set_cookie(name, admitted.token, path=prefix + sender, max_age=CHAT_TOKEN_DAYS * 86400,
                            httponly=True, secure=https, samesite="None" if https else "Lax")
    return response


async def web_customer(session, sender: str) -> Customer | None:
    return await session.scalar(select(Customer).where(Customer.channel == CHANNEL, Customer.external_id == sender))


async def chat_customer(request: web.Request, session, sender: str) -> Customer:
    """The web customer ``sender``, if the request carries their chat token; 401 otherwise, whether or not
    the sender id exists (the id alone grants nothing, and tells nothing)."""
    customer = await web_customer(session, sender)
    if customer is None or not holds_token(request, customer):
        raise web.HTTPUnauthorized(text=NOT_YOU_TEXT)
    return customer


def message_key(sender: str, client_id: str | None) -> str | None:
    """The stored channel message id of a web message: one customer's client id, never another's."""
    if client_id is None:
        return None
    return "web:" + hashlib.sha256(f"{sender}\n{client_id}".encode()).hexdigest()[:40]


async def latest_conversation(session, customer: Customer) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.customer_id == customer.id)
                                .order_by(Conversation.id.desc()).limit(1))


async def staff_messages(request: web.Request) -> web.Response:
    """What reached the chat outside the customer's own requests since ``after``: staff and system messages,
    and bot answers that came later (the bot was not ready). The page polls this; it only reads
    (``POST …/messages/read`` marks them delivered). ``pending``: some of the customer's messages still
    wait for the bot."""
    sender = chat_sender(request)
    after = message_id_param(request.query.get("after", "0"), "after")
    async with request.app[SESSIONS]() as session:
        conversation = await latest_conversation(session, await chat_customer(request, session, sender))
        if conversation is None:
            return web.json_response({"state": "bot", "messages": [], "pending": False})
        messages = (await session.scalars(select(Message).where(
            Message.conversation_id == conversation.id, Message.id > after, Message.direction == "out",
            or_(Message.author.in_(("staff", "system")), Message.delivery_status != "sent"))
            .order_by(Message.id))).all()
        waiting = await pending.customer_has_pending(session, conversation.customer_id)
        shown = await with_call_state(session, [message_json(m) for m in messages])
        return web.json_response({"state": conversation.state, "messages": shown, "pending": waiting})


async def history(request: web.Request) -> web.Response:
    """The chat so far (its last HISTORY_MESSAGES messages, both ways), for a page opened again: only with the
    chat's token, so only that customer's browser sees it."""
    sender = chat_sender(request)
    async with request.app[SESSIONS]() as session:
        conversation = await latest_conversation(session, await chat_customer(request, session, sender))
        if conversation is None:
            return web.json_response({"state": "bot", "messages": []})
        messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                          .order_by(Message.id.desc()).limit(HISTORY_MESSAGES))).all()[::-1]
        shown = await with_call_state(session, [message_json(m) for m in messages])
        return web.json_response({"state": conversation.state, "messages": [
            {key: message.get(key) for key in ("id", "direction", "author", "from", "text", "buttons", "products",
                                               "image", "at")}
            for message in shown]})


async def with_call_state(session, shown: list[dict]) -> list[dict]:
    """A call invitation's button says whether its call is over, so a page opened again shows a live call's button
    (to join again) and an ended one's as ended, not as a link that leads nowhere."""
    buttons = [b for m in shown for b in (m.get("buttons") or []) if isinstance(b.get("call"), int)]
    if buttons:
        ended = set((await session.scalars(select(Call.id).where(
            Call.id.in_({b["call"] for b in buttons}), Call.ended_at.is_not(None)))).all())
        for button in buttons:
            button["ended"] = button["call"] in ended
    return shown


async def messages_read(request: web.Request) -> web.Response:
    """The page showed the messages up to ``upto``: they count as delivered."""
    sender = chat_sender(request)
    refuse_cross_origin(request)
    async with request.app[SESSIONS]() as session:
        customer = await chat_customer(request, session, sender)
        upto = (await json_object(request, '{"upto": 123}')).get("upto")
        if isinstance(upto, bool) or not isinstance(upto, int) or upto < 0:
            raise web.HTTPBadRequest(text="upto must be a message id")
        conversation = await latest_conversation(session, customer)
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
    app[BUS].subscribe(OutboundMessage, message_stored, every_instance=True)
    yield


async def customer_socket(request: web.Request) -> web.WebSocketResponse:
    """The web chat's push channel: it is told when staff write, then fetches the messages."""
    sender = chat_sender(request)
    refuse_cross_origin(request)
    async with request.app[SESSIONS]() as session:
        await chat_customer(request, session, sender)
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


def chat_sender(request: web.Request) -> str:
    """The sender id in the path, checked (it names cookie paths and hub entries)."""
    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    return sender


async def favicon(_request: web.Request) -> web.FileResponse:
    """Browsers ask for /favicon.ico on every page: the shop's icon (an SVG, which they all read), not a 404."""
    return web.FileResponse(STATIC / "favicon.svg", headers={"Content-Type": "image/svg+xml",
                                                             "Cache-Control": "public, max-age=86400"})


def message_id_param(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a message id") from None


def setup(app: web.Application) -> None:
    app.router.add_get("/", chat_page)
    app.router.add_post("/api/chat/{sender}", chat_message)
    app.router.add_get("/api/chat/{sender}/messages", staff_messages)
    app.router.add_get("/api/chat/{sender}/history", history)
    app.router.add_post("/api/chat/{sender}/messages/read", messages_read)
    app.router.add_get("/ws/chat/{sender}", customer_socket)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/favicon.ico", favicon)
