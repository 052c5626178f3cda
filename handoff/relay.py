"""Several app instances, one shop: the desk's events relayed between them over Redis pub/sub, so a console or a
chat page open on one instance hears what happened on another (``TECHAN_REDIS_URL``; alone, nothing is relayed).

A push is a hint, not the record: the pages fetch what changed from the database. So a push lost while Redis
is away costs a page a moment's staleness, never a message, and the relay only logs and reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import redis as sync_redis
import redis.asyncio as redis
from aiohttp import web

from core.settings import Settings
from core.waiting import event_set_within
from handoff.events import BUS, Event, KnowledgeChanged, decode, encode
from web.keys import SETTINGS

log = logging.getLogger(__name__)

CHANNEL = "techan:events"
RECONNECT_PAUSE_S = 1.0
SUBSCRIBED_WAIT_S = 2.0  # at start-up, how long to wait for the subscription before serving anyway


async def relay_lifecycle(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if not settings.redis_url:
        yield
        return
    client = redis.from_url(settings.redis_url, socket_connect_timeout=2, health_check_interval=30)
    origin = secrets.token_hex(8)  # this instance, so it does not hear its own events twice
    bus = app[BUS]

    async def publish(event: Event) -> None:
        await client.publish(CHANNEL, encode(event, origin))

    async def hear(data: bytes) -> None:
        try:
            sender, event = decode(data)
        except (ValueError, TypeError):
            log.warning("events from the other instances: ignored a message that is not an event")
            return
        if sender != origin:
            await bus.emit_from_another_instance(event)

    async with listening(client, CHANNEL, hear, "events from the other instances"):
        bus.relay_to(publish)
        yield
        bus.relay_to(None)
    await client.aclose()


@contextlib.asynccontextmanager
async def listening(client: redis.Redis, channel: str, hear: Callable[[bytes], Awaitable[None]],
                    what: str) -> AsyncIterator[None]:
    """While inside: each message on ``channel`` is handed to ``hear``, one after another. Waits up to
    ``SUBSCRIBED_WAIT_S`` for the subscription, so what is published next is heard."""
    subscribed = asyncio.Event()
    listener = asyncio.create_task(listen(client, channel, hear, what, subscribed), name=f"listen {channel}")
    if not await event_set_within(subscribed, SUBSCRIBED_WAIT_S):
        log.warning("%s: not subscribed yet (Redis slow or away); going on", what)
    try:
        yield
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)


async def listen(client: redis.Redis, channel: str, hear: Callable[[bytes], Awaitable[None]], what: str,
                 subscribed: asyncio.Event) -> None:
    """For the app's life: hand each message to ``hear``; reconnect when Redis drops."""
    while True:
        try:
            async with client.pubsub() as pubsub:
                await pubsub.subscribe(channel)
                subscribed.set()
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        await hear(message["data"])
                    except Exception:  # one message's failure must not stop the instance hearing the next
                        log.exception("%s: a message could not be handled", what)
        except (redis.RedisError, OSError) as exc:
            log.warning("%s: Redis unreachable (%s); trying again in %.0f s", what, exc.__class__.__name__,
                        RECONNECT_PAUSE_S)
            await asyncio.sleep(RECONNECT_PAUSE_S)


def tell_instances_knowledge_changed(settings: Settings) -> bool:
    """From a command outside the app (``techan kb import``): every running instance reloads its index now.
    False when there is no Redis to tell, or it is away: the instances then see the change by polling."""
    if not settings.redis_url:
        return False
    client = sync_redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.publish(CHANNEL, encode(KnowledgeChanged(), origin="command"))
        return True
    except (sync_redis.RedisError, OSError) as exc:
        log.warning("could not tell the running instances (Redis: %s); they will see it within a second",
                    exc.__class__.__name__)
        return False
    finally:
        client.close()
