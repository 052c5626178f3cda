import pytest

from handoff.states import TRANSITIONS, Event, InvalidTransition, State, next_state


@pytest.mark.parametrize(("state", "event", "expected"), [
    ("bot", "handoff_requested", "waiting"),
    ("waiting", "cancelled", "bot"),
    ("waiting", "claimed", "assigned"),
    ("assigned", "resolved", "resolved"),
    ("resolved", "customer_returned", "bot"),
])
def test_design_transitions(state, event, expected):
    assert next_state(state, event) == expected


@pytest.mark.parametrize(("state", "event"), [
    ("bot", "claimed"), ("bot", "resolved"), ("assigned", "cancelled"), ("resolved", "claimed"),
    ("waiting", "handoff_requested"), ("nonsense", "claimed"), ("bot", "nonsense"),
])
def test_everything_else_is_refused(state, event):
    with pytest.raises(InvalidTransition):
        next_state(state, event)


def test_every_state_is_reachable_and_left():
    targets = set(TRANSITIONS.values())
    sources = {state for state, _ in TRANSITIONS}
    assert targets == set(State) == sources
    assert {event for _, event in TRANSITIONS} == set(Event)
