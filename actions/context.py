"""What the conversation already knows, for every action."""

from __future__ import annotations

from rasa_sdk import Tracker


def entity_or_slot(tracker: Tracker, name: str) -> str | None:
    """The entity in the latest message, else the slot filled earlier in the conversation."""
    return next(tracker.get_latest_entity_values(name), None) or tracker.get_slot(name)
