"""Handing the conversation to shop staff."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

HANDOFF_REASONS = {"request_human": "customer_request", "request_video": "video_request"}
HANDOFF_TEXT = {
    "customer_request": "好的，正在为您转接店员，请稍候，您的消息店员都能看到。",
    "video_request": "好的，正在为您联系店员视频看货，请稍候。",
}


class ActionRequestHandoff(Action):
    """Pause the bot and tell the router to queue the chat for staff."""

    def name(self) -> str:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name", "")
        reason = HANDOFF_REASONS.get(intent, "customer_request")
        dispatcher.utter_message(text=HANDOFF_TEXT[reason], json_message={"handoff": {"reason": reason}})
        return [ConversationPaused()]
