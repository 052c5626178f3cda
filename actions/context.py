"""What the conversation already knows, for every action."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def entity_or_slot(tracker: Tracker, name: str) -> str | None:
    """The entity in the latest message, else the slot filled earlier in the conversation."""
    return next(tracker.get_latest_entity_values(name), None) or tracker.get_slot(name)


def slot_before_latest_message(tracker: Tracker, name: str) -> Any:
    """The slot as it was before the latest message's entities filled it (Rasa fills slots from entities at once):
    the slot itself when the message has no such entity."""
    if name not in {entity.get("entity") for entity in (tracker.latest_message or {}).get("entities", [])}:
        return tracker.get_slot(name)
    events = tracker.applied_events()  # nothing from before a restart
    latest = max((at for at, event in enumerate(events) if event.get("event") == "user"), default=len(events))
    return next((event.get("value") for event in reversed(events[:latest])
                 if event.get("event") == "slot" and event.get("name") == name), None)
