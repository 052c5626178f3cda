"""Waiting for an asyncio event with a time limit, in a way a cancel always stops."""

from __future__ import annotations

import asyncio


async def event_set_within(event: asyncio.Event, seconds: float) -> bool:
    """Whether ``event`` is set within ``seconds``. Not ``asyncio.wait_for``: in Python 3.11 a cancel that
    meets the event being set is swallowed (CPython gh-86296), and a background loop waiting this way at
    shutdown never stops — the app's teardown then hangs (seen in CI: the pending-message sweep)."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
