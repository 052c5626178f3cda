"""Live calls in memory: each call's room (its sockets and, in bridge mode, the app's peer connections
that relay and record the media), and how a call ends.

With several instances (``TECHAN_REDIS_URL``) a P2P call's room is built on any instance a side's socket
reaches, from the call's row, and messages for a side whose socket is elsewhere go through ``calls.across``.
A bridge call stays in the instance that started it (its peers and recorder are there)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import av
import redis.asyncio as redis
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from calls.across import CHANNEL, Across
from calls.ice import rejoin_secret
from calls.passthrough import EncodedSource, ask_for_fec, follow_receiving_side, forwardable
from core.db import Call, Conversation, ConversationEvent, aware, utcnow
from core.language import Say
from core.settings import Settings
from handoff.desk import DESK, Desk, Outgoing
from handoff.relay import listening
from web.keys import REDIS, SETTINGS

log = logging.getLogger(__name__)

ROLES = ("staff", "customer")
RECONNECT_GRACE_S = 20  # a side that dropped has this long to come back before the call ends
TAKEN_OVER = "taken_over"  # between instances only: the side joined again elsewhere; close its old socket here
# The line both transcripts get when a call ends (the invitation was its start).
CALL_ENDED = {"video": Say("视频通话已结束，通话时长 {duration}。", "The video call has ended ({duration})."),
              "voice": Say("语音通话已结束，通话时长 {duration}。", "The voice call has ended ({duration}).")}
CALL_CONNECTED = {"video": Say("视频通话已接通。", "The video call is connected."),
                  "voice": Say("语音通话已接通。", "The voice call is connected.")}
NEVER_CONNECTED = {"video": Say("视频通话已结束（没有接通）。", "The video call has ended (it never connected)."),
                   "voice": Say("语音通话已结束（没有接通）。", "The voice call has ended (it never connected).")}


# A packet's length in its clock's units (30 fps video at 90 kHz, 20 ms of Opus at 48 kHz): the gap left
# between the last packet of a source and the first of the next.
PACKET_STEP = {"video": 3000, "audio": 960}


def other(role: str) -> str:
    return "customer" if role == "staff" else "staff"


class ForwardingTrack(MediaStreamTrack):
    """What one side receives in bridge mode: the other side's track, once (and whenever) it arrives —
    its encoded packets when both sides use the forwarded codec, else its decoded frames."""

    def __init__(self, kind: str, forwarded: bool) -> None:
        super().__init__()
        self.kind = kind
        self.forwarded = forwarded  # this side's sender uses FORWARDED_CODECS[kind]: it can send packets as they came
        self._source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        self._next_pts: int | None = None  # packets: where the next one goes on this side's timeline
        self._shift: int | None = None  # added to a source's packet times, so that a new source goes on from there

    def attach(self, source: MediaStreamTrack) -> None:
        self._source = source
        self._shift = None  # set by the new source's first packet
        self._changed.set()

    def encoded_source(self) -> EncodedSource | None:
        return self._source if isinstance(self._source, EncodedSource) else None

    async def recv(self):
        while True:
            source = self._source
            self._changed.clear()
            if source is None:
                await self._changed.wait()
                continue
            receiving = asyncio.ensure_future(source.recv())
            switched = asyncio.ensure_future(self._changed.wait())
            try:  # a source attached meanwhile takes over even when the old one never says it ended
                await asyncio.wait((receiving, switched), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in (receiving, switched):
                    if not waiting.done():
                        waiting.cancel()
            if receiving.cancelled():
                continue
            try:
                return self._on_our_timeline(receiving.result())
            except MediaStreamError:
                if self._source is source:  # the other side left; wait for them to come back
                    self._source = None
                if self.readyState != "live":
                    raise

    def _on_our_timeline(self, data):
        """A new source's packets start at 0 (aiortc's receiver): shift them to go on from the last one sent,
        since this side's sender keeps its stream, and a clock going back would stall the browser's player."""
        if not isinstance(data, av.Packet):
            return data
        step = PACKET_STEP[self.kind]
        if self._shift is None:
            self._shift = 0 if self._next_pts is None else self._next_pts - data.pts
        data.pts += self._shift
        self._next_pts = data.pts + step
        return data


@dataclass
class Room:
    """One live call: its sockets and, in bridge mode, the app's peer connection with each side."""

    call_id: int
    conversation_id: int
    mode: str
    kind: str
    rejoin: str  # the customer's secret to come back after a drop (calls.ice.rejoin_secret: the same everywhere)
    consent: bool = False
    sockets: dict[str, web.WebSocketResponse] = field(default_factory=dict)
    joined_at: dict[str, float] = field(default_factory=dict)
    peers: dict[str, RTCPeerConnection] = field(default_factory=dict)
    incoming: dict[str, dict[str, MediaStreamTrack]] = field(default_factory=lambda: {"staff": {}, "customer": {}})
    encoded: dict[str, dict[str, EncodedSource]] = field(default_factory=lambda: {"staff": {}, "customer": {}})
    outgoing: dict[str, dict[str, ForwardingTrack]] = field(default_factory=lambda: {"staff": {}, "customer": {}})
    recorder: MediaRecorder | None = None
    timers: list[asyncio.Task] = field(default_factory=list)
    elsewhere: dict[str, int] = field(default_factory=dict)  # sides seen on another instance: rounds missed since
    connected: bool = False
    ended: bool = False

    def present(self, role: str) -> bool:
        """Whether that side has a live signalling socket."""
        ws = self.sockets.get(role)
        return ws is not None and not ws.closed


class Calls:
    """Every live call of this instance; all peer connections are closed on shutdown."""

    def __init__(self, settings: Settings, desk: Desk, across: Across | None = None) -> None:
        self.settings = settings
        self.desk = desk  # the end of a call is told in the chat, as every message to a customer is
        self.sessions = desk.sessions
        self.across = across  # the other instances (TECHAN_REDIS_URL); None: this one is alone
        self.relay = MediaRelay()
        self.rooms: dict[int, Room] = {}
        self.leaving = False

    def open_room(self, call: Call) -> Room:
        room = self.rooms[call.id] = Room(call.id, call.conversation_id, call.mode, call.kind,
                                          rejoin_secret(self.settings, call), consent=bool(call.consent))
        return room

    def room_for(self, call: Call) -> Room | None:
        """This instance's room for a live call. A P2P call started on another instance gets one here, built from
        its row, when one of its sides' sockets arrives."""
        if call.id in self.rooms:
            return self.rooms[call.id]
        if call.ended_at is None and call.mode == "p2p" and self.across is not None and not self.leaving:
            return self.open_room(call)
        return None

    def shared(self, room: Room) -> bool:
        return self.across is not None and room.mode == "p2p"

    async def present(self, room: Room, role: str) -> bool:
        """Whether that side has a live signalling socket, here or on another instance."""
        return room.present(role) or (self.shared(room) and await self.across.present(room.call_id, role))

    async def record_event(self, session: AsyncSession, room: Room, name: str, data: dict) -> None:
        conversation = await session.get(Conversation, room.conversation_id)
        session.add(ConversationEvent(conversation_id=room.conversation_id, name=name, from_state=conversation.state,
                                      to_state=conversation.state, data={"call": room.call_id, **data}))

    async def send(self, room: Room, role: str, message: dict) -> None:
        """To that side's socket: here, or through the instance that holds it."""
        if room.present(role):
            await self._send_here(room, role, message)
        elif self.shared(room):
            await self.across.publish(room.call_id, role, message)

    async def _send_here(self, room: Room, role: str, message: dict) -> None:
        ws = room.sockets.get(role)
        if ws is not None and not ws.closed:
            try:
                await ws.send_json(message)
            except ConnectionError:
                log.info("call %s: %s socket went away", room.call_id, role)

    async def take_over(self, room: Room, role: str) -> None:
        """That side joins again (here): a socket it left open, here or on another instance, is closed."""
        if room.present(role):
            await room.sockets.pop(role).close()
        elif self.shared(room):
            await self.across.publish(room.call_id, role, {"type": TAKEN_OVER})

    async def deliver(self, call_id: int, role: str, message: dict) -> None:
        """A message from another instance for a side whose socket may be here."""
        room = self.rooms.get(call_id)
        kind = message.get("type")
        if room is None or room.ended:
            return
        if kind == "ended":  # stored by the instance that ended it: every socket of the call here is told
            for side in ROLES:
                await self._send_here(room, side, message)
            await self._close(room, str(message.get("reason")))
            return
        if not room.present(role):
            return
        if kind == TAKEN_OVER:  # popped first: its handler then does not report the side as gone
            await room.sockets.pop(role).close()
            return
        await self._send_here(room, role, message)
        if kind == "peer_left":  # here stays: end the call if the other side does not come back
            room.elsewhere.pop(other(role), None)
            self.wait_for_return(room, other(role))

    async def arrive(self, room: Room, role: str, ws: web.WebSocketResponse) -> asyncio.Task:
        """That side's socket is here: its presence for the other instances (set before the other side is looked
        at, so of two sides joining at once on two instances at least one sees the other), kept while the socket
        is open, with a look at the other side's: one whose instance died (its presence ran out, nobody said it
        left) is treated as dropped."""
        peer = other(role)
        token = await self.across.arrive(room.call_id, role)

        def taken_over() -> None:  # the side joined on another instance since (its message may have been lost)
            if room.sockets.get(role) is ws:
                del room.sockets[role]
                room.timers.append(asyncio.create_task(ws.close()))

        async def look_at_the_other_side() -> None:
            if room.present(peer) or room.ended:
                return
            if await self.across.present(room.call_id, peer):
                room.elsewhere[peer] = 0
            elif peer in room.elsewhere and room.elsewhere[peer] < 1:  # once may be a moment its key was re-set
                room.elsewhere[peer] += 1
            elif peer in room.elsewhere:
                del room.elsewhere[peer]
                log.info("call %s: the %s's instance stopped answering", room.call_id, peer)
                await self._send_here(room, role, {"type": "peer_left", "role": peer})
                self.wait_for_return(room, peer)
        return asyncio.create_task(self.across.keep_present(room.call_id, role, token, look_at_the_other_side,
                                                            taken_over), name=f"call {room.call_id} {role} presence")

    async def socket_closed(self, room: Room, role: str, ws: web.WebSocketResponse,
                            presence: asyncio.Task | None) -> None:
        """A side's socket here closed: unless the call ended or the side joined again since, it is gone for
        now; the other side is told and the call waits for it."""
        if presence is not None:
            presence.cancel()
            await asyncio.gather(presence, return_exceptions=True)
        if room.sockets.get(role) is ws and not room.ended:
            del room.sockets[role]
            await self.send(room, other(role), {"type": "peer_left", "role": role})
            self.wait_for_return(room, role)
        self.forget_if_idle(room)

    def forget_if_idle(self, room: Room) -> None:
        """A shared call with no socket and nothing waiting here lives on elsewhere (or in its row): this instance
        lets its room go, and builds it again when a socket arrives."""
        waiting = [task for task in room.timers if not task.done() and task is not asyncio.current_task()]
        if self.shared(room) and not waiting and not any(room.present(side) for side in ROLES):
            if self.rooms.get(room.call_id) is room:
                del self.rooms[room.call_id]

    def wait_for_return(self, room: Room, role: str) -> None:
        """A side dropped: end the call if it is not back (here or elsewhere) within the grace period."""
        if not self.leaving:
            room.timers.append(asyncio.create_task(
                self.end_later(room, RECONNECT_GRACE_S, f"{role}_dropped", unless_role=role)))

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

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("call %s: bridge to %s %s", room.call_id, role, pc.connectionState)
            if pc.connectionState == "connected":
                await self.maybe_record(room)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        room.encoded[role] = {t.kind: EncodedSource(t.receiver) for t in pc.getTransceivers() if forwardable(t)}
        for forward in room.outgoing[other(role)].values():  # the other side gets this side's new tracks
            self.feed(room, role, forward)
        room.outgoing[role] = {}
        for transceiver in pc.getTransceivers():
            ask_for_fec(transceiver)
            forward = ForwardingTrack(transceiver.kind, forwardable(transceiver))
            room.outgoing[role][transceiver.kind] = forward
            self.feed(room, other(role), forward)
            follow_receiving_side(pc.addTrack(forward), forward.encoded_source)
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    def feed(self, room: Room, source_role: str, forward: ForwardingTrack) -> None:
        """Give ``forward`` the track of that kind ``source_role`` sends: as it came when the codecs allow,
        else decoded (and then the source's receiver decodes)."""
        encoded = room.encoded[source_role].get(forward.kind)
        if encoded is not None and not encoded.ended and forward.forwarded:
            forward.attach(encoded)
            encoded.restart()
        elif (track := room.incoming[source_role].get(forward.kind)) is not None:
            if encoded is not None:
                encoded.tap.decoding = True
            forward.attach(self.relay.subscribe(track, buffered=False))

    @staticmethod
    def decode_for_recording(room: Room) -> None:
        """What the recording takes (the staff's picture, both voices) is decoded from now on."""
        for role, kind in (("staff", "video"), ("staff", "audio"), ("customer", "audio")):
            if (encoded := room.encoded[role].get(kind)) is not None and not encoded.tap.decoding:
                encoded.tap.decoding = True
                encoded.request_keyframe()

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
        self.decode_for_recording(room)
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
        """End a call once: keep the record, tell whoever is still there (here or elsewhere), close every peer."""
        if room.ended:
            return
        room.ended = True
        try:  # the record first: whoever is told "ended" can read it
            reason = await self._store_end(room, reason)
        except Exception:  # the call still ends for the people in it; the record keeps its start
            log.exception("call %s: its end (%s) could not be stored", room.call_id, reason)
        for role in ROLES:
            await self.send(room, role, {"type": "ended", "reason": reason})
        await self._close(room, reason)

    async def _close(self, room: Room, reason: str) -> None:
        """This instance's part of a call that ended: its sockets, timers and peers."""
        room.ended = True
        await self._let_go(room)
        if room.recorder is not None:
            await room.recorder.stop()
        for pc in room.peers.values():
            await pc.close()
        for tracks in room.outgoing.values():
            for track in tracks.values():
                track.stop()
        log.info("call %s ended: %s", room.call_id, reason)

    async def store_connected(self, room: Room, ms: int, reported_by: str) -> None:
        """The call's start, once whichever side (and instance) reports media first: kept on the call with the
        time from the customer's join, and told in the chat, so both transcripts show when it began."""
        async with self.desk.operation() as session:
            marked = await session.execute(update(Call).where(Call.id == room.call_id, Call.connected_at.is_(None))
                                           .values(connected_at=utcnow(), connect_ms=ms))
            if marked.rowcount != 1:
                return
            await self.record_event(session, room, "call_connected", {"connect_ms": ms, "reported_by": reported_by})
            await self.desk.send_in(session, await session.get(Conversation, room.conversation_id),
                                    lambda language: Outgoing(CALL_CONNECTED[room.kind].to(language)),
                                    author="system")

    async def _store_end(self, room: Room, reason: str) -> str:
        """Stored once, whichever instance ends it first, with a line in the chat saying how long it lasted;
        returns the reason stored."""
        async with self.desk.operation() as session:
            # The write comes first, so it waits its turn for SQLite's lock rather than upgrading a read.
            ending = await session.execute(update(Call).where(Call.id == room.call_id, Call.ended_at.is_(None))
                                           .values(ended_at=utcnow(), end_reason=reason))
            call = await session.get(Call, room.call_id)
            if ending.rowcount != 1:
                return call.end_reason or reason
            duration = call_duration_s(call)
            await self.record_event(session, room, "call_ended", {"reason": reason, "duration_s": duration or 0})
            await self.desk.send_in(session, await session.get(Conversation, room.conversation_id),
                                    lambda language: Outgoing(ended_line(room.kind, duration, language)),
                                    author="system")
        return reason

    async def end_every_call_in(self, conversation_id: int, reason: str) -> None:
        """Staff start a new call in a chat: any other call still open there ends, on whichever instance it is
        (a shared call's room is built here to end it; alone, only this instance's rooms exist)."""
        async with self.sessions() as session:
            still_open = (await session.scalars(select(Call).where(Call.conversation_id == conversation_id,
                                                                   Call.ended_at.is_(None)))).all()
        for call in still_open:
            if room := self.room_for(call):
                await self.end(room, reason)

    async def end_later(self, room: Room, delay_s: float, reason: str, unless_role: str | None = None) -> None:
        await asyncio.sleep(delay_s)
        if unless_role and await self.present(room, unless_role):
            self.forget_if_idle(room)
            return
        await self.end(room, reason)

    async def _let_go(self, room: Room) -> None:
        """This instance is done with the room: its timers stop and its sockets close (after being told what
        happened: each socket's handler then returns)."""
        self.rooms.pop(room.call_id, None)
        for task in room.timers:
            if task is not asyncio.current_task():
                task.cancel()
        for ws in list(room.sockets.values()):
            await ws.close()

    async def leave(self) -> None:
        """This instance stops: a P2P call shared with other instances goes on there (its sides' pages rejoin,
        and the media never passed through here); every other call ends."""
        self.leaving = True
        for room in list(self.rooms.values()):
            if self.shared(room):  # not ended: each socket's handler tells the other side it left
                await self._let_go(room)
            else:
                await self.end(room, "server_shutdown")


CALLS = web.AppKey("calls", Calls)


async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
    """CALLS; with other instances, their messages for this one's sockets heard. This instance leaves its calls
    at shutdown's start (``leave_calls``, so people are told at once), before this ends."""
    across = Across(app[REDIS]) if app[REDIS] is not None else None
    app[CALLS] = calls = Calls(app[SETTINGS], app[DESK], across)
    if across is None:
        yield
        return
    if app[SETTINGS].call_mode == "bridge":
        log.warning("calls: bridge mode keeps each call in the instance that started it; with several instances "
                    "behind a proxy use TECHAN_CALL_MODE=p2p (with TURN), which any instance carries")
    listener = redis.from_url(app[SETTINGS].redis_url, socket_connect_timeout=2, health_check_interval=30)
    async with listening(listener, CHANNEL, across.hearing(calls.deliver), "calls on the other instances"):
        yield
    await listener.aclose()


async def leave_calls(app: web.Application) -> None:
    await app[CALLS].leave()


def ended_line(kind: str, duration_s: int | None, language: str) -> str:
    """「视频通话已结束，通话时长 3 分 12 秒。」, or that it never connected."""
    if duration_s is None:
        return NEVER_CONNECTED[kind].to(language)
    minutes, seconds = divmod(duration_s, 60)
    if language == "en":
        spoken = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    else:
        spoken = f"{minutes} 分 {seconds} 秒" if minutes else f"{seconds} 秒"
    return CALL_ENDED[kind].to(language).format(duration=spoken)


def call_duration_s(call: Call) -> int | None:
    """Seconds from connected to ended; None for a call that never connected or has not ended."""
    if call.connected_at is None or call.ended_at is None:
        return None
    return round((aware(call.ended_at) - aware(call.connected_at)).total_seconds())
