"""Bridge mode without re-encoding: one side's media goes to the other side as it arrived, still encoded.

aiortc's public API hands a receiver's media to tracks only as decoded frames, and decoding and re-encoding
costs about half a core per call and caps a 1080p close-up at a few frames a second (README, *Calls*).
So each bridged receiver's queue of complete encoded frames (what its decoder thread would read) is
replaced by a ``Tap``: a frame goes to an ``EncodedSource`` track, whose packets the other side's sender
only packetizes again (``RTCRtpSender`` sends an ``av.Packet`` as it is). An SFU's other duties go with it:
a key-frame request from the receiving browser is passed to the sending one; so are its bandwidth
estimate (REMB) and the share of packets it lost, so that the sender adapts to the receiving side's network,
not only to the bridge's: its video encoder steps down, and its Opus adds in-band FEC (which the bridge asks
for in its answer, and which the receiving browser uses to rebuild a lost packet).
The decoder still runs when something needs pictures: the recording, or a side whose codec differs.

This reaches into aiortc 1.16's receiver and sender (the version is pinned; ``tests/service/test_calls.py``
fails if the hooks stop holding): the decoder queue, ``_send_rtcp``, ``_send_rtcp_pli`` and the RTX
streams and jitter buffer of the receiver, ``_handle_rtcp_packet`` and ``_send_keyframe`` of the sender.
"""

from __future__ import annotations

import asyncio
import queue
import time
from fractions import Fraction

import av
from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSrPacket,
    pack_remb_fci,
    unpack_remb_fci,
)
from aiortc.utils import uint16_add

# What is forwarded as it arrived: the codecs every browser offers, which aiortc can packetize again.
FORWARDED_CODECS = {"video": "video/VP8", "audio": "audio/opus"}
QUEUED_FRAMES = 60  # ~2 s of video waiting for a sender that is not there yet (the other side is joining)
KEYFRAME_REQUEST_EVERY_S = 1.0  # at most this often: more would flood a weak link with key frames (~0.5 s each at 300 kbit/s)
# What a receiving side that has not reported yet is assumed to take: the rate Chromium starts a new connection
# at. Without it, a side joining on a weak link got the other side's picture at the rate that side had reached on
# its own link (a 150 KB 1080p key frame, then megabits a second), and its first estimate came only after ~7 s of
# loss. (200 kbit/s, leaving room for the sound, did no better in three calls at 300 kbit/s, and started slower.)
START_BPS = 300_000
GIVE_UP_ON_LOST_S = 1.0  # no frame for this long, packets missing meanwhile (retransmissions lost too): skip them
ENCODER_FOLLOWS_S = 0.5  # how long the sending browser's encoder takes to follow a new estimate (~0.4 s measured)


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list:
    """The codecs a transceiver may use once its offer is set, the one it sends and receives with first."""
    return getattr(transceiver, "_codecs", None) or []


def negotiated_codec(transceiver: RTCRtpTransceiver) -> str | None:
    codecs = negotiated_codecs(transceiver)
    return codecs[0].mimeType if codecs else None


def forwardable(transceiver: RTCRtpTransceiver) -> bool:
    return negotiated_codec(transceiver) == FORWARDED_CODECS.get(transceiver.kind)


def ask_for_fec(transceiver: RTCRtpTransceiver) -> None:
    """The answer tells the browser that Opus in-band FEC is welcome (aiortc's own answer does not)."""
    for codec in negotiated_codecs(transceiver):
        if codec.mimeType == FORWARDED_CODECS["audio"]:
            codec.parameters["useinbandfec"] = 1


def remb(packet) -> tuple[int, list[int]] | None:
    """The bitrate and streams of a REMB packet (Receiver Estimated Maximum Bitrate), or None for another."""
    if not isinstance(packet, RtcpPsfbPacket) or packet.fmt != RTCP_PSFB_APP:
        return None
    try:
        return unpack_remb_fci(packet.fci)
    except ValueError:
        return None


def is_vp8_keyframe(data: bytes) -> bool:
    """A whole VP8 key frame: its first bit (the inverse key-frame flag, RFC 6386 9.1) is 0 and its start code
    follows (a frame the jitter buffer handed on without its first packets fails the second test)."""
    return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a"


class SkippingJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, made to give up on lost packets. aiortc's own hands on no frame while a packet
    is missing until 512 newer ones have come, and then the frames from before (aiortc #1416): after a 5 s outage
    the bridged picture stayed frozen in both directions while the sound came back. This one gives a missing
    packet ``GIVE_UP_ON_LOST_S`` from when the packet after it arrived (the receiver asks for it again then), and
    then skips to the newest frame it holds and asks for a key frame: the frames in between may refer to what was
    lost, and handing them on would keep the picture behind the sound (one frame goes out per packet in). A frame
    still arriving is never cut, and a late retransmission of a skipped packet is dropped (aiortc's buffer would
    take one far behind for a new stream and start again from it)."""

    def __init__(self) -> None:
        super().__init__(capacity=512, is_video=True)  # as aiortc's receiver makes it
        self._arrived = [0.0] * self._capacity
        self._last_frame_at = 0.0
        self._skipped: tuple[int, int] | None = None  # (first sequence number, how many) of the last skip

    def add(self, packet) -> tuple[bool, JitterFrame | None]:
        if self._skipped and uint16_add(packet.sequence_number, -self._skipped[0]) < self._skipped[1]:
            return False, None
        keyframe_needed, frame = super().add(packet)
        now = time.monotonic()
        self._arrived[packet.sequence_number % self._capacity] = now
        if frame is not None:
            self._last_frame_at = now
        elif now - self._last_frame_at >= GIVE_UP_ON_LOST_S and (skip := self._skip_to(now)):
            self._skipped = (self._origin, skip)
            self.remove(skip)
            return True, None
        return keyframe_needed, frame

    def _skip_to(self, now: float) -> int | None:
        """How far from the oldest packet held the newest frame starts, when a packet before that frame has been
        missing for ``GIVE_UP_ON_LOST_S``; None: nothing to skip."""
        packets = [self._packets[(self._origin + n) % self._capacity] for n in range(self._capacity)]
        held = [n for n, packet in enumerate(packets) if packet is not None]
        if not held:
            return None
        newest = held[-1]
        first_missing = next((n for n in range(newest) if packets[n] is None), None)
        if first_missing is None:
            return None
        after = next(n for n in held if n > first_missing)
        if now - self._arrived[(self._origin + after) % self._capacity] < GIVE_UP_ON_LOST_S:
            return None
        start = next(n for n in held if packets[n].timestamp == packets[newest].timestamp)
        return start if start > first_missing else None


class Tap(queue.Queue):
    """Stands in for a receiver's decoder queue: every complete frame goes to the encoded source; the decoder
    thread gets frames only while ``decoding`` (a recording), and always the end-of-stream marker."""

    def __init__(self, source: EncodedSource) -> None:
        super().__init__()
        self.source = source
        self.decoding = False

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            self.source.end()
        elif item[0].mimeType == FORWARDED_CODECS[self.source.kind]:  # (the browser may switch codecs)
            codec, frame = item
            self.source.arrive(frame.data, frame.timestamp, codec.clockRate)
            if not self.decoding:
                return
        super().put(item, block, timeout)


class EncodedSource(MediaStreamTrack):
    """One side's incoming audio or video as encoded packets, for the other side's sender."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        super().__init__()
        self.kind = receiver.track.kind
        self.receiver = receiver
        self.tap = Tap(self)
        receiver._RTCRtpReceiver__decoder_queue = self.tap  # read by receive(), which starts the decoder thread
        if self.kind == "video":
            receiver._RTCRtpReceiver__jitter_buffer = SkippingJitterBuffer()
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self.ended = False
        self._waiting_for_keyframe = False
        self._reader_waiting = False
        self._last_keyframe_request = 0.0
        self._requests: set[asyncio.Task] = set()
        self._keyframe_later: asyncio.TimerHandle | None = None
        self.limit_bps: int | None = None  # the receiving side's estimate (REMB), passed on to the sending side
        self.loss = LossRelay()  # what the receiving side reports lost, passed on likewise
        self._send_rtcp, self._send_pli = receiver._send_rtcp, receiver._send_rtcp_pli
        receiver._send_rtcp, receiver._send_rtcp_pli = self._rtcp_out, self._pli_out

    def arrive(self, data: bytes, timestamp: int, clock_rate: int) -> None:
        if self._queue.qsize() >= QUEUED_FRAMES:  # nobody reads (the other side is not there): keep nothing old
            self._drop_queued()
        if self._waiting_for_keyframe:
            if not is_vp8_keyframe(data):
                if self._reader_waiting:
                    self.request_keyframe()
                return
            self._waiting_for_keyframe = False
        packet = av.Packet(data)
        packet.pts, packet.time_base = timestamp, Fraction(1, clock_rate)
        self._queue.put_nowait(packet)

    def _drop_queued(self) -> None:
        """Forget what waits; video starts again at a key frame (a frame after a gap would decode to garbage)."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._waiting_for_keyframe = self.kind == "video"
        if self.ended:
            self._queue.put_nowait(None)

    def restart(self) -> None:
        """A new reader (the other side joined or came back): it starts from a fresh key frame. The limits its
        side reported stay until it reports again (a page reconnecting on a weak link is still on it); a side
        that never reported is taken to start where a new connection does, and the sending browser is told,
        and its encoder given time to follow, before the key frame is asked for: a key frame made for the rate
        the sending side had reached on its own (150 KB in a 1080p close-up) would fill a weak link for seconds,
        and the loss it caused brought the sending browser's estimate down to its floor."""
        self._drop_queued()
        if self.kind == "video" and self.limit_bps is None and (ssrcs := self._media_ssrcs()):
            self.limit_bps = START_BPS
            self._send(self._send_rtcp(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=self.receiver._RTCRtpReceiver__rtcp_ssrc,
                                                      media_ssrc=0, fci=pack_remb_fci(START_BPS, ssrcs))))
            loop = asyncio.get_running_loop()  # no key frame is asked for (the receiving side asks at once) until then
            self._last_keyframe_request = loop.time() + ENCODER_FOLLOWS_S - KEYFRAME_REQUEST_EVERY_S
            self._keyframe_later = loop.call_later(ENCODER_FOLLOWS_S, self.request_keyframe)
        else:
            self.request_keyframe()

    def end(self) -> None:
        self.ended = True
        if self._keyframe_later is not None:
            self._keyframe_later.cancel()
        self._queue.put_nowait(None)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        self._reader_waiting = True
        try:
            packet = await self._queue.get()
        finally:
            self._reader_waiting = False
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet

    def _media_ssrcs(self) -> list[int]:
        """The streams the sending browser sends this receiver (RTX streams are listed too: not those)."""
        retransmissions = self.receiver._RTCRtpReceiver__rtx_ssrc
        return [s.source for s in self.receiver.getSynchronizationSources() if s.source not in retransmissions]

    def _send(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    def request_keyframe(self) -> None:
        """Ask the sending browser for a key frame (a PLI), at most every ``KEYFRAME_REQUEST_EVERY_S``."""
        now = asyncio.get_running_loop().time()
        if self.kind != "video" or now - self._last_keyframe_request < KEYFRAME_REQUEST_EVERY_S:
            return
        if sources := self._media_ssrcs():
            self._last_keyframe_request = now
            self._send(self._send_pli(sources[0]))

    async def _pli_out(self, media_ssrc: int) -> None:
        """The receiver's own key-frame request, after a loss it could not repair: the frames before the key
        frame may refer to what was lost, so none is forwarded. (A request passed on from the receiving side
        does not stop forwarding: on a weak link its key frame may be lost again, and the receiving browser
        still shows what it can decode meanwhile.)"""
        if self.kind == "video":
            self._waiting_for_keyframe = True
        await self._send_pli(media_ssrc)

    async def _rtcp_out(self, packet) -> None:
        """The receiver's own REMB and loss reports, made no better than what the receiving side reported."""
        if (estimate := remb(packet)) is not None:
            if self.limit_bps is not None:
                bitrate, ssrcs = estimate
                packet.fci = pack_remb_fci(min(bitrate, self.limit_bps), ssrcs)
        elif isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            share = self.loss.share_since_last()
            retransmissions = self.receiver._RTCRtpReceiver__rtx_ssrc
            for report in packet.reports:
                if report.ssrc not in retransmissions:
                    self.loss.raise_report(report, share)
        await self._send_rtcp(packet)


def lost_between(before: tuple[int, int] | None, after: tuple[int, int]) -> tuple[int, int]:
    """(expected, lost) between two reports' running totals (highest sequence number, packets lost);
    nothing when there is no earlier report or the stream started again."""
    if before is None or after[0] < before[0]:
        return 0, 0
    return after[0] - before[0], after[1] - before[1]


class LossRelay:
    """Makes our receiver reports to the sending browser show at least the share of packets the receiving
    browser lost since our previous report. Chromium's sender reads loss from the running totals in a report
    (packets lost against the highest sequence number), not from its "fraction lost", so the running total is
    what is raised; and it takes the receiving browser's totals, not its last report alone (Chromium sends a
    report with every NACK, several each 100 ms on a lossy link, most covering a moment with no loss)."""

    def __init__(self) -> None:
        self.downstream: tuple[int, int] | None = None  # (highest sequence, lost) in the receiving side's last report
        self.downstream_ssrc: int | None = None  # the stream it reports on (a reconnect brings a new one)
        self.downstream_then: tuple[int, int] | None = None  # the same at our previous report
        self.upstream_then: dict[int, tuple[int, int]] = {}  # per stream: our own totals in our previous report
        self.added: dict[int, int] = {}  # per stream: packets we reported lost beyond our own count

    def arrived(self, report: RtcpReceiverInfo) -> None:
        """The receiving browser's report on the stream we send it."""
        if report.ssrc != self.downstream_ssrc:
            self.downstream_ssrc, self.downstream_then = report.ssrc, None
        self.downstream = (report.highest_sequence, report.packets_lost)

    def share_since_last(self) -> float:
        """The share the receiving side lost since the previous call (once per report of ours)."""
        if self.downstream is None:
            return 0.0
        expected, lost = lost_between(self.downstream_then, self.downstream)
        self.downstream_then = self.downstream
        return min(1.0, lost / expected) if expected > 0 and lost > 0 else 0.0

    def raise_report(self, report: RtcpReceiverInfo, share: float) -> None:
        """Our report on one stream the sending browser sends us, its loss raised to ``share`` since the last."""
        ours = (report.highest_sequence, report.packets_lost)
        expected, lost = lost_between(self.upstream_then.get(report.ssrc), ours)
        self.upstream_then[report.ssrc] = ours
        # (at least one packet received in the interval: Chromium ignores a report that says none were)
        added = self.added.get(report.ssrc, 0) + max(0, min(round(share * expected), expected - 1) - lost)
        self.added[report.ssrc] = added
        report.packets_lost = min(report.packets_lost + added, 0x7FFFFF)  # (a running total only grows)
        report.fraction_lost = max(report.fraction_lost, min(255, int(share * 256)))


def follow_receiving_side(sender: RTCRtpSender, current) -> None:
    """Pass a receiving browser's key-frame requests and bandwidth estimate to the source it is sent
    (``current()``: the EncodedSource the sender forwards now, or None when it forwards decoded frames)."""
    keyframe, handle_rtcp = sender._send_keyframe, sender._handle_rtcp_packet

    def send_keyframe() -> None:
        if (source := current()) is not None:
            source.request_keyframe()
        else:
            keyframe()

    async def on_rtcp(packet) -> None:  # a PLI or FIR reaches send_keyframe through the original handler
        source = current()
        if source is not None and (estimate := remb(packet)) is not None:
            bitrate, ssrcs = estimate
            if sender._ssrc in ssrcs:
                source.limit_bps = bitrate
        elif source is not None and isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):
            for report in packet.reports:
                if report.ssrc == sender._ssrc:
                    source.loss.arrived(report)
        await handle_rtcp(packet)

    sender._send_keyframe, sender._handle_rtcp_packet = send_keyframe, on_rtcp
