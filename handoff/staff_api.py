"""Staff API: the queue, the conversation with its context, claim, reply, resolve."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from core.bot_payload import HandoffReason
from handoff.hub import HUB
from handoff.media import MAX_IMAGE_BYTES, store_image
from handoff.queue import (aware, claim, current_handoff, end_handoff, message_json, note_json, open_handoff,
                           transition)
from handoff.states import Event, InvalidTransition, State
from handoff.unanswered import answer_to, note_question, question_before
from handoff.router import ROUTER, rasa_sender
from web.keys import SESSIONS, SETTINGS, TEMPLATES
from core.accounts import Principal
from web.auth import CSRF, refuse_cross_origin, require, require_page
from core.db import Conversation, Customer, Handoff, Message, StaffAccount, StaffNote, utcnow
from web.body import json_object, path_id
from core.language import Say

MAX_STAFF_TEXT = 4000
RATING_PROMPT = Say("店员已结束本次服务。请为这次服务打个分吧：", "Our staff have finished helping you. How did we do?")
RATING_BUTTONS = [{"title": "⭐" * n, "payload": f'/rate{{"score": {n}}}'} for n in range(5, 0, -1)]


async def handoff_queue(request: web.Request) -> web.Response:
    """Open handoffs, oldest first, with how long each customer has waited."""
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
            "created_at": aware(handoff.created_at).isoformat(),
            "wait_seconds": int((waited_until - aware(handoff.created_at)).total_seconds()),
            "claimed_by": staff_name,
        })
    return web.json_response({"handoffs": queue})


async def conversation_detail(request: web.Request) -> web.Response:
    """Everything staff need: state, customer, the full transcript and the open handoff's context."""
    await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        conversation = await conversation_or_404(session, request)
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
    async with request.app[SESSIONS]() as session:
        won = await claim(session, handoff_id, principal.id)
        handoff = await session.get(Handoff, handoff_id)
        if handoff is None:
            raise web.HTTPNotFound(text="no such handoff")
        if not won:
            raise web.HTTPConflict(text="this chat is already taken or finished")
        conversation = await session.get(Conversation, handoff.conversation_id)
        try:
            await transition(session, conversation, Event.CLAIMED, {"staff": principal.name, "handoff": handoff_id})
        except InvalidTransition:
            await session.rollback()
            raise web.HTTPConflict(text="the customer is no longer waiting") from None
        await session.commit()
    await request.app[HUB].publish({"type": "queue", "conversation_id": conversation.id})
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
    async with request.app[SESSIONS]() as session:
        conversation = await conversation_or_404(session, request)
        if conversation.state != State.BOT:
            raise web.HTTPConflict(text=f"the conversation is {conversation.state}; only bot chats can be taken over")
        await transition(session, conversation, Event.HANDOFF_REQUESTED, {"reason": HandoffReason.STAFF_TAKEOVER})
        conversation.handoff_reason = HandoffReason.STAFF_TAKEOVER
        handoff, _position = await open_handoff(session, conversation, HandoffReason.STAFF_TAKEOVER)
        if question := await question_before(session, conversation.id):  # what the customer asked before it
            await note_question(session, question, HandoffReason.STAFF_TAKEOVER, await answer_to(session, question))
        await claim(session, handoff.id, principal.id)
        await transition(session, conversation, Event.CLAIMED, {"staff": principal.name, "handoff": handoff.id})
        customer = await session.get(Customer, conversation.customer_id)
        await session.commit()
    await request.app[ROUTER].pause_bot(rasa_sender(customer.channel, customer.external_id))
    await request.app[HUB].publish({"type": "queue", "conversation_id": conversation.id})
    return web.json_response({"handoff": handoff.id, "conversation_id": conversation.id, "state": conversation.state})


async def notify_customer(app: web.Application, conversation: Conversation) -> None:
    if conversation.channel == "web":
        async with app[SESSIONS]() as session:
            customer = await session.get(Customer, conversation.customer_id)
        await app[HUB].notify_customer(customer.external_id, {"type": "message"})


async def conversation_or_404(session, request: web.Request) -> Conversation:
    conversation = await session.get(Conversation, path_id(request, "conversation_id"))
    if conversation is None:
        raise web.HTTPNotFound(text="no such conversation")
    return conversation


async def assigned_conversation(session, request: web.Request, principal: Principal) -> tuple[Conversation, Handoff]:
    conversation = await conversation_or_404(session, request)
    handoff = await current_handoff(session, conversation.id)
    if handoff is None or conversation.state != State.ASSIGNED:
        raise web.HTTPConflict(text=f"the conversation is {conversation.state}; claim it first")
    if handoff.claimed_by != principal.id and principal.role != "owner":
        raise web.HTTPForbidden(text="another staff member has this chat")
    return conversation, handoff


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
    async with request.app[SESSIONS]() as session:
        conversation, _handoff = await assigned_conversation(session, request, principal)
    text, image = await _staff_reply_body(request)
    if not text and image is None:
        raise web.HTTPBadRequest(text="message text is empty")
    if len(text) > MAX_STAFF_TEXT:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_STAFF_TEXT, actual_size=len(text),
                                            text=f"the limit is {MAX_STAFF_TEXT} characters")
    async with request.app[SESSIONS]() as session:
        message = Message(conversation_id=conversation.id, direction="out", author="staff",
                          channel=conversation.channel, text=text, delivery_status="pending",
                          payload={"staff": principal.name, **({"image": image} if image else {})})
        session.add(message)
        await session.commit()
    await request.app[HUB].publish({"type": "message", "conversation_id": conversation.id})
    await notify_customer(request.app, conversation)
    return web.json_response({"message": message_json(message)}, status=201)


async def resolve(request: web.Request) -> web.Response:
    """End the handoff: the bot takes over again and the customer is asked for a rating."""
    principal = await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        conversation = await conversation_or_404(session, request)
        handoff = await current_handoff(session, conversation.id)
        if handoff and handoff.claimed_by not in (None, principal.id) and principal.role != "owner":
            raise web.HTTPForbidden(text="another staff member has this chat")
        try:
            await transition(session, conversation, Event.RESOLVED, {"staff": principal.name})
        except InvalidTransition:
            raise web.HTTPConflict(text=f"the conversation is {conversation.state}; nothing to resolve") from None
        if handoff:
            await end_handoff(session, handoff, "staff")
        customer = await session.get(Customer, conversation.customer_id)
        session.add(Message(conversation_id=conversation.id, direction="out", author="system",
                            channel=conversation.channel, text=RATING_PROMPT.to(customer.language),
                            delivery_status="pending", payload={"buttons": RATING_BUTTONS}))
        await session.commit()
    await request.app[HUB].publish({"type": "queue", "conversation_id": conversation.id})
    await notify_customer(request.app, conversation)
    await request.app[ROUTER].resume_bot(rasa_sender(customer.channel, customer.external_id))
    return web.json_response({"conversation_id": conversation.id, "state": conversation.state})


async def staff_socket(request: web.Request) -> web.WebSocketResponse:
    """Console push channel: staff only, same origin only (no cross-site WebSocket hijacking)."""
    await require(request, "staff")
    refuse_cross_origin(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[HUB].sockets.add(ws)
    await ws.send_json({"type": "hello"})
    async for _message in ws:  # the console only listens; anything it sends is ignored
        pass
    return ws


async def console_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "staff")
    html = request.app[TEMPLATES].get_template("console.html").render(
        user=principal.name, role=principal.role, csrf=request[CSRF], timezone=request.app[SETTINGS].timezone)
    return web.Response(text=html, content_type="text/html")


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
