"""Live calls in memory: each call's room (its sockets and, in bridge mode, the app's peer connections
that relay and record the media), and how a call ends."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import Call, Conversation, ConversationEvent, aware, utcnow
from core.settings import Settings
from web.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)

ROLES = ("staff", "customer")


def other(role: str) -> str:
    return "customer" if role == "staff" else "staff"


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
        try:  # the record first: whoever is told "ended" can read it
            await self._store_end(room, reason)
        except Exception:  # the call still ends for the people in it; the record keeps its start
            log.exception("call %s: its end (%s) could not be stored", room.call_id, reason)
        for role in ROLES:
            await self.send(room, role, {"type": "ended", "reason": reason})
        for ws in list(room.sockets.values()):  # after being told: each socket's handler then returns
            await ws.close()
        if room.recorder is not None:
            await room.recorder.stop()
        for pc in room.peers.values():
            await pc.close()
        for tracks in room.outgoing.values():
            for track in tracks.values():
                track.stop()
        log.info("call %s ended: %s", room.call_id, reason)

    async def _store_end(self, room: Room, reason: str) -> None:
        async with self.sessions() as session:
            # The write comes first, so it waits its turn for SQLite's lock rather than upgrading a read.
            await session.execute(update(Call).where(Call.id == room.call_id).values(ended_at=utcnow(), end_reason=reason))
            call = await session.get(Call, room.call_id)
            await self.record_event(session, room, "call_ended",
                                    {"reason": reason, "duration_s": call_duration_s(call) or 0})
            await session.commit()

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


def call_duration_s(call: Call) -> int | None:
    """Seconds from connected to ended; None for a call that never connected or has not ended."""
    if call.connected_at is None or call.ended_at is None:
        return None
    return round((aware(call.ended_at) - aware(call.connected_at)).total_seconds())
