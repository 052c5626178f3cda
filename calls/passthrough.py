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
streams of the receiver, ``_handle_rtcp_packet`` and ``_send_keyframe`` of the sender.
"""

from __future__ import annotations

import asyncio
import queue
from fractions import Fraction

import av
from aiortc import MediaStreamTrack, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpRrPacket, RtcpSrPacket, pack_remb_fci, unpack_remb_fci

# What is forwarded as it arrived: the codecs every browser offers, which aiortc can packetize again.
FORWARDED_CODECS = {"video": "video/VP8", "audio": "audio/opus"}
QUEUED_FRAMES = 60  # ~2 s of video waiting for a sender that is not there yet (the other side is joining)
KEYFRAME_REQUEST_EVERY_S = 1.0  # at most this often: more would flood a weak link with key frames (~0.5 s each at 300 kbit/s)


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
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self.ended = False
        self._waiting_for_keyframe = False
        self._reader_waiting = False
        self._last_keyframe_request = 0.0
        self._requests: set[asyncio.Task] = set()
        self.limit_bps: int | None = None  # the receiving side's estimate (REMB), passed on to the sending side
        self.fraction_lost = 0  # the receiving side's last report (of 256), passed on likewise
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
        side reported stay until it reports again (a page reconnecting on a weak link is still on it)."""
        self._drop_queued()
        self.request_keyframe()

    def end(self) -> None:
        self.ended = True
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

    def request_keyframe(self) -> None:
        """Ask the sending browser for a key frame (a PLI), at most every ``KEYFRAME_REQUEST_EVERY_S``."""
        loop = asyncio.get_running_loop()
        if self.kind != "video" or loop.time() - self._last_keyframe_request < KEYFRAME_REQUEST_EVERY_S:
            return
        retransmissions = self.receiver._RTCRtpReceiver__rtx_ssrc  # RTX streams are listed too: not for a PLI
        sources = [s.source for s in self.receiver.getSynchronizationSources() if s.source not in retransmissions]
        if not sources:
            return
        self._last_keyframe_request = loop.time()
        task = loop.create_task(self._send_pli(sources[0]))
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

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
            for report in packet.reports:
                report.fraction_lost = max(report.fraction_lost, self.fraction_lost)
        await self._send_rtcp(packet)


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
                    source.fraction_lost = report.fraction_lost
        await handle_rtcp(packet)

    sender._send_keyframe, sender._handle_rtcp_packet = send_keyframe, on_rtcp
