"""One customer's messages are handled one at a time, in order: by a lock in this process, and with several app
instances (``TECHAN_REDIS_URL``) by a lock in Redis as well, so two instances never run one customer's turns at
once. The Redis lock is a short lease, renewed while the turn runs: a turn may take long (a slow bot), yet an
instance that dies holding it frees the customer after ``LEASE_S``, well before anyone would give up waiting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref

import redis.asyncio as redis
from redis.exceptions import LockError, RedisError

log = logging.getLogger(__name__)

LEASE_S = 10.0  # a dead holder's lock goes after this; a live one renews it every third of it
WAIT_S = 60.0  # how long a turn waits for another instance's before it goes on under the local lock alone


class CustomerTurns:
    """The turn locks of every customer this process is handling; unused ones vanish with their last user."""

    def __init__(self, shared: redis.Redis | None = None) -> None:
        self.shared = shared
        self._local: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    def of(self, channel: str, external_id: str) -> Turn:
        local = self._local.get((channel, external_id))
        if local is None:
            local = self._local[(channel, external_id)] = asyncio.Lock()
        return Turn(local, self.shared, f"techan:turn:{channel}:{external_id}")


class Turn:
    """``async with`` one customer's turn. Redis away or too slow: the turn goes on under the local lock alone
    (logged), since holding a customer's message back would be worse than answering two at once."""

    def __init__(self, local: asyncio.Lock, shared: redis.Redis | None, key: str) -> None:
        self.local, self.shared, self.key = local, shared, key
        self._lease = None
        self._renewing: asyncio.Task | None = None

    def locked(self) -> bool:
        """This process is handling the customer now (another instance's turn is waited for on entry)."""
        return self.local.locked()

    async def __aenter__(self) -> Turn:
        await self.local.acquire()
        if self.shared is not None:
            lease = self.shared.lock(self.key, timeout=LEASE_S, blocking_timeout=WAIT_S)
            try:
                if await lease.acquire():
                    self._lease = lease
                    self._renewing = asyncio.create_task(self._renew(lease), name=f"renew {self.key}")
                else:
                    log.warning("%s: another instance held the turn over %.0f s; going on", self.key, WAIT_S)
            except (RedisError, OSError) as exc:
                log.warning("%s: the shared turn lock is unreachable (Redis: %s); going on with this "
                            "instance's", self.key, exc.__class__.__name__)
        return self

    async def _renew(self, lease) -> None:
        """Keep the lease while this turn runs; a lost one is logged (another instance may then come in)."""
        while True:
            await asyncio.sleep(LEASE_S / 3)
            try:
                await lease.reacquire()
            except (LockError, RedisError, OSError) as exc:
                log.warning("%s: could not renew the shared turn lock (%s)", self.key, exc.__class__.__name__)
                return

    async def __aexit__(self, *_exc) -> None:
        try:
            if self._renewing is not None:
                self._renewing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._renewing
                self._renewing = None
            if self._lease is not None:
                try:
                    await self._lease.release()
                except (LockError, RedisError, OSError) as exc:  # expired or Redis gone: it frees itself
                    log.warning("%s: could not release the shared turn lock (%s)", self.key, exc.__class__.__name__)
                self._lease = None
        finally:
            self.local.release()
