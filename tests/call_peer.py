"""A headless call participant on aiortc: joins through the app's real signalling, sends synthetic
audio and video, and counts what it receives. Used by the call tests and benchmarks/call_connect.py."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import numpy as np
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from av import VideoFrame


class PatternVideoTrack(VideoStreamTrack):
    """Moving stripes of a chosen size, so the encoder has real work (like a camera on a tea cake)."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height, self.count = width, height, 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        image[:, :, 1] = (np.arange(self.width, dtype=np.uint16)[None, :] + self.count * 4) % 256
        image[:, :, 0] = (np.arange(self.height, dtype=np.uint16)[:, None] * 2) % 256
        self.count += 1
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


async def web_customer_hello(session: aiohttp.ClientSession | object, chat_url: str, customer_url: str,
                             consent: bool = False) -> dict:
    """A web-chat customer's join message, as the chat page and the call page make it: the link's token, and
    the pass the chat token buys (``session`` carries that token: a cookie jar, or the test client's)."""
    link = customer_url.rsplit("/call/", 1)[1]
    async with session.post(f"{chat_url}/call-pass", json={"link": link}) as response:
        granted = await response.json()
        assert response.status == 200, granted
    return {"type": "join", "role": "customer", "token": link, "consent": consent, "chat": granted["pass"]}


class CallPeer:
    """One side of a call. ``hello`` is the join message; staff authenticate with ``headers``."""

    def __init__(self, role: str, *, video: bool = True, size: tuple[int, int] = (320, 240)) -> None:
        self.role, self.video, self.size = role, video, size
        self.pc: RTCPeerConnection | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.received = {"audio": 0, "video": 0}
        self.received_size: tuple[int, int] | None = None  # of the last video frame
        self.messages: list[dict] = []
        self.connected = asyncio.Event()
        self.first_frame = asyncio.Event()
        self.ended = asyncio.Event()
        self.errors: list[str] = []
        self.joined_at = self.connected_at = self.first_frame_at = 0.0
        self.mode = "p2p"
        self._tasks: list[asyncio.Task] = []

    # ------------------------------------------------------------ joining
    async def join(self, session: aiohttp.ClientSession | object, url: str, hello: dict,
                   headers: dict | None = None) -> dict:
        """Connect and say hello; returns the server's first answer ("joined" or "error")."""
        self.joined_at = time.perf_counter()
        self.ws = await session.ws_connect(url, headers=headers or {})
        await self.ws.send_json(hello)
        first = await asyncio.wait_for(self.ws.receive_json(), 10)
        self.messages.append(first)
        if first.get("type") == "joined":
            self.mode = first["mode"]
            self._tasks.append(asyncio.create_task(self._listen()))
        else:
            self.errors.append(first.get("error", ""))
        return first

    def _new_pc(self) -> RTCPeerConnection:
        pc = RTCPeerConnection()  # no STUN: host candidates on loopback
        pc.addTrack(AudioStreamTrack())
        if self.video:
            pc.addTrack(PatternVideoTrack(*self.size))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._tasks.append(asyncio.create_task(self._count(track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected" and not self.connected.is_set():
                self.connected_at = time.perf_counter()
                self.connected.set()
                await self.send({"type": "connected", "ms": round((self.connected_at - self.joined_at) * 1000)})

        self.pc = pc
        return pc

    async def _count(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.received[track.kind] += 1
                if track.kind == "video":
                    self.received_size = (frame.width, frame.height)
                if track.kind == "video" and not self.first_frame.is_set():
                    self.first_frame_at = time.perf_counter()
                    self.first_frame.set()
        except MediaStreamError:
            pass

    async def send(self, message: dict) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_json(message)

    async def _listen(self) -> None:
        async for raw in self.ws:
            if raw.type != aiohttp.WSMsgType.TEXT:
                continue
            message = raw.json()
            self.messages.append(message)
            try:  # like call.js: a message that cannot be used is noted, and the next ones still are
                await self._on_message(message)
            except Exception as exc:  # noqa: BLE001 - aiortc raises several kinds for a description out of turn
                self.errors.append(f"{message.get('type')}: {exc!r}")
        self.ended.set()

    async def _on_message(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "start":
            pc = self._new_pc()
            await pc.setLocalDescription(await pc.createOffer())
            await self.send({"type": "offer", "sdp": pc.localDescription.sdp})
        elif kind == "offer":
            pc = self._new_pc()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self.send({"type": "answer", "sdp": pc.localDescription.sdp})
        elif kind == "answer":
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
        elif kind == "ended":
            self.ended.set()
        elif kind == "error":
            self.errors.append(message.get("error", ""))

    # ------------------------------------------------------------ leaving
    async def hang_up(self) -> None:
        await self.send({"type": "hangup"})

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pc is not None:
            await self.pc.close()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

