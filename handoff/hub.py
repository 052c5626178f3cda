"""Live push over WebSockets: to every open staff console, and to the web chat pages of one customer."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from handoff.events import BUS, QueueChanged, TranscriptChanged

log = logging.getLogger(__name__)


class Hub:
    """Connected consoles and customer chat pages; sending never blocks on a slow or dead socket."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.customers: dict[str, weakref.WeakSet[web.WebSocketResponse]] = {}

    async def publish(self, event: dict) -> None:
        """To every staff console."""
        await _send(self.sockets, event)

    async def notify_customer(self, sender: str, event: dict) -> None:
        """To the web chat pages open for one customer (staff wrote, or the chat ended)."""
        await _send(self.customers.get(sender, weakref.WeakSet()), event)

    async def queue_changed(self, event: QueueChanged) -> None:
        await self.publish({"type": "queue", "conversation_id": event.conversation_id})

    async def transcript_changed(self, event: TranscriptChanged) -> None:
        await self.publish({"type": "message", "conversation_id": event.conversation_id})

    async def close_all(self) -> None:
        for ws in [*self.sockets, *(ws for group in self.customers.values() for ws in group)]:
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


async def _send(sockets: weakref.WeakSet[web.WebSocketResponse], event: dict) -> None:
    live = [ws for ws in sockets if not ws.closed]
    results = await asyncio.gather(*(ws.send_json(event) for ws in live), return_exceptions=True)
    for ws, result in zip(live, results):
        if isinstance(result, Exception):
            sockets.discard(ws)


HUB = web.AppKey("hub", Hub)


async def hub_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """The hub for the app's life, told of queue and transcript changes; at shutdown every console and chat
    page is told the server is going."""
    app[HUB] = hub = Hub()
    app[BUS].subscribe(QueueChanged, hub.queue_changed, every_instance=True)
    app[BUS].subscribe(TranscriptChanged, hub.transcript_changed, every_instance=True)
    yield
    await app[HUB].close_all()
