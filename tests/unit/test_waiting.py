"""A background loop that waits on an event stops when it is cancelled, even at the moment the event is set."""

from __future__ import annotations

import asyncio

from core.waiting import event_set_within


async def a_loop_cancelled_as_its_event_is_set() -> bool:
    """Whether the loop stopped: cancelled in the same moment its event is set (as at an app's shutdown)."""
    wake = asyncio.Event()

    async def loop() -> None:
        while True:
            wake.clear()
            await event_set_within(wake, 30)

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    wake.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    if not done:
        task.cancel()  # the one swallowed; stop it for good
        await asyncio.wait([task], timeout=2)
    return bool(done)


def test_a_cancel_that_meets_the_event_still_stops_the_loop():
    assert asyncio.run(a_loop_cancelled_as_its_event_is_set())


def test_it_says_whether_the_event_came_in_time():
    async def check() -> tuple[bool, bool]:
        event = asyncio.Event()
        late = await event_set_within(event, 0.01)
        asyncio.get_running_loop().call_later(0.01, event.set)
        return late, await event_set_within(event, 5)
    assert asyncio.run(check()) == (False, True)
