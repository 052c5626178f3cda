"""Waiting on a page that runs with the app's Content-Security-Policy.

Playwright's ``wait_for_function`` evaluates its predicate with ``eval`` inside the page, which the
policy (``script-src 'self'``) forbids, as it should; ``page.evaluate`` goes through the DevTools
protocol and is not blocked. So tests poll it from here, bounded in time.
"""

from __future__ import annotations

import time

from playwright.sync_api import Error as PlaywrightError


def wait_until(page, expression: str, timeout: float = 30_000, every_s: float = 0.1) -> None:
    """Until the JavaScript ``expression`` is truthy on ``page`` (``timeout`` in ms, as Playwright's)."""
    deadline = time.monotonic() + timeout / 1000
    while not _holds(page, expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout / 1000:.0f} s waiting for: {expression}")
        time.sleep(every_s)


def _holds(page, expression: str) -> bool:
    """One look; a page navigating at that moment (going back, then redirected) has not got there yet."""
    try:
        return page.evaluate(f"!!({expression})")  # a boolean: an object (a MediaStream) cannot come back
    except PlaywrightError as exc:
        if "Execution context was destroyed" in str(exc):
            return False
        raise
