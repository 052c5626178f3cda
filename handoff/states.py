"""The handoff state machine: one transition table; see states.md for the diagram."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"


class Event(StrEnum):
    HANDOFF_REQUESTED = "handoff_requested"
    CANCELLED = "cancelled"
    CLAIMED = "claimed"
    TRANSFERRED = "transferred"
    RESOLVED = "resolved"
    CUSTOMER_RETURNED = "customer_returned"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.BOT, Event.HANDOFF_REQUESTED): State.WAITING,
    (State.WAITING, Event.CANCELLED): State.BOT,
    (State.WAITING, Event.CLAIMED): State.ASSIGNED,
    (State.ASSIGNED, Event.TRANSFERRED): State.ASSIGNED,
    (State.ASSIGNED, Event.RESOLVED): State.RESOLVED,
    (State.WAITING, Event.RESOLVED): State.RESOLVED,
    (State.RESOLVED, Event.CUSTOMER_RETURNED): State.BOT,
}


class InvalidTransition(ValueError):
    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"no transition from {state!r} on {event!r}")
        self.state, self.event = state, event


def next_state(state: str, event: str) -> State:
    """The state after ``event`` in ``state``; raises InvalidTransition if the table has none."""
    try:
        return TRANSITIONS[(State(state), Event(event))]
    except (KeyError, ValueError):
        raise InvalidTransition(state, event) from None

