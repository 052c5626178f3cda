"""The domain's responses in the customer's language, picked inside Rasa's process: the language the app sends
with each message (its metadata) chooses between a response's variants (``condition: slot language``).

Rasa's way would fill the ``language`` slot with a custom slot-validation action on every turn: one more round
trip to the action endpoint, with the whole tracker, for each message — a quarter of Rasa's CPU per message
(README, *Benchmarks*). Enabled in endpoints.yml as ``nlg: {type: bot.nlg.BilingualResponses}``."""

from __future__ import annotations

from typing import Any

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

LANGUAGES = ("zh", "en")


def message_language(tracker: DialogueStateTracker) -> str | None:
    metadata = (tracker.latest_message.metadata if tracker.latest_message else None) or {}
    language = metadata.get("language")
    return language if language in LANGUAGES else None


class BilingualResponses(TemplatedNaturalLanguageGenerator):
    """Rasa's templated responses, with the ``language`` slot taken from the latest message's metadata."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, domain: Domain | None = None) -> None:
        super().__init__(domain.responses if domain else {})

    async def generate(self, utter_action: str, tracker: DialogueStateTracker, output_channel: str,
                       **kwargs: Any) -> dict[str, Any] | None:
        slots = tracker.current_slot_values()
        if language := message_language(tracker):
            slots = {**slots, "language": language}
        return self.generate_from_slots(utter_action, slots, output_channel, **kwargs)
