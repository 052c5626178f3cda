"""A call's signalling socket: join with a single-use link (or a rejoin secret), then offers, answers,
ICE candidates, stats and hang-up; media peer-to-peer or through the app.

P2P (default): the app relays offers, answers and ICE candidates between the two browsers and
hands out ICE servers (STUN, and TURN with coturn's time-limited REST credentials).
Bridge (``TECHAN_CALL_MODE=bridge``): each browser connects to an aiortc peer in the app, which
forwards the other side's audio and video, and records the call when the customer consented.
A call's life (started, joined, connected, ended with its duration) is stored on the conversation.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time

from aiohttp import WSMsgType, web
from sqlalchemy import update

from calls.bridge import CALLS, ROLES, Room, other
from calls.ice import ice_servers, read_customer_token, web_join_allowed
from core.accounts import Principal
from core.db import Call, Conversation, Customer, aware, retry_busy, utcnow
from handoff.channels.telegram.miniapp import init_data_user, verify_init_data
from handoff.episodes import current_handoff
from web.auth import authenticate, refuse_cross_origin
from web.body import path_id
from web.keys import SESSIONS, SETTINGS

JOIN_MESSAGE_TIMEOUT_S = 10
BRIDGE_ELSEWHERE = ("这个通话在店里的另一台服务器上，从这里连不上。请刷新页面再试。/ This call is carried by "
                    "another of the shop's servers and cannot be reached from here. Reload the page to try again.")
WEB_JOIN_REFUSED = ("请在聊天窗口里点「加入通话」按钮进入（用开始聊天的那个浏览器）。/ Open the call with the Join button "
                    "in your chat, in the browser where you chat with us.")


async def _join_staff(request: web.Request, call: Call) -> Principal:
    principal = await authenticate(request)
    if principal is None:
        raise PermissionError("sign in first")
    async with request.app[SESSIONS]() as session:
        handoff = await current_handoff(session, call.conversation_id)
    if principal.role != "owner" and (handoff is None or handoff.claimed_by != principal.id):
        raise PermissionError("this call belongs to another staff member's chat")
    return principal


async def _join_customer(request: web.Request, call: Call, room: Room, hello: dict) -> None:
    """A customer joins with their single-use link, or rejoins after a drop with the secret given at first join."""
    settings = request.app[SETTINGS]
    if hello.get("rejoin"):
        if not hmac.compare_digest(str(hello["rejoin"]), room.rejoin):
            raise PermissionError("this call link has been used")
        return
    claims = read_customer_token(settings, str(hello.get("token", "")))
    if not claims or claims["call"] != call.id or claims.get("nonce") != call.token_nonce:
        raise PermissionError("this call link is not valid (expired or changed)")
    async with request.app[SESSIONS]() as session:
        conversation = await session.get(Conversation, call.conversation_id)
        customer = await session.get(Customer, conversation.customer_id)
        if customer.channel == "telegram" and settings.public_url.startswith("https://"):
            fields = verify_init_data(settings.telegram_token, str(hello.get("init_data", "")))
            if fields is None or str(init_data_user(fields).get("id")) != customer.external_id:
                raise PermissionError("open the call from the button in your Telegram chat")
        if customer.channel == "web" and not web_join_allowed(settings, str(hello.get("chat", "")), call, customer):
            raise PermissionError(WEB_JOIN_REFUSED)
        used = await session.execute(update(Call).where(Call.id == call.id, Call.token_used_at.is_(None))
                                     .values(token_used_at=utcnow(), joined_at=utcnow(),
                                             consent=bool(hello.get("consent"))))
        if used.rowcount != 1:
            raise PermissionError("this call link has been used")
        await request.app[CALLS].record_event(session, room, "call_joined", {"consent": bool(hello.get("consent"))})
        await session.commit()
    room.consent = bool(hello.get("consent"))


async def call_socket(request: web.Request) -> web.WebSocketResponse:
    """Signalling for one call: join, then offers/answers/candidates, stats and hang-up."""
    refuse_cross_origin(request)
    call_id = path_id(request, "call_id")
    calls = request.app[CALLS]
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=256 * 1024)
    await ws.prepare(request)
    async with request.app[SESSIONS]() as session:
        call = await session.get(Call, call_id)
    room = calls.room_for(call) if call is not None else None
    if room is None or call.ended_at is not None:
        held_elsewhere = (calls.across is not None and call is not None and call.ended_at is None
                          and call.mode == "bridge")
        await ws.send_json({"type": "error", "error": BRIDGE_ELSEWHERE if held_elsewhere else "this call has ended"})
        await ws.close()
        return ws
    try:
        async with asyncio.timeout(JOIN_MESSAGE_TIMEOUT_S):  # not wait_for: see core/waiting.py
            hello = await ws.receive_json()
        role = hello.get("role")
        if hello.get("type") != "join" or role not in ROLES:
            raise PermissionError('first say {"type": "join", "role": "staff"|"customer"}')
        if role == "staff":
            principal = await _join_staff(request, call)
            user = principal.name
        else:
            await _join_customer(request, call, room, hello)
            user = f"customer-{call.conversation_id}"
        if await calls.present(room, role):
            if role == "customer" and not hello.get("rejoin"):
                raise PermissionError("someone is already in this call")
            await calls.take_over(room, role)
    except (PermissionError, TimeoutError, ValueError, TypeError) as exc:
        await ws.send_json({"type": "error", "error": str(exc) or "could not join"})
        await ws.close()
        calls.forget_if_idle(room)
        return ws

    room.sockets[role] = ws
    room.joined_at[role] = time.monotonic()
    presence = None
    try:
        if room.ended or calls.rooms.get(call_id) is not room:  # it ended (or this instance left) meanwhile
            await ws.send_json({"type": "error", "error": "this call has ended"})
            await ws.close()
            return ws
        presence = await calls.arrive(room, role, ws) if calls.shared(room) else None
        peer_present = await calls.present(room, other(role))
        if presence is not None and not peer_present and (hello.get("rejoin") or call.joined_at is not None):
            calls.wait_for_return(room, other(role))  # both were in the call: the other side may never be back
        await ws.send_json({"type": "joined", "role": role, "kind": room.kind, "mode": room.mode,
                            "ice_servers": ice_servers(request.app[SETTINGS], user),
                            "ice_transport_policy": "relay" if request.app[SETTINGS].ice_relay_only else "all",
                            **({"rejoin": room.rejoin} if role == "customer" else {}),
                            "peer_present": peer_present})
        await calls.send(room, other(role), {"type": "peer_joined", "role": role})
        if room.mode == "bridge":
            await ws.send_json({"type": "start"})
        elif peer_present:
            await calls.send(room, "staff", {"type": "start"})  # staff make the offer
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(raw.data)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            # Shielded: a shutdown cancelling this handler must not cut a database write in half.
            await asyncio.shield(handle_signal(request.app, room, role, message))
    finally:
        # Shielded: a socket closed by the server (this instance leaving) has its handler cancelled.
        await asyncio.shield(calls.socket_closed(room, role, ws, presence))
    return ws


async def handle_signal(app: web.Application, room: Room, role: str, message: dict) -> None:
    calls, kind = app[CALLS], message.get("type")
    if kind == "hangup":
        await calls.end(room, f"{role}_hangup")
    elif kind in ("offer", "answer", "candidate") and room.mode == "p2p":
        await calls.send(room, other(role), {k: message.get(k) for k in ("type", "sdp", "candidate", "restart")})
    elif kind == "offer":  # bridge: the app is the other peer
        try:
            answer = await calls.bridge_offer(room, role, str(message.get("sdp", "")))
        except ValueError as exc:
            await calls.send(room, role, {"type": "error", "error": f"could not use that offer: {exc}"})
            return
        await calls.send(room, role, {"type": "answer", "sdp": answer})
    elif kind == "voice_only":  # one side's network is too weak for video: the other side stops sending it too
        await calls.send(room, other(role), {"type": "voice_only"})
    elif kind == "connected":
        await mark_connected(app, room, role)
    elif kind == "stats":
        await store_stats(app, room, role, message)


async def mark_connected(app: web.Application, room: Room, role: str) -> None:
    """The first side to report media flowing marks the call connected (time from the customer's join)."""
    if room.connected:
        return
    room.connected = True
    joined = None
    if "customer" not in room.joined_at:
        async with app[SESSIONS]() as session:
            joined = (await session.get(Call, room.call_id)).joined_at
    if joined is not None:  # the customer joined on another instance: when is in the call's row
        ms = round((utcnow() - aware(joined)).total_seconds() * 1000)
    else:  # from the customer's join here, else (bridge: staff connect first) from this side's
        ms = round((time.monotonic() - room.joined_at.get("customer", room.joined_at[role])) * 1000)
    await app[CALLS].store_connected(room, ms, role)  # once, though each side may be on its own instance


STAT_FIELDS = ("rtt_ms", "loss", "bitrate_kbps", "width", "height", "fps")


async def store_stats(app: web.Application, room: Room, role: str, message: dict) -> None:
    """Keep a running summary per side (samples, averages, worst loss, last resolution); staff see the customer's."""
    sample = {}
    for name in STAT_FIELDS:
        value = message.get(name)
        if isinstance(value, (int, float)) and value == value and 0 <= value < 1e7:
            sample[name] = float(value)
    if not sample:
        return
    await app[CALLS].send(room, "staff", {"type": "peer_stats", "role": role, **sample})

    async def keep_average() -> None:  # read, then write: a whole unit, tried again while SQLite is busy
        async with app[SESSIONS]() as session:
            call = await session.get(Call, room.call_id)
            summary = dict(call.quality or {})
            side = dict(summary.get(role, {}))
            count = side.get("samples", 0) + 1
            for name in ("rtt_ms", "bitrate_kbps", "loss"):
                if name in sample:
                    side[f"avg_{name}"] = round((side.get(f"avg_{name}", 0) * (count - 1) + sample[name]) / count, 3)
            side["max_loss"] = max(side.get("max_loss", 0), sample.get("loss", 0))
            if "width" in sample:
                side["resolution"] = f"{int(sample['width'])}x{int(sample.get('height', 0))}"
            side["samples"] = count
            summary[role] = side
            call.quality = summary
            await session.commit()

    await retry_busy(keep_average)
