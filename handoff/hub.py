"""Live push to the staff console: one WebSocket per open console, events fanned out to all."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

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


def refuse_cross_origin(request: web.Request) -> None:
    """WebSockets skip the browser's same-origin rule, so check Origin (no cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[HUB].close_all()


async def staff_socket(request: web.Request) -> web.WebSocketResponse:
    """Console push channel: staff only, same origin only (no cross-site WebSocket hijacking)."""
    from techan.auth import require

    await require(request, "staff")
    refuse_cross_origin(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[HUB].sockets.add(ws)
    await ws.send_json({"type": "hello"})
    async for _message in ws:  # the console only listens; anything it sends is ignored
        pass
    return ws


async def customer_socket(request: web.Request) -> web.WebSocketResponse:
    """The web chat's push channel: it is told when staff write, then fetches the messages."""
    from handoff.channels.webchat import SENDER

    sender = request.match_info["sender"]
    if not SENDER.match(sender):
        raise web.HTTPBadRequest(text="sender must be 1-64 letters, digits, '-' or '_'")
    refuse_cross_origin(request)
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.customers.setdefault(sender, weakref.WeakSet()).add(ws)
    try:
        async for _message in ws:
            pass
    finally:
        group = hub.customers.get(sender)
        if group is not None:
            group.discard(ws)
            if not group:
                hub.customers.pop(sender, None)
    return ws


def setup(app: web.Application) -> None:
    app[HUB] = Hub()
    app.cleanup_ctx.append(hub_ctx)
    app.router.add_get("/ws/staff", staff_socket)
    app.router.add_get("/ws/chat/{sender}", customer_socket)
