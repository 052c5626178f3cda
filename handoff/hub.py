"""Live push to the staff console: one WebSocket per open console, events fanned out to all."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

log = logging.getLogger(__name__)


class Hub:
    """Connected consoles; ``publish`` never blocks the router on a slow or dead socket."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()

    async def publish(self, event: dict) -> None:
        sockets = [ws for ws in self.sockets if not ws.closed]
        results = await asyncio.gather(*(ws.send_json(event) for ws in sockets), return_exceptions=True)
        for ws, result in zip(sockets, results):
            if isinstance(result, Exception):
                self.sockets.discard(ws)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


HUB = web.AppKey("hub", Hub)


async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[HUB].close_all()


async def staff_socket(request: web.Request) -> web.WebSocketResponse:
    """Console push channel: staff only, same origin only (no cross-site WebSocket hijacking)."""
    from techan.auth import require

    await require(request, "staff")
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)
    request.app[HUB].sockets.add(ws)
    await ws.send_json({"type": "hello"})
    async for _message in ws:  # the console only listens; anything it sends is ignored
        pass
    return ws


def setup(app: web.Application) -> None:
    app[HUB] = Hub()
    app.cleanup_ctx.append(hub_ctx)
    app.router.add_get("/ws/staff", staff_socket)
