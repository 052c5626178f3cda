"""Staff API: the queue, the conversation with its context, claim, take over, reply, resolve, product cards.

Thin handlers: every change goes through the desk (handoff.desk); its refusals become HTTP errors here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import select

from core.db import Conversation, Customer, Handoff, Message, StaffAccount, StaffNote, aware, utcnow
from core.language import Say
from handoff.desk import DESK, Forbidden, NotFound, Outgoing, Refused
from handoff.episodes import current_handoff
from handoff.hub import HUB
from web.media import MAX_IMAGE_BYTES, store_image
from handoff.states import State
from handoff.transcript import message_json, note_json
from knowledge.live import KNOWLEDGE
from web.auth import CSRF, close_when_signed_out, refuse_cross_origin, require, require_page
from web.body import json_object, path_id
from web.i18n import render_page
from web.keys import SESSIONS

MAX_STAFF_TEXT = 4000
SHOWING_PRODUCT = Say("给您看看这款：{name}", "Have a look at this one: {name}")
REFUSAL_STATUS = {NotFound: web.HTTPNotFound, Forbidden: web.HTTPForbidden}


@web.middleware
async def refusals(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    """The desk's refusals as HTTP: not found 404, not yours 403, anything else (taken, changed) 409."""
    try:
        return await handler(request)
    except Refused as exc:
        raise REFUSAL_STATUS.get(type(exc), web.HTTPConflict)(text=str(exc)) from None


async def handoff_queue(request: web.Request) -> web.Response:
    """Open handoffs, oldest first, with how long each customer has waited; ``set_aside`` names the network
    limit whose trip took one out of the queue (the console lists those apart)."""
    await require(request, "staff")
    now = utcnow()
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(
            select(Handoff, Conversation, Customer, StaffAccount.name)
            .join(Conversation, Handoff.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .outerjoin(StaffAccount, Handoff.claimed_by == StaffAccount.id)
            .where(Handoff.ended_at.is_(None)).order_by(Handoff.id))).all()
    queue = []
    for handoff, conversation, customer, staff_name in rows:
        waited_until = aware(handoff.claimed_at) if handoff.claimed_at else now
        queue.append({
            "id": handoff.id, "conversation_id": conversation.id, "state": conversation.state,
            "reason": handoff.reason, "customer": customer.name or customer.external_id[:12],
            "channel": customer.channel, "summary": handoff.context.get("summary", ""),
            "questions": handoff.context.get("questions"),
            "created_at": aware(handoff.created_at).isoformat(),
            "wait_seconds": int((waited_until - aware(handoff.created_at)).total_seconds()),
            "claimed_by": staff_name, "set_aside": handoff.set_aside,
        })
    return web.json_response({"handoffs": queue})


async def conversation_detail(request: web.Request) -> web.Response:
    """Everything staff need: state, customer, the full transcript and the open handoff's context."""
    await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        conversation = await session.get(Conversation, path_id(request, "conversation_id"))
        if conversation is None:
            raise web.HTTPNotFound(text="no such conversation")
        customer = await session.get(Customer, conversation.customer_id)
        messages = (await session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                          .order_by(Message.id))).all()
        handoff = await current_handoff(session, conversation.id)
        notes = (await session.scalars(select(StaffNote).where(StaffNote.conversation_id == conversation.id)
                                       .order_by(StaffNote.id))).all()
        claimer = await session.get(StaffAccount, handoff.claimed_by) if handoff and handoff.claimed_by else None
    return web.json_response({
        "id": conversation.id, "state": conversation.state, "channel": conversation.channel,
        "customer": {"name": customer.name, "language": customer.language,
                     "first_seen": aware(customer.first_seen).isoformat()},
        "handoff": None if handoff is None else {
            "id": handoff.id, "reason": handoff.reason, "context": handoff.context,
            "claimed_by": claimer.name if claimer else None, "created_at": aware(handoff.created_at).isoformat()},
        "transcript": [message_json(m) for m in messages],
        "notes": [note_json(n) for n in notes],
    })


async def claim_handoff(request: web.Request) -> web.Response:
    principal = await require(request, "staff")
    handoff_id = path_id(request, "handoff_id")
    conversation = await request.app[DESK].claim(handoff_id, principal)
    return web.json_response({"handoff": handoff_id, "conversation_id": conversation.id, "state": conversation.state})


async def bot_conversations(request: web.Request) -> web.Response:
    """Chats the bot is handling now (most recent first), for staff to watch or take over."""
    await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        rows = (await session.execute(
            select(Conversation, Customer).join(Customer, Conversation.customer_id == Customer.id)
            .where(Conversation.state == State.BOT).order_by(Conversation.updated_at.desc()).limit(50))).all()
    return web.json_response({"conversations": [
        {"id": c.id, "customer": u.name or u.external_id[:12], "channel": c.channel,
         "updated_at": aware(c.updated_at).isoformat()} for c, u in rows]})


async def take_over(request: web.Request) -> web.Response:
    """Staff step into a chat the bot is handling: handoff `staff_takeover`, claimed at once, bot paused."""
    principal = await require(request, "staff")
    handoff, conversation = await request.app[DESK].take_over(path_id(request, "conversation_id"), principal)
    return web.json_response({"handoff": handoff.id, "conversation_id": conversation.id, "state": conversation.state})


async def _staff_reply_body(request: web.Request) -> tuple[str, str | None]:
    """The reply's text and, from a multipart form, a picture (stored at once): JSON or multipart."""
    if request.content_type != "multipart/form-data":
        text = (await json_object(request, '{"text": "..."}')).get("text")
        if not isinstance(text, str):
            raise web.HTTPBadRequest(text="message text must be a string")
        return text.strip(), None
    form = await request.post()
    text, image = str(form.get("text", "")).strip(), form.get("image")
    if image is not None and not isinstance(image, web.FileField):
        raise web.HTTPBadRequest(text="image must be a file")
    return text, store_image(request.app, image.file.read(MAX_IMAGE_BYTES + 1)) if image is not None else None


async def staff_message(request: web.Request) -> web.Response:
    """A staff reply (text, a picture, or both); it is stored first, then delivered through the customer's channel."""
    principal = await require(request, "staff")
    desk, conversation_id = request.app[DESK], path_id(request, "conversation_id")
    await desk.assigned(conversation_id, principal)  # refused before the body (and a picture) is read
    text, image = await _staff_reply_body(request)
    if not text and image is None:
        raise web.HTTPBadRequest(text="message text is empty")
    if len(text) > MAX_STAFF_TEXT:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_STAFF_TEXT, actual_size=len(text),
                                            text=f"the limit is {MAX_STAFF_TEXT} characters")
    reply = Outgoing(text, {"staff": principal.name, **({"image": image} if image else {})})
    message = await desk.send(conversation_id, principal, lambda _language: reply)
    return web.json_response({"message": message_json(message)}, status=201)


async def push_product(request: web.Request) -> web.Response:
    """Put a product card into the customer's chat (during a call, say), in their language."""
    principal = await require(request, "staff")
    product_id = (await json_object(request, '{"product": "puer-ripe-cake"}')).get("product")
    product = request.app[KNOWLEDGE].catalog.get(product_id if isinstance(product_id, str) else None)
    if product is None:
        raise web.HTTPBadRequest(text="no such product in the catalog")

    def card(language: str) -> Outgoing:
        shown = product.card(language=language)
        return Outgoing(SHOWING_PRODUCT.to(language).format(name=shown["name"]),
                        {"staff": principal.name, "products": [shown]})
    await request.app[DESK].send(path_id(request, "conversation_id"), principal, card)
    return web.json_response({"sent": product.id}, status=201)


PRODUCT_MATCHES = 8


async def find_products(request: web.Request) -> web.Response:
    """Products whose name (Chinese, English or another name) contains ``q``, for staff to push a card."""
    await require(request, "staff")
    words = request.query.get("q", "").strip().lower()[:40]
    products = request.app[KNOWLEDGE].catalog.products.values()
    found = [p for p in products if not words or any(words in name.lower() for name in (p.name, p.name_en, *p.aliases))]
    return web.json_response({"products": [
        {"id": p.id, "name": p.name, "price": float(p.price), "stock": p.stock, "image": p.image}
        for p in found[:PRODUCT_MATCHES]]})


async def resolve(request: web.Request) -> web.Response:
    """End the handoff: the bot takes over again and the customer is asked for a rating."""
    principal = await require(request, "staff")
    conversation = await request.app[DESK].resolve(path_id(request, "conversation_id"), principal)
    return web.json_response({"conversation_id": conversation.id, "state": conversation.state})


async def staff_socket(request: web.Request) -> web.WebSocketResponse:
    """Console push channel: staff only, same origin only (no cross-site WebSocket hijacking)."""
    await require(request, "staff")
    refuse_cross_origin(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[HUB].sockets.add(ws)
    await ws.send_json({"type": "hello"})
    watch = asyncio.create_task(close_when_signed_out(request, ws))
    try:
        async for _message in ws:  # the console only listens; anything it sends is ignored
            pass
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    return ws


async def console_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "staff")
    return render_page(request, "console.html", user=principal.name, role=principal.role, csrf=request[CSRF])


def setup(app: web.Application) -> None:
    app.router.add_get("/console", console_page)
    app.router.add_get("/ws/staff", staff_socket)
    app.router.add_get("/api/handoffs", handoff_queue)
    app.router.add_post("/api/handoffs/{handoff_id}/claim", claim_handoff)
    app.router.add_get("/api/conversations/{conversation_id}", conversation_detail)
    app.router.add_post("/api/conversations/{conversation_id}/messages", staff_message)
    app.router.add_post("/api/conversations/{conversation_id}/resolve", resolve)
    app.router.add_get("/api/conversations", bot_conversations)
    app.router.add_post("/api/conversations/{conversation_id}/takeover", take_over)
    app.router.add_post("/api/conversations/{conversation_id}/products", push_product)
    app.router.add_get("/api/products", find_products)
