"""One customer's messages are handled one at a time, in order: by a lock in this process, and with several app
instances (``TECHAN_REDIS_URL``) by a lease in Redis as well, so two instances never run one customer's turns at
once. A turn may take long (a slow bot); an instance that dies mid-turn frees the customer after the lease's
few seconds, well before anyone would give up waiting."""

from __future__ import annotations

import asyncio
import logging
import weakref

import redis.asyncio as redis
from redis.exceptions import RedisError

from handoff.leases import Lease

log = logging.getLogger(__name__)

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
        lease = Lease(self.shared, f"techan:turn:{channel}:{external_id}") if self.shared is not None else None
        return Turn(local, lease)


class Turn:
    """``async with`` one customer's turn. Redis away or too slow: the turn goes on under the local lock alone
    (logged), since holding a customer's message back would be worse than answering two at once."""

    def __init__(self, local: asyncio.Lock, lease: Lease | None) -> None:
        self.local, self.lease = local, lease

    def locked(self) -> bool:
        """This process is handling the customer now (another instance's turn is waited for on entry)."""
        return self.local.locked()

    async def __aenter__(self) -> Turn:
        await self.local.acquire()
        if self.lease is not None:
            try:
                if not await self.lease.take(wait=WAIT_S):
                    log.warning("%s: another instance held the turn over %.0f s; going on", self.lease.key, WAIT_S)
            except (RedisError, OSError) as exc:
                log.warning("%s: the shared turn lock is unreachable (Redis: %s); going on with this "
                            "instance's", self.lease.key, exc.__class__.__name__)
        return self

    async def __aexit__(self, *_exc) -> None:
        try:
            if self.lease is not None:
                await self.lease.give_back()
        finally:
            self.local.release()
