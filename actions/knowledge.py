"""Answering routine questions from the knowledge base."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import entity_or_slot
from knowledge.service import Knowledge

NOT_SURE = "这个问题我不太确定 🤔 您是想问下面哪一个？也可以直接找店员。"
NO_ANSWER = "抱歉，这个问题我暂时答不上来。您可以换个说法，或者点“找店员”让店员来回答。"
ASK_HUMAN_BUTTON = {"title": "找店员", "payload": "/request_human"}


class ActionAnswerQuestion(Action):
    """Answer the latest message from the KB, or offer the two closest questions."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        text = (message.get("text") or "").strip()
        intent = (message.get("intent") or {}).get("name")
        answer = await asyncio.to_thread(self.knowledge.answer, text, intent, entity_or_slot(tracker, "product"),
                                         entity_or_slot(tracker, "destination"))
        hits = [{"id": h.id, "score": round(h.score, 3)} for h in answer.hits]
        if answer.destination:
            dispatcher.utter_message(text=answer.text, json_message={"techan": {"kb": hits, "shipping": True}})
            return [SlotSet("destination", answer.destination)]
        if answer.confident:
            dispatcher.utter_message(text=answer.text, json_message={"techan": {"kb": hits}})
            return [SlotSet("product", answer.product)] if answer.product else []
        if answer.hits:
            buttons = [{"title": h.entry.questions[0], "payload": h.entry.questions[0]} for h in answer.hits[:2]]
            dispatcher.utter_message(text=NOT_SURE, buttons=[*buttons, ASK_HUMAN_BUTTON],
                                     json_message={"techan": {"kb": hits, "unsure": True}})
        else:
            dispatcher.utter_message(text=NO_ANSWER, buttons=[ASK_HUMAN_BUTTON],
                                     json_message={"techan": {"kb": [], "unsure": True}})
        return []
