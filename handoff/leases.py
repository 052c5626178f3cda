"""A lease in Redis: a lock held only while its holder lives. The holder renews it every third of ``LEASE_S``;
an instance that dies (killed, its host gone) renews nothing, and the lease is free again after ``LEASE_S``.
It keeps one customer's turns on one instance at a time, and Telegram's long polling on one instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, LockNotOwnedError, RedisError

log = logging.getLogger(__name__)

LEASE_S = 10.0  # a dead holder's lease is free again after this; a live one renews it every third of it


class Lease:
    """``take`` it, and ``lost`` is set if another holder has it since (ours ran out: Redis lost it, or this
    process stalled); ``give_back`` when done. Redis unreachable for a while: the holder keeps it (nobody else
    can take it) and tries again."""

    def __init__(self, shared: redis.Redis, key: str) -> None:
        self.shared, self.key = shared, key
        self.lost = asyncio.Event()
        self._lock: Lock | None = None
        self._renewing: asyncio.Task | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    async def take(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds (0: just try) for the lease. Raises RedisError/OSError when unreachable."""
        lock = self.shared.lock(self.key, timeout=LEASE_S, blocking_timeout=wait or None)
        if not await lock.acquire(blocking=wait > 0):
            return False
        self._lock = lock
        self.lost.clear()
        self._renewing = asyncio.create_task(self._renew(lock), name=f"renew {self.key}")
        return True

    async def _renew(self, lock: Lock) -> None:
        while True:
            await asyncio.sleep(LEASE_S / 3)
            try:
                await lock.reacquire()
            except LockNotOwnedError:
                log.warning("%s: the lease ran out and is another's now", self.key)
                self.lost.set()
                return
            except (LockError, RedisError, OSError) as exc:
                log.warning("%s: could not renew the lease (%s); trying again", self.key, exc.__class__.__name__)

    async def give_back(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
            self._renewing = None
        if self._lock is not None:
            try:
                await self._lock.release()
            except (LockError, RedisError, OSError) as exc:  # ran out, or Redis gone: it frees itself
                log.warning("%s: could not give the lease back (%s)", self.key, exc.__class__.__name__)
            self._lock = None
