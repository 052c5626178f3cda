"""The customer's language in the actions: the router's choice, sent with every message as metadata."""

from __future__ import annotations


from rasa_sdk import Tracker

from core.language import LANGUAGES


def customer_language(tracker: Tracker) -> str:
    """The language the router chose for the latest message, else the one the conversation had."""
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    language = metadata.get("language") or tracker.get_slot("language")
    return language if language in LANGUAGES else "zh"
