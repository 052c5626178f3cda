"""A stand-in for the Rasa server in the service tier: the router's side of it, with the real actions behind.

``转人工`` / ``/request_human`` run the handoff action; every other message runs the knowledge answer
action, through the app's own action executor, so what the router stores is what the bot would send.
``ready = False`` makes it a server still loading its model (refused, as the real one refuses
connections until then); ``turn_s`` makes each turn take that long; ``fail_next`` times out that
many turns.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from handoff.rasa_client import RasaUnavailable
from handoff.desk import DESK
from handoff.router import ROUTER
from techan.app import EXECUTOR

HUMAN = ("转人工", "/request_human", "I'd like to talk to a person")


def action_call(action: str, sender: str, text: str, intent: str | None, metadata: dict[str, Any]) -> dict:
    slots = {"product": None, "destination": None, "kb_misses": 0, "language": metadata.get("language")}
    return {
        "next_action": action, "sender_id": sender, "version": "3.6.21",
        "tracker": {
            "sender_id": sender, "slots": slots, "latest_message": {
                "text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [], "metadata": metadata},
            "events": [], "paused": False, "followup_action": None, "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"slots": {name: {"type": "any"} for name in slots}, "intents": [intent] if intent else [],
                   "entities": [], "responses": {}, "actions": [action]},
    }


class FakeRasa:
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.received: list[str] = []
        self.events: list[tuple[str, list[dict[str, Any]]]] = []
        self.ready = True
        self.turn_s = 0.0
        self.fail_next = 0
        self.turns_at_once = 0
        self.most_turns_at_once = 0

    async def message(self, sender: str, text: str, metadata: dict[str, Any] | None = None) -> list[dict]:
        if not self.ready:
            raise RasaUnavailable("Rasa unreachable: ClientConnectorError: the model is loading (fake)")
        if self.fail_next:
            self.fail_next -= 1
            raise RasaUnavailable("Rasa unreachable: TimeoutError:  (fake)")
        self.turns_at_once += 1
        self.most_turns_at_once = max(self.most_turns_at_once, self.turns_at_once)
        try:
            await asyncio.sleep(self.turn_s)
            return await self._turn(sender, text, metadata)
        finally:
            self.turns_at_once -= 1

    async def _turn(self, sender: str, text: str, metadata: dict[str, Any] | None) -> list[dict]:
        self.received.append(text)
        if text in HUMAN:
            call = action_call("action_request_handoff", sender, text, "request_human", metadata or {})
        else:
            call = action_call("action_answer_question", sender, text, None, metadata or {})
        result = (await self.app[EXECUTOR].run(call)).model_dump()
        return [{"recipient_id": sender, **{key: response[key] for key in ("text", "buttons", "custom", "image")
                                            if response.get(key)}}
                for response in result["responses"]]

    async def add_events(self, sender: str, events: list[dict[str, Any]]) -> None:
        self.events.append((sender, events))

    async def reachable(self) -> bool:
        return self.ready


def use_fake_rasa(app: web.Application) -> FakeRasa:
    """Put a fake Rasa behind the app's router and desk (the app must be started)."""
    fake = FakeRasa(app)
    app[ROUTER].rasa = app[DESK].rasa = fake
    return fake
