"""Rate limits behind one interface: a process-local store, or Redis shared by every instance.

Each limit is a key, a count and a window. ``hit`` counts one event and says how long to wait if the
limit is spent; events over the limit are not counted, so a customer who waits gets through. The
algorithm is GCRA (one timestamp per key: the moment the key's allowance is fully spent), which the
Redis store runs atomically in a script with the same arithmetic.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import redis.asyncio as redis

log = logging.getLogger(__name__)


class Limiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float, spend: bool = True) -> float:
        """Count one event under ``key``: 0.0 if at most ``limit`` fell in ``window_s``, else seconds to wait.
        ``spend=False``: only say whether one more would be over (a sign-in counts only once it failed)."""


def gcra(spent_until: float | None, now: float, limit: int, window_s: float) -> tuple[float, float | None]:
    """(seconds to wait, the key's new spent-until time or None if unchanged) for one event at ``now``.

    The allowance is compared as time ahead of ``now``, not as ``now + interval - now``: with a limit of one,
    that rounding came out a hair over the window for some clock readings, and a key's first event was refused."""
    interval = window_s / limit
    ahead = max((spent_until or now) - now, 0.0) + interval
    if ahead > window_s * (1 + 1e-9):
        return ahead - window_s, None
    return 0.0, now + ahead


class MemoryLimiter:
    """One process's limits; at most ``max_keys`` keys, the least recently used evicted first, so a
    flood of fresh names costs bounded memory and cannot clear the keys in use."""

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys, self.clock = max_keys, clock
        self.keys: OrderedDict[str, float] = OrderedDict()

    async def hit(self, key: str, limit: int, window_s: float, spend: bool = True) -> float:
        now = self.clock()
        wait, new = gcra(self.keys.get(key), now, limit, window_s)
        if new is not None and spend:
            self.keys[key] = new
        if key in self.keys:
            self.keys.move_to_end(key)
        while len(self.keys) > self.max_keys:
            self.keys.popitem(last=False)
        return wait


# gcra() in Lua, on the server's clock so every instance counts alike; a key expires once its allowance is
# whole again, so idle keys cost Redis nothing. Returned as a string: Redis turns Lua numbers into integers.
GCRA_SCRIPT = """
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local spent = tonumber(redis.call('GET', KEYS[1]) or now)
local ahead = math.max(spent - now, 0) + window / limit
if ahead > window * (1 + 1e-9) then return tostring(ahead - window) end
if ARGV[3] == '0' then return '0' end
redis.call('SET', KEYS[1], string.format('%.6f', now + ahead), 'PX', math.ceil(ahead * 1000))
return '0'
"""


class RedisLimiter:
    """The limits shared by every instance (``TECHAN_REDIS_URL``). If Redis cannot be reached, messages are let
    through (and it is logged): an outage of the shared store must not silence the shop's customers."""

    def __init__(self, client: redis.Redis, prefix: str = "techan:limit:") -> None:
        self.client, self.prefix = client, prefix
        self.script = client.register_script(GCRA_SCRIPT)

    async def hit(self, key: str, limit: int, window_s: float, spend: bool = True) -> float:
        try:
            return float(await self.script(keys=[self.prefix + key], args=[limit, window_s, int(spend)]))
        except redis.RedisError as exc:
            log.warning("rate limits not applied: Redis unreachable (%s)", exc.__class__.__name__)
            return 0.0


class InFlight:
    """At most ``per_key`` requests of one key (a client address) handled at once; the rest wait their turn.

    A flood from one address then queues behind itself instead of holding the database's write lock
    against everyone else's messages. Keys live only while they have requests, so memory follows the load.
    """

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.users: Counter[str] = Counter()

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        semaphore = self.slots.setdefault(key, asyncio.Semaphore(self.per_key))
        self.users[key] += 1
        try:
            async with semaphore:
                yield
        finally:
            self.users[key] -= 1
            if not self.users[key]:
                del self.users[key], self.slots[key]


def trusted_networks(spec: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``TECHAN_TRUSTED_PROXIES`` ("127.0.0.1, 10.0.0.0/8") read once; a typo fails at start."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def client_address(peer: str | None, forwarded_for: str | None, trusted) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy; then the right-most address in
    X-Forwarded-For that is not a trusted proxy (the left-most ones are whatever the client wrote)."""
    address = peer or "?"
    if not forwarded_for or not _is_trusted(address, trusted):
        return address
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # a garbled header: trust nothing in it
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return address


def _is_trusted(address: str, trusted) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)
