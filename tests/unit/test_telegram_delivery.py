"""The one rule for a failed call to Telegram (handoff/channels/telegram/sending.py ``after_failure``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from handoff.channels.telegram.outbox import Outbox
from handoff.channels.telegram.sending import DELIVERY_ATTEMPTS, RETRY_BASE_S, Paced, after_failure

NOW = 1_000.0


def test_flood_control_holds_the_chat_as_long_as_asked_and_costs_no_try():
    for asked in (RetryAfter(7), RetryAfter(timedelta(seconds=7)), Paced(7.0)):
        outcome = after_failure({"tries": 2, "parts": 1}, asked, NOW)
        assert (outcome.failed, outcome.hold_chat_s) == (False, 7.0)
        assert outcome.record == {"tries": 2, "parts": 1, "retry_at": NOW + 7.0}


def test_a_refused_message_waits_alone_with_a_doubling_backoff_and_fails_after_the_last_try():
    record: dict = {}
    waits = []
    for _ in range(DELIVERY_ATTEMPTS):
        outcome = after_failure(record, BadRequest("Can't parse entities"), NOW)
        record = outcome.record
        waits.append(record["retry_at"] - NOW)
        assert outcome.hold_chat_s == 0.0  # the chat's next messages go on
    assert outcome.failed and record["tries"] == DELIVERY_ATTEMPTS and "parse entities" in record["error"]
    assert waits == [RETRY_BASE_S * 2 ** n for n in range(DELIVERY_ATTEMPTS)]


def test_a_network_error_holds_the_chat_so_its_order_holds():
    for error in (NetworkError("connection reset"), TimedOut()):
        outcome = after_failure({}, error, NOW)
        assert not outcome.failed and outcome.hold_chat_s == RETRY_BASE_S == outcome.record["retry_at"] - NOW


def test_a_customer_who_blocked_the_bot_fails_at_once():
    outcome = after_failure({}, Forbidden("bot was blocked by the user"), NOW)
    assert outcome.failed and outcome.record["tries"] == 1 and outcome.hold_chat_s == 0.0


def test_a_bug_in_rendering_counts_as_this_messages_failure_only():
    outcome = after_failure({"tries": 1}, KeyError("title"), NOW)
    assert not outcome.failed and outcome.record["tries"] == 2 and outcome.hold_chat_s == 0.0


async def test_the_outbox_round_stops_when_cancelled_even_as_a_lane_wakes_it():
    """A lane ending sets ``wake`` just as the app stops: the round must still stop (shutdown waits for it)."""
    rounds = []

    async def plan() -> float:
        rounds.append(len(rounds))
        return 30.0

    outbox = Outbox(bot=None, channel=None)
    outbox.plan = plan
    task = asyncio.create_task(outbox.run())
    await asyncio.sleep(0.01)  # the round waits for a wake-up
    outbox.wake.set()
    task.cancel()  # in the same turn of the loop
    done, _pending = await asyncio.wait([task], timeout=2.0)
    assert done == {task} and task.cancelled() and rounds == [0]
