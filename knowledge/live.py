"""The knowledge service as the running app holds it: loaded once, indexed from the database, and
reloaded whenever the knowledge base changes (an owner's edit here, or ``techan kb import`` elsewhere)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import KBEntry, Product, ShippingRate
from knowledge.service import Knowledge, read_snapshot
from web.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)

KNOWLEDGE = web.AppKey("knowledge", Knowledge)
POLL_SECONDS = 0.5
WATCH_TASK = "knowledge watch"  # the poll's own statements are no message's cost (tests tell them apart by it)


def kb_version(session: Session) -> tuple:
    """Changes whenever any entry, product or shipping rate is added, edited or deleted, by any process."""
    entries = session.execute(select(func.count(KBEntry.id), func.coalesce(func.sum(KBEntry.revision), 0),
                                     func.max(KBEntry.updated_at))).one()
    products = session.execute(select(func.count(Product.id), func.max(Product.updated_at))).one()
    rates = session.execute(select(func.count(ShippingRate.id), func.coalesce(func.sum(ShippingRate.fee), 0),
                                   func.coalesce(func.sum(ShippingRate.days_max), 0))).one()
    return (*entries, *products, *rates)


class LiveKnowledge:
    """Keeps the knowledge service in step with the database: one reload at a time, only on a change."""

    def __init__(self, knowledge: Knowledge, sessions) -> None:
        self.knowledge = knowledge
        self.sessions = sessions
        self.version: tuple | None = None  # the database's kb_version the service was last built from
        self._reloading = asyncio.Lock()

    async def reload(self) -> None:
        """Swap in a fresh snapshot of the KB, catalog and shipping table (only new text is embedded)."""
        async with self._reloading:
            async with self.sessions() as session:
                snapshot = await session.run_sync(read_snapshot)
                version = await session.run_sync(kb_version)
            await asyncio.to_thread(self.knowledge.apply, snapshot)
            self.version = version

    async def watch(self) -> None:
        """Pick up edits made outside the app (``techan kb import``, ``techan catalog import``) within a second,
        also when no Redis tells of them."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                async with self.sessions() as session:
                    version = await session.run_sync(kb_version)
                if self.version != version:
                    log.info("knowledge base changed in the database; reloading")
                    await self.reload()
            except Exception:  # keep watching; the next poll retries
                log.exception("knowledge base watch failed")


LIVE_KNOWLEDGE = web.AppKey("live_knowledge", LiveKnowledge)


# After an edit: reload this instance's index (the editor sees the change when the request returns) and tell
# every other instance. The app wires it to its event bus (techan.app), which Redis relays between instances.
ANNOUNCE_KNOWLEDGE_CHANGE: web.AppKey[Callable[[], Awaitable[None]]] = web.AppKey("announce_knowledge_change")


async def reload_knowledge(app: web.Application) -> None:
    await app[ANNOUNCE_KNOWLEDGE_CHANGE]()


def knowledge_lifecycle(preloaded: Knowledge | None) -> Callable[[web.Application], AsyncIterator[None]]:
    """Load the embedding model (``preloaded``: tests share one loaded service), index the KB, then watch it."""
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        knowledge = preloaded or await asyncio.to_thread(Knowledge.from_settings, app[SETTINGS])
        app[KNOWLEDGE] = knowledge
        app[LIVE_KNOWLEDGE] = live = LiveKnowledge(knowledge, app[SESSIONS])
        await live.reload()
        watch = asyncio.create_task(live.watch(), name=WATCH_TASK)
        yield
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    return lifecycle
