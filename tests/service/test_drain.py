"""Stopping the app: messages in flight finish, new ones are refused before they are stored, Rasa's
action calls and reads go on, and the log says what was waited for."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from techan.serving import DRAIN, drain_requests, install


def slow_app(release: asyncio.Event, handled: list[str]) -> web.Application:
    async def chat(request: web.Request) -> web.Response:
        await release.wait()  # a turn waiting for Rasa
        handled.append(request.match_info["sender"])
        return web.json_response({"state": "bot", "replies": []})

    async def webhook(request: web.Request) -> web.Response:
        return web.json_response({"events": []})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/api/chat/{sender}", chat)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", health)
    install(app)
    return app


async def test_the_drain_waits_for_the_turn_in_flight_and_refuses_new_messages(aiohttp_client, caplog):
    release, handled = asyncio.Event(), []
    client = await aiohttp_client(slow_app(release, handled))
    drain = client.app[DRAIN]
    in_flight = asyncio.create_task(client.post("/api/chat/first", json={"text": "运费怎么算？"}))
    for _ in range(100):  # bounded: the request reaches its handler
        if drain.in_flight:
            break
        await asyncio.sleep(0.01)
    assert drain.in_flight == 1
    caplog.set_level(logging.INFO, logger="techan.serving")
    stopping = asyncio.create_task(drain_requests(drain, timeout=10))
    await asyncio.sleep(0.05)
    refused = await client.post("/api/chat/second", json={"text": "还在吗"})
    assert refused.status == 503 and refused.headers["Retry-After"] == "5"
    assert "重启" in (await refused.json())["error"]
    assert (await client.post("/webhook", json={})).status == 200  # Rasa finishing the turn's actions
    assert (await client.get("/healthz")).status == 200
    assert not stopping.done()
    release.set()
    summary = await stopping
    assert (await in_flight).status == 200 and handled == ["first"]
    assert summary.startswith("stopping: waited for 1 request in flight") and "refused 1 new request" in summary
    assert summary in caplog.text


async def test_a_turn_that_outlasts_the_drain_is_reported_not_hidden(aiohttp_client, caplog):
    release, handled = asyncio.Event(), []
    client = await aiohttp_client(slow_app(release, handled))
    drain = client.app[DRAIN]
    in_flight = asyncio.create_task(client.post("/api/chat/slow", json={"text": "在吗"}))
    for _ in range(100):
        if drain.in_flight:
            break
        await asyncio.sleep(0.01)
    summary = await drain_requests(drain, timeout=0.2)
    assert "1 still running is cut off" in summary and "WARNING" in caplog.text
    release.set()
    await in_flight


async def test_nothing_in_flight_stops_at_once(aiohttp_client):
    client = await aiohttp_client(slow_app(asyncio.Event(), []))
    assert await drain_requests(client.app[DRAIN], timeout=10) == "stopping: no requests in flight"
