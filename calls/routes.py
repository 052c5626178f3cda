"""The calls' HTTP side: starting a call (its invitation through the desk), the two call pages, the
call history, and every call route."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from calls.bridge import CALLS, call_duration_s, leave_calls
from calls.ice import customer_token, read_customer_token, web_join_pass
from calls.signalling import call_socket
from core.db import Call, Conversation, aware
from core.language import Say
from handoff.channels.webchat import chat_customer
from handoff.desk import DESK, Outgoing
from handoff.episodes import current_handoff
from web.auth import CSRF, refuse_cross_origin, require, require_page
from web.body import json_object, path_id
from web.i18n import render_page
from web.keys import SESSIONS, SETTINGS, TEMPLATES

STATIC = Path(__file__).resolve().parent / "static"
CALL_INVITE_TEXT = {
    "video": Say("店员想和您视频通话，现场给您看看实物。点下面的按钮加入（{minutes} 分钟内有效）。",
                 "Our staff would like a video call to show you the products. Tap below to join "
                 "(valid for {minutes} minutes)."),
    "voice": Say("店员想和您语音通话。点下面的按钮加入（{minutes} 分钟内有效）。",
                 "Our staff would like a voice call. Tap below to join (valid for {minutes} minutes)."),
}
LINK_GONE_TEXT = "这个通话链接已失效（过期或已经用过）。/ This call link is no longer valid (expired or used)."
JOIN_BUTTON = {"video": Say("加入视频通话", "Join the video call"), "voice": Say("加入语音通话", "Join the voice call")}


async def start_call(request: web.Request) -> web.Response:
    """Staff open a call in a chat they hold; the customer gets a single-use join link in their channel."""
    principal = await require(request, "staff")
    body = await json_object(request, '{"kind": "video"}')
    kind = body.get("kind", "video")
    if kind not in ("video", "voice"):
        raise web.HTTPBadRequest(text='kind must be "video" or "voice"')
    settings, calls, desk = request.app[SETTINGS], request.app[CALLS], request.app[DESK]
    async with desk.operation() as session:
        conversation, _handoff = await desk.assigned_in(session, path_id(request, "conversation_id"), principal)
        await calls.end_every_call_in(conversation.id, "replaced")
        call = Call(conversation_id=conversation.id, kind=kind, mode=settings.call_mode, started_by=principal.name,
                    token_nonce=secrets.token_hex(12), quality={})
        session.add(call)
        await session.flush()
        link = f"{(settings.public_url or settings.app_base_url).rstrip('/')}/call/{customer_token(settings, call)}"

        def invitation(language: str) -> Outgoing:
            return Outgoing(CALL_INVITE_TEXT[kind].to(language).format(minutes=settings.call_join_minutes),
                            {"buttons": [{"title": JOIN_BUTTON[kind].to(language), "url": link, "call": call.id,
                                          "web_app": conversation.channel == "telegram"}]})
        await desk.send_in(session, conversation, invitation, author="system")
        room = calls.open_room(call)
        await calls.record_event(session, room, "call_started", {"kind": kind, "mode": call.mode,
                                                                "staff": principal.name})
    room.timers.append(asyncio.create_task(
        calls.end_later(room, settings.call_join_minutes * 60, "no_answer", unless_role="customer")))
    return web.json_response({"call_id": call.id, "kind": kind, "mode": call.mode,
                              "staff_url": f"/console/call/{call.id}", "customer_url": link}, status=201)


async def customer_page(request: web.Request) -> web.Response:
    """The customer's call page (any browser, or Telegram's Mini App); the link is checked again on join."""
    settings = request.app[SETTINGS]
    token = request.match_info["token"]
    claims = read_customer_token(settings, token)
    async with request.app[SESSIONS]() as session:
        call = await session.get(Call, claims["call"]) if claims else None
    usable = bool(call and call.ended_at is None and call.token_nonce == claims.get("nonce"))
    html = request.app[TEMPLATES].get_template("call.html").render(
        usable=usable, role="customer",
        config={"call_id": call.id if usable else None, "kind": call.kind if usable else "video",
                "mode": call.mode if usable else "p2p", "token": token if usable else "", "role": "customer"})
    return web.Response(text=html, content_type="text/html", status=200 if usable else 410,
                        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


async def web_join(request: web.Request) -> web.Response:
    """The web chat page, with the customer's chat token, asks for the pass that goes with a call link it
    shows; the call page hands it over on join, so only the browser holding the chat joins as the customer."""
    refuse_cross_origin(request)
    settings = request.app[SETTINGS]
    async with request.app[SESSIONS]() as session:
        customer = await chat_customer(request, session, request.match_info["sender"])
        link = (await json_object(request, '{"link": "<the token in /call/...>"}')).get("link")
        claims = read_customer_token(settings, link) if isinstance(link, str) else None
        call = await session.get(Call, claims["call"]) if claims else None
        conversation = await session.get(Conversation, call.conversation_id) if call else None
    if (conversation is None or conversation.customer_id != customer.id or call.ended_at is not None
            or call.token_nonce != claims.get("nonce")):
        raise web.HTTPNotFound(text=LINK_GONE_TEXT)
    return web.json_response({"pass": web_join_pass(settings, call, customer)})


async def staff_page(request: web.Request) -> web.Response:
    """The staff call view: the video, a small self view, and the chat's context and products beside them."""
    principal = await require_page(request, "staff")
    call_id = path_id(request, "call_id")
    async with request.app[SESSIONS]() as session:
        call = await session.get(Call, call_id)
        if call is None:
            raise web.HTTPNotFound(text="no such call")
        handoff = await current_handoff(session, call.conversation_id)
    context = handoff.context if handoff else {}
    return render_page(request, "call_staff.html", user=principal.name, role=principal.role,
                       csrf=request.get(CSRF, ""), context=context,
                       config={"call_id": call.id, "kind": call.kind, "mode": call.mode, "role": "staff",
                               "conversation_id": call.conversation_id})


async def conversation_calls(request: web.Request) -> web.Response:
    await require(request, "staff")
    conversation_id = path_id(request, "conversation_id")
    async with request.app[SESSIONS]() as session:
        calls = (await session.scalars(select(Call).where(Call.conversation_id == conversation_id)
                                       .order_by(Call.id))).all()
    return web.json_response({"calls": [call_json(c) for c in calls]})


def call_json(call: Call) -> dict:
    duration = call_duration_s(call)
    return {"id": call.id, "kind": call.kind, "mode": call.mode, "started_by": call.started_by,
            "created_at": aware(call.created_at).isoformat(), "connect_ms": call.connect_ms,
            "ended": call.ended_at is not None, "end_reason": call.end_reason, "duration_s": duration,
            "consent": call.consent, "recorded": bool(call.recording), "quality": call.quality}


def asset(name: str):
    """One of the call pages' files, at the /static/ address the pages have always used."""
    path = STATIC / name

    async def serve(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)
    return serve


def setup(app: web.Application) -> None:
    """Before the web chat's /static folder: these two addresses are the calls' own."""
    for name in ("call.js", "call.css"):
        app.router.add_get(f"/static/{name}", asset(name))
    app.router.add_post("/api/conversations/{conversation_id}/calls", start_call)
    app.router.add_get("/api/conversations/{conversation_id}/calls", conversation_calls)
    app.router.add_get("/call/{token}", customer_page)
    app.router.add_post("/api/chat/{sender}/call-pass", web_join)
    app.router.add_get("/console/call/{call_id}", staff_page)
    app.router.add_get("/ws/call/{call_id}", call_socket)
    app.on_shutdown.append(leave_calls)  # at once: the people in calls are told before the server waits
