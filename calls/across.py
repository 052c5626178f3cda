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
# Renew only the presence this socket set: the side's key missing (Redis restarted, or it ran out while Redis
# was slow) is set again; another token there means the side joined since on another instance (-1).
RENEW = """local held = redis.call('get', KEYS[1])
if held == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if not held then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return -1"""
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
        """Whether that side has a socket on some instance. Redis unreachable: taken as yes, so a hiccup never
        ends a call that is going on."""
        try:
            return bool(await self.shared.exists(presence_key(call_id, role)))
        except (redis.RedisError, OSError) as exc:
            log.warning("call %s: could not ask whether the %s is there (Redis: %s); taken as there", call_id, role,
                        exc.__class__.__name__)
            return True

    async def arrive(self, call_id: int, role: str) -> str:
        """That side's socket is here now (it replaces one elsewhere): its presence, set before anyone looks."""
        token = secrets.token_hex(8)
        try:
            await self.shared.set(presence_key(call_id, role), token, px=int(PRESENCE_S * 1000))
        except (redis.RedisError, OSError) as exc:
            log.warning("call %s: the %s's presence could not be set (Redis: %s); renewing it will try again",
                        call_id, role, exc.__class__.__name__)
        return token

    async def keep_present(self, call_id: int, role: str, token: str, each_round: Callable[[], Awaitable[None]],
                           taken_over: Callable[[], None]) -> None:
        """Run while a side's socket is open here (cancelled when it closes): its presence renewed, and
        ``each_round`` looks at the other side. The side joined on another instance since: ``taken_over``."""
        key, lease_ms = presence_key(call_id, role), int(PRESENCE_S * 1000)
        try:
            while True:
                await asyncio.sleep(PRESENCE_S / 3)
                try:
                    if await self._renew(keys=[key], args=[token, lease_ms]) == -1:
                        taken_over()
                        return
                except (redis.RedisError, OSError) as exc:
                    log.warning("call %s: the %s's presence could not be renewed (Redis: %s); trying again",
                                call_id, role, exc.__class__.__name__)
                    continue
                await each_round()
        finally:
            try:
                await self._release(keys=[key], args=[token])
            except (redis.RedisError, OSError):
                pass  # it runs out by itself
