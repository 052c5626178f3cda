"""Recommending gifts by recipient, occasion and budget."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import entity_or_slot
from knowledge.budget import parse_budget
from knowledge.gifts import OCCASION_ZH, RECIPIENT_ZH, recommend
from knowledge.service import Knowledge


class ActionRecommendGifts(Action):
    """Three gifts that fit the recipient, occasion and budget, as product cards."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def name(self) -> str:
        return "action_recommend_gifts"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        recipient = entity_or_slot(tracker, "recipient")
        occasion = entity_or_slot(tracker, "occasion")
        budget_text = entity_or_slot(tracker, "budget") or (tracker.latest_message or {}).get("text", "")
        budget = parse_budget(budget_text)
        picks = recommend(self.knowledge.catalog,
                          recipient if recipient in RECIPIENT_ZH else None,
                          occasion if occasion in OCCASION_ZH else None, budget)
        if not picks:
            dispatcher.utter_message(text="这个预算内暂时没有合适的礼物，可以放宽一点预算，或者让店员帮您挑。",
                                     buttons=[{"title": "找店员", "payload": "/request_human"}])
            return []
        dispatcher.utter_message(text="为您挑了这几样：")
        dispatcher.utter_message(json_message={"products": [
            {"id": r.product.id, "name": r.product.name, "price": float(r.product.price),
             "image": r.product.image, "reason": r.reason} for r in picks
        ]})
        return []
