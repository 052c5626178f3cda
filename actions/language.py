"""The customer's language in the dialogue: the ``language`` slot, filled every turn from the router's metadata."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.forms import ValidationAction

from core.language import LANGUAGES


def customer_language(tracker: Tracker) -> str:
    """The language the router chose for the latest message, else the one the conversation had."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    language = metadata.get("language") or tracker.get_slot("language")
    return language if language in LANGUAGES else "zh"


class ActionValidateSlotMappings(ValidationAction):
    """Runs after every user message (Rasa's action_extract_slots), so responses pick their English variant."""

    async def extract_language(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        return {"language": customer_language(tracker)}
