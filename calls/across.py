"""A call whose two sides are on different app instances (``TECHAN_REDIS_URL``), P2P: the app only passes
messages, so any instance can carry either side's signalling socket.

Each side's presence is a short lease in Redis, renewed while its socket is open, so an instance can tell
whether the other side is there (elsewhere) and a drop timer does not end a call whose side rejoined on
another instance. A message for a side whose socket is elsewhere goes over Redis pub/sub; the instance that
holds that socket delivers it. A killed instance renews nothing: its sides' presence is gone after
``PRESENCE_S``, and the other side's instance ends the call if they do not come back."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable

import redis.asyncio as redis

log = logging.getLogger(__name__)

CHANNEL = "techan:calls"
PRESENCE_S = 10.0
# Compare-and-renew and compare-and-delete: only the socket that holds the side's presence renews or ends it
# (one that joined since, on another instance, has overwritten it).
RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def presence_key(call_id: int, role: str) -> str:
    return f"techan:call:{call_id}:{role}"


class Across:
    """This instance's side of the calls shared with the others: presence leases and messages."""

    def __init__(self, shared: redis.Redis) -> None:
        self.shared = shared
        self.origin = secrets.token_hex(8)  # this instance: it does not deliver its own messages twice
        self._renew = shared.register_script(RENEW)
        self._release = shared.register_script(RELEASE)

    async def publish(self, call_id: int, role: str, message: dict) -> None:
        try:
            await self.shared.publish(CHANNEL, json.dumps({"origin": self.origin, "call": call_id, "role": role,
                                                           "message": message}))
        except (redis.RedisError, OSError) as exc:
            log.warning("call %s: could not pass a %s message to the other instance (Redis: %s)", call_id,
                        message.get("type"), exc.__class__.__name__)

    def hearing(self, deliver: Callable[[int, str, dict], Awaitable[None]]) -> Callable[[bytes], Awaitable[None]]:
        """What the listener does with a message from another instance: ``deliver(call_id, role, message)``."""
        async def hear(data: bytes) -> None:
            try:
                raw = json.loads(data)
                call_id, role, message = int(raw["call"]), str(raw["role"]), dict(raw["message"])
            except (ValueError, TypeError, KeyError):
                log.warning("calls from the other instances: ignored a message that is not a call's")
                return
            if raw.get("origin") != self.origin:
                await deliver(call_id, role, message)
        return hear

    async def present(self, call_id: int, role: str) -> bool:
        try:
            return bool(await self.shared.exists(presence_key(call_id, role)))
        except (redis.RedisError, OSError) as exc:
            log.warning("call %s: could not ask whether the %s is there (Redis: %s)", call_id, role,
                        exc.__class__.__name__)
            return False

    async def keep_present(self, call_id: int, role: str, each_round: Callable[[], Awaitable[None]]) -> None:
        """Run while a side's socket is open here (cancelled when it closes): that side is here, renewed, and
        ``each_round`` looks at the other side; then gone, unless it joined on another instance since."""
        key, token, lease_ms = presence_key(call_id, role), secrets.token_hex(8), int(PRESENCE_S * 1000)
        try:
            await self.shared.set(key, token, px=lease_ms)
            while True:
                await asyncio.sleep(PRESENCE_S / 3)
                if not await self._renew(keys=[key], args=[token, lease_ms]):
                    return  # the side joined on another instance
                await each_round()
        except (redis.RedisError, OSError) as exc:
            log.warning("call %s: the %s's presence could not be kept (Redis: %s); it runs out", call_id, role,
                        exc.__class__.__name__)
        finally:
            try:
                await self._release(keys=[key], args=[token])
            except (redis.RedisError, OSError):
                pass  # it runs out by itself
