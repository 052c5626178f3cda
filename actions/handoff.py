"""Handing the conversation to shop staff."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.language import customer_language
from techan.language import Say

HANDOFF_REASONS = {"request_human": "customer_request", "request_video": "video_request"}
HANDOFF_TEXT = {
    "customer_request": Say("好的，正在为您转接店员，请稍候，您的消息店员都能看到。",
                            "Sure, connecting you with our staff. Please wait a moment; they can see your messages."),
    "video_request": Say("好的，正在为您联系店员视频看货，请稍候。",
                         "Sure, asking our staff to show you the products on video. Please wait a moment."),
}
ASK_HUMAN = Say("找店员", "Ask staff")


def ask_human_button(language: str) -> dict[str, str]:
    """The way out of any bot answer: a person."""
    return {"title": ASK_HUMAN.to(language), "payload": "/request_human"}


class ActionRequestHandoff(Action):
    """Pause the bot and tell the router to queue the chat for staff."""

    def name(self) -> str:
        return "action_request_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name", "")
        reason = HANDOFF_REASONS.get(intent, "customer_request")
        dispatcher.utter_message(text=HANDOFF_TEXT[reason].to(customer_language(tracker)),
                                 json_message={"handoff": {"reason": reason}})
        return [ConversationPaused()]
