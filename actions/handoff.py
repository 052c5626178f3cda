"""Handing the conversation to shop staff."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.language import customer_language
from core.bot_payload import HandoffReason, custom_payload
from core.language import Say

REASON_OF_INTENT = {"request_human": HandoffReason.CUSTOMER_REQUEST, "request_video": HandoffReason.VIDEO_REQUEST}
HANDOFF_TEXT = {
    HandoffReason.CUSTOMER_REQUEST: Say("好的，正在为您转接店员，请稍候，您的消息店员都能看到。",
                            "Sure, connecting you with our staff. Please wait a moment; they can see your messages."),
    HandoffReason.VIDEO_REQUEST: Say("好的，正在为您联系店员视频看货，请稍候。",
                         "Sure, asking our staff to show you the products on video. Please wait a moment."),
}
class ActionRequestHandoff(Action):
    """Pause the bot and tell the router to queue the chat for staff."""

    def name(self) -> str:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name", "")
        reason = REASON_OF_INTENT.get(intent, HandoffReason.CUSTOMER_REQUEST)
        dispatcher.utter_message(text=HANDOFF_TEXT[reason].to(customer_language(tracker)),
                                 json_message=custom_payload(handoff=reason))
        return [ConversationPaused()]
