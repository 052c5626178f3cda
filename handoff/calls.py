"""Live calls from an assigned chat: signalling over a WebSocket, media peer-to-peer or through the app.

P2P (default): the app relays offers, answers and ICE candidates between the two browsers and
hands out ICE servers (STUN, and TURN with coturn's time-limited REST credentials).
Bridge (``TECHAN_CALL_MODE=bridge``): each browser connects to an aiortc peer in the app, which
forwards the other side's audio and video, and records the call when the customer consented.
A call's life (started, joined, connected, ended with its duration) is stored on the conversation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff.channels.telegram import init_data_user, verify_init_data
from handoff.hub import HUB, refuse_cross_origin
from handoff.queue import aware, current_handoff
from handoff.staff_api import assigned_conversation, notify_customer, path_id
from techan.appkeys import KNOWLEDGE, SESSIONS, SETTINGS, TEMPLATES
from techan.auth import CSRF, Principal, authenticate, require, require_page, sign, unsign
from techan.db import Call, Conversation, ConversationEvent, Customer, Message, utcnow
from techan.jsonbody import json_object
from techan.language import Say
from techan.settings import Settings

log = logging.getLogger(__name__)

ROLES = ("staff", "customer")
JOIN_MESSAGE_TIMEOUT_S = 10
RECONNECT_GRACE_S = 20
TURN_TTL_S = 6 * 3600
CALL_INVITE_TEXT = {
    "video": Say("店员想和您视频通话，现场给您看看实物。点下面的按钮加入（{minutes} 分钟内有效）。",
                 "Our staff would like a video call to show you the products. Tap below to join "
                 "(valid for {minutes} minutes)."),
    "voice": Say("店员想和您语音通话。点下面的按钮加入（{minutes} 分钟内有效）。",
                 "Our staff would like a voice call. Tap below to join (valid for {minutes} minutes)."),
}
JOIN_BUTTON = {"video": Say("加入视频通话", "Join the video call"), "voice": Say("加入语音通话", "Join the voice call")}
SHOWING_PRODUCT = Say("给您看看这款：{name}", "Have a look at this one: {name}")


def other(role: str) -> str:
    return "customer" if role == "staff" else "staff"


# ---------------------------------------------------------------- ICE servers and join tokens

def ice_servers(settings: Settings, user: str) -> list[dict[str, Any]]:
    """STUN from settings, and TURN with coturn REST credentials (username "expiry:user", HMAC-SHA1)."""
    servers: list[dict[str, Any]] = []
    stun = [url.strip() for url in settings.stun_urls.split(",") if url.strip()]
    if stun:
        servers.append({"urls": stun})
    if settings.turn_url and settings.turn_secret:
        username = f"{int(time.time()) + TURN_TTL_S}:{user}"
        credential = base64.b64encode(hmac.new(settings.turn_secret.encode(), username.encode(),
                                               hashlib.sha1).digest()).decode()
        servers.append({"urls": [settings.turn_url], "username": username, "credential": credential})
    return servers


def customer_token(settings: Settings, call: Call) -> str:
    return sign(settings.secret, {"kind": "call", "call": call.id, "nonce": call.token_nonce,
                                  "exp": int(time.time()) + settings.call_join_minutes * 60})


def read_customer_token(settings: Settings, token: str) -> dict | None:
    claims = unsign(settings.secret, token)
    return claims if claims and claims.get("kind") == "call" and isinstance(claims.get("call"), int) else None


# ---------------------------------------------------------------- the media bridge

class ForwardingTrack(MediaStreamTrack):
    """What one side receives in bridge mode: the other side's track, once (and whenever) it arrives."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()

    def attach(self, source: MediaStreamTrack) -> None:
        self._source = source
        self._changed.set()

    async def recv(self):
        while True:
            source = self._source
            if source is None:
                self._changed.clear()
                await self._changed.wait()
                continue
            try:
                return await source.recv()
            except MediaStreamError:
                if self._source is source:  # the other side left; wait for them to come back
                    self._source = None
                if self.readyState != "live":
                    raise


@dataclass
class Room:
    """One live call: its sockets and, in bridge mode, the app's peer connection with each side."""

    call_id: int
    conversation_id: int
    mode: str
    kind: str
    consent: bool = False
    rejoin: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict)
    joined_at: dict[str, float] = field(default_factory=dict)
    peers: dict[str, RTCPeerConnection] = field(default_factory=dict)
    incoming: dict[str, dict[str, MediaStreamTrack]] = field(default_factory=lambda: {"staff": {}, "customer": {}})
    outgoing: dict[str, dict[str, ForwardingTrack]] = field(default_factory=lambda: {"staff": {}, "customer": {}})
    recorder: MediaRecorder | None = None
    timers: list[asyncio.Task] = field(default_factory=list)
    connected: bool = False
    ended: bool = False

    def present(self, role: str) -> bool:
        """Whether that side has a live signalling socket."""
        ws = self.sockets.get(role)
        return ws is not None and not ws.closed


class Calls:
    """Every live call of this app; all peer connections are closed on shutdown."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.relay = MediaRelay()
        self.rooms: dict[int, Room] = {}

    async def record_event(self, session: AsyncSession, room: Room, name: str, data: dict) -> None:
        conversation = await session.get(Conversation, room.conversation_id)
        session.add(ConversationEvent(conversation_id=room.conversation_id, name=name, from_state=conversation.state,
                                      to_state=conversation.state, data={"call": room.call_id, **data}))

    async def send(self, room: Room, role: str, message: dict) -> None:
        ws = room.sockets.get(role)
        if ws is not None and not ws.closed:
            try:
                await ws.send_json(message)
            except ConnectionError:
                log.info("call %s: %s socket went away", room.call_id, role)

    # ------------------------------------------------------------ bridge mode
    async def bridge_offer(self, room: Room, role: str, sdp: str) -> str:
        """Answer one side's offer with a fresh app peer that forwards the other side's media to it."""
        if old := room.peers.pop(role, None):
            await old.close()
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # the app's own host candidates
        room.peers[role] = pc

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            room.incoming[role][track.kind] = track
            if forward := room.outgoing[other(role)].get(track.kind):
                forward.attach(self.relay.subscribe(track, buffered=False))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("call %s: bridge to %s %s", room.call_id, role, pc.connectionState)
            if pc.connectionState == "connected":
                await self.maybe_record(room)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        room.outgoing[role] = {}
        for transceiver in pc.getTransceivers():
            forward = ForwardingTrack(transceiver.kind)
            room.outgoing[role][transceiver.kind] = forward
            if source := room.incoming[other(role)].get(transceiver.kind):
                forward.attach(self.relay.subscribe(source, buffered=False))
            pc.addTrack(forward)
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def maybe_record(self, room: Room) -> None:
        """With the customer's consent, record the staff's picture and both voices once both are there."""
        if not room.consent or room.recorder is not None or room.mode != "bridge":
            return
        staff, customer = room.incoming["staff"], room.incoming["customer"]
        if "audio" not in staff or "audio" not in customer:
            return
        folder = self.settings.data_path / "recordings"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"call-{room.call_id}-{secrets.token_urlsafe(8)}.webm"
        room.recorder = MediaRecorder(str(path))
        for track in (staff.get("video"), staff["audio"], customer["audio"]):
            if track is not None:
                room.recorder.addTrack(self.relay.subscribe(track, buffered=False))
        await room.recorder.start()
        async with self.sessions() as session:
            await session.execute(update(Call).where(Call.id == room.call_id).values(recording=str(path)))
            await self.record_event(session, room, "call_recording", {"file": path.name})
            await session.commit()

    # ------------------------------------------------------------ ending
    async def end(self, room: Room, reason: str) -> None:
        """End a call once: keep the record, tell whoever is still there, close every peer."""
        if room.ended:
            return
        room.ended = True
        self.rooms.pop(room.call_id, None)
        for task in room.timers:
            if task is not asyncio.current_task():
                task.cancel()
        async with self.sessions() as session:  # the record first: whoever is told "ended" can read it
            call = await session.get(Call, room.call_id)
            call.ended_at, call.end_reason = utcnow(), reason
            await self.record_event(session, room, "call_ended",
                                    {"reason": reason, "duration_s": call_duration_s(call) or 0})
            await session.commit()
        for role in ROLES:
            await self.send(room, role, {"type": "ended", "reason": reason})
        if room.recorder is not None:
            await room.recorder.stop()
        for pc in room.peers.values():
            await pc.close()
        for tracks in room.outgoing.values():
            for track in tracks.values():
                track.stop()
        log.info("call %s ended: %s", room.call_id, reason)

    async def end_later(self, room: Room, delay_s: float, reason: str, unless_role: str | None = None) -> None:
        await asyncio.sleep(delay_s)
        if unless_role and room.present(unless_role):
            return
        await self.end(room, reason)

    async def close_all(self) -> None:
        for room in list(self.rooms.values()):
            await self.end(room, "server_shutdown")


CALLS = web.AppKey("calls", Calls)


async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
    app[CALLS] = Calls(app[SETTINGS], app[SESSIONS])
    yield
    await app[CALLS].close_all()


# ---------------------------------------------------------------- HTTP: starting a call, the two pages

async def start_call(request: web.Request) -> web.Response:
    """Staff open a call in a chat they hold; the customer gets a single-use join link in their channel."""
    principal = await require(request, "staff")
    body = await json_object(request, '{"kind": "video"}')
    kind = body.get("kind", "video")
    if kind not in ("video", "voice"):
        raise web.HTTPBadRequest(text='kind must be "video" or "voice"')
    settings, calls = request.app[SETTINGS], request.app[CALLS]
    async with request.app[SESSIONS]() as session:
        conversation, _handoff = await assigned_conversation(session, request, principal)
        for room in [r for r in calls.rooms.values() if r.conversation_id == conversation.id]:
            await calls.end(room, "replaced")
        call = Call(conversation_id=conversation.id, kind=kind, mode=settings.call_mode, started_by=principal.name,
                    token_nonce=secrets.token_hex(12), quality={})
        session.add(call)
        await session.flush()
        link = f"{(settings.public_url or settings.app_base_url).rstrip('/')}/call/{customer_token(settings, call)}"
        language = (await session.get(Customer, conversation.customer_id)).language
        session.add(Message(conversation_id=conversation.id, direction="out", author="system",
                            channel=conversation.channel, delivery_status="pending",
                            text=CALL_INVITE_TEXT[kind].to(language).format(minutes=settings.call_join_minutes),
                            payload={"buttons": [{"title": JOIN_BUTTON[kind].to(language), "url": link,
                                                  "web_app": conversation.channel == "telegram"}]}))
        room = Room(call.id, conversation.id, call.mode, kind)
        calls.rooms[call.id] = room
        await calls.record_event(session, room, "call_started", {"kind": kind, "mode": call.mode,
                                                                "staff": principal.name})
        await session.commit()
    room.timers.append(asyncio.create_task(
        calls.end_later(room, settings.call_join_minutes * 60, "no_answer", unless_role="customer")))
    await request.app[HUB].publish({"type": "message", "conversation_id": conversation.id})
    await notify_customer(request.app, conversation)
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
    html = request.app[TEMPLATES].get_template("call_staff.html").render(
        user=principal.name, role=principal.role, csrf=request.get(CSRF, ""), context=context,
        config={"call_id": call.id, "kind": call.kind, "mode": call.mode, "role": "staff",
                "conversation_id": call.conversation_id})
    return web.Response(text=html, content_type="text/html")


async def push_product(request: web.Request) -> web.Response:
    """During a call, put a product card into the customer's chat."""
    principal = await require(request, "staff")
    product_id = (await json_object(request, '{"product": "puer-ripe-cake"}')).get("product")
    product = request.app[KNOWLEDGE].catalog.get(product_id if isinstance(product_id, str) else None)
    if product is None:
        raise web.HTTPBadRequest(text="no such product in the catalog")
    async with request.app[SESSIONS]() as session:
        conversation, _handoff = await assigned_conversation(session, request, principal)
        language = (await session.get(Customer, conversation.customer_id)).language
        card = product.card(language=language)
        message = Message(conversation_id=conversation.id, direction="out", author="staff",
                          channel=conversation.channel, text=SHOWING_PRODUCT.to(language).format(name=card["name"]),
                          delivery_status="pending", payload={"staff": principal.name, "products": [card]})
        session.add(message)
        await session.commit()
    await request.app[HUB].publish({"type": "message", "conversation_id": conversation.id})
    await notify_customer(request.app, conversation)
    return web.json_response({"sent": product.id}, status=201)


# ---------------------------------------------------------------- the signalling socket

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
    room = calls.rooms.get(call_id)
    if call is None or room is None or call.ended_at is not None:
        await ws.send_json({"type": "error", "error": "this call has ended"})
        await ws.close()
        return ws
    try:
        hello = await asyncio.wait_for(ws.receive_json(), JOIN_MESSAGE_TIMEOUT_S)
        role = hello.get("role")
        if hello.get("type") != "join" or role not in ROLES:
            raise PermissionError('first say {"type": "join", "role": "staff"|"customer"}')
        if role == "staff":
            principal = await _join_staff(request, call)
            user = principal.name
        else:
            await _join_customer(request, call, room, hello)
            user = f"customer-{call.conversation_id}"
        if room.present(role):
            if role == "customer" and not hello.get("rejoin"):
                raise PermissionError("someone is already in this call")
            await room.sockets[role].close()
    except (PermissionError, TimeoutError, ValueError, TypeError) as exc:
        await ws.send_json({"type": "error", "error": str(exc) or "could not join"})
        await ws.close()
        return ws

    room.sockets[role] = ws
    room.joined_at[role] = time.monotonic()
    await ws.send_json({"type": "joined", "role": role, "kind": room.kind, "mode": room.mode,
                        "ice_servers": ice_servers(request.app[SETTINGS], user),
                        "ice_transport_policy": "relay" if request.app[SETTINGS].ice_relay_only else "all",
                        **({"rejoin": room.rejoin} if role == "customer" else {}),
                        "peer_present": room.present(other(role))})
    await calls.send(room, other(role), {"type": "peer_joined", "role": role})
    if room.mode == "bridge":
        await ws.send_json({"type": "start"})
    elif room.present(other(role)):
        await calls.send(room, "staff", {"type": "start"})  # staff make the offer
    try:
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(raw.data)
            except ValueError:
                continue
            if not isinstance(message, dict):
                continue
            await handle_signal(request.app, room, role, message)
            if room.ended:
                break
    finally:
        if room.sockets.get(role) is ws and not room.ended:
            await calls.send(room, other(role), {"type": "peer_left", "role": role})
            room.timers.append(asyncio.create_task(
                calls.end_later(room, RECONNECT_GRACE_S, f"{role}_dropped", unless_role=role)))
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
    joined = room.joined_at.get("customer", room.joined_at.get(role, time.monotonic()))
    ms = round((time.monotonic() - joined) * 1000)
    async with app[SESSIONS]() as session:
        await session.execute(update(Call).where(Call.id == room.call_id).values(connected_at=utcnow(), connect_ms=ms))
        await app[CALLS].record_event(session, room, "call_connected", {"connect_ms": ms, "reported_by": role})
        await session.commit()


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


# ---------------------------------------------------------------- call history for staff and owner

async def conversation_calls(request: web.Request) -> web.Response:
    await require(request, "staff")
    conversation_id = path_id(request, "conversation_id")
    async with request.app[SESSIONS]() as session:
        calls = (await session.scalars(select(Call).where(Call.conversation_id == conversation_id)
                                       .order_by(Call.id))).all()
    return web.json_response({"calls": [call_json(c) for c in calls]})


def call_duration_s(call: Call) -> int | None:
    """Seconds from connected to ended; None for a call that never connected or has not ended."""
    if call.connected_at is None or call.ended_at is None:
        return None
    return round((aware(call.ended_at) - aware(call.connected_at)).total_seconds())


def call_json(call: Call) -> dict:
    duration = call_duration_s(call)
    return {"id": call.id, "kind": call.kind, "mode": call.mode, "started_by": call.started_by,
            "created_at": aware(call.created_at).isoformat(), "connect_ms": call.connect_ms,
            "ended": call.ended_at is not None, "end_reason": call.end_reason, "duration_s": duration,
            "consent": call.consent, "recorded": bool(call.recording), "quality": call.quality}


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(calls_ctx)
    app.router.add_post("/api/conversations/{conversation_id}/calls", start_call)
    app.router.add_get("/api/conversations/{conversation_id}/calls", conversation_calls)
    app.router.add_post("/api/conversations/{conversation_id}/products", push_product)
    app.router.add_get("/call/{token}", customer_page)
    app.router.add_get("/console/call/{call_id}", staff_page)
    app.router.add_get("/ws/call/{call_id}", call_socket)
