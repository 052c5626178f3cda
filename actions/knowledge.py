"""Answering routine questions from the knowledge base, with the fallback ladder."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import entity_or_slot, slot_before_latest_message
from actions.gifts import GIFT_SLOTS, cheaper_than_shown, recommend_gifts
from actions.language import customer_language
from core.bot_payload import (CATALOG, FAMILY, KB, MISSING, NOT_SOLD, SHIPPING, UNSURE, HandoffReason,
                              ask_human_button, custom_payload)
from bot.questions import gift_entities
from knowledge.catalog import Catalog
from knowledge.index import KBRecord
from knowledge.service import SENT_THERE, Knowledge, Outcome
from knowledge.topics import asked_part
from core.language import CJK, Say

NOT_SURE = Say("这个问题我不太确定 🤔 您是想问下面哪一个？也可以直接找店员。",
               "I'm not quite sure about that 🤔 Did you mean one of these? You can also ask our staff.")
NO_ANSWER = Say("抱歉，这个问题我暂时答不上来。您可以换个说法，或者点“找店员”让店员来回答。",
                "Sorry, I can't answer that yet. Try asking another way, or tap \"Ask staff\" and a person will answer.")
SECOND_MISS = Say("还是没能帮上您，抱歉！我请店员来回答，您的问题店员都能看到。",
                  "Sorry I couldn't help! I'm asking our staff to answer; they can see your question.")
NOT_SOLD_TEXT = Say("本店暂时没有卖“{name}”。这几样相近的，您看看有没有喜欢的：",
               "We don't sell \"{name}\" at the moment. These are the closest things we have:")
MISSES_BEFORE_PERSON = 2
# Outside a form an answer ends the turn. The rules say so for every intent they name; a turn no rule covers
# ("/out_of_scope" typed by a customer) reaches this action as Rasa's core fallback, and Rasa then predicted the
# fallback again and again until its circuit breaker (ten actions): ten replies. Rasa also skips its policies
# for the turn's last prediction.
END_OF_TURN = FollowupAction("action_listen")


def _latest_entities(tracker: Tracker) -> dict[str, str]:
    return {e["entity"]: e.get("value") for e in (tracker.latest_message or {}).get("entities", [])}


def _entities_not_meant(tracker: Tracker, catalog: Catalog) -> list[dict[str, Any]]:
    """The slots a question's entities filled that the customer did not mean, put back as they were.

    Rasa fills slots from every message's entities. Outside the gift form, a budget without a figure of money and a
    recipient or occasion the recommender does not know are misreadings ("Just got back… Was I supposed to keep it
    in the fridge?" tagged "Just" as an occasion and "to" as a budget, and a later gift request began "Sorry, I
    didn't get the budget"); "想给我爸买生日礼物，牛肉干能放多久？" keeps its father and birthday. Nor is a
    place in the story told before the question a destination ("…a trip to Japan…", then "Do you ship here?" got
    the overseas entry). A product the catalog does not know is no product under discussion ("I will carry it over
    at Christmas": "carry" and "over" tagged), so "how much is shipping" after it still quotes the tea before.
    """
    message = tracker.latest_message or {}
    entities, text = message.get("entities", []), message.get("text") or ""
    asked, story = asked_part(text)
    # what the gift form could use (a known recipient, a figure of money), as the slot holds it
    meant = {(entity.get("entity"), entity.get("value")) for entity in entities if gift_entities([entity], text)}
    aside = set()
    for entity in entities:
        name, value = entity.get("entity"), entity.get("value") or ""
        said = text[entity["start"]:entity["end"]] if "start" in entity else value
        if name in GIFT_SLOTS and not tracker.active_loop_name and (name, tracker.get_slot(name)) not in meant:
            aside.add(name)
        elif (name == "destination" and story and said and said in story and said not in asked
              and not SENT_THERE.search(asked)):  # "I live in Lhasa. Do you ship here?": Lhasa it is
            aside.add(name)
        elif name == "product" and not (catalog.resolve(value) or catalog.family_in_text(value)):
            aside.add(name)
    return [SlotSet(name, slot_before_latest_message(tracker, name)) for name in sorted(aside)]


class ActionAnswerQuestion(Action):
    """Answer the latest message from the KB; unsure: offer the two closest questions; unsure twice: a person."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        if self._changes_the_gifts(tracker):
            events = await recommend_gifts(self.knowledge, dispatcher, tracker)
        else:  # a question: the answer's own slots come after the ones put back, so they win
            events = [*_entities_not_meant(tracker, self.knowledge.catalog), *await self._answer(dispatcher, tracker)]
        if tracker.active_loop_name or any(event.get("event") == "pause" for event in events):
            return events  # the form asks its next question; a paused conversation is staff's
        return [*events, END_OF_TURN]

    def _changes_the_gifts(self, tracker: Tracker) -> bool:
        """"不对，是送领导的" after a recommendation corrects the gift details; "再便宜点的呢" right after gifts asks
        for cheaper gifts, not the shop's discount policy."""
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        entities = _latest_entities(tracker)
        if intent == "inform" and set(entities) & set(GIFT_SLOTS) and not {"product", "destination"} & set(entities):
            return True
        return "product" not in entities and cheaper_than_shown(self.knowledge, tracker) is not None

    async def _answer(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
        message = tracker.latest_message or {}
        language = customer_language(tracker)
        intent = (message.get("intent") or {}).get("name")
        entities = _latest_entities(tracker)
        text = (message.get("text") or "").strip()
        # the product under discussion before this message: its own entity has filled the slot already
        mentioned, context = entities.get("product"), slot_before_latest_message(tracker, "product")
        tapped = None
        if text.startswith("/"):  # a tapped product card or button: ask about what it names
            tapped = self.knowledge.catalog.get(self.knowledge.catalog.resolve(mentioned or context))
            text = f"{tapped.name} 介绍一下" if tapped else ""
        answer = await asyncio.to_thread(self.knowledge.answer, text, intent, mentioned, context,
                                         entity_or_slot(tracker, "destination"), language)
        # the entry's first question names it for staff (the handoff card says what the bot answered from)
        hits = [{"id": h.id, "score": round(h.score, 3), "question": h.entry.questions[0] if h.entry.questions else ""}
                for h in answer.hits]
        # the card just tapped is on the screen already: the answer says more of it, without showing it again
        cards = [self.knowledge.catalog.get(p).card(language=language) for p in answer.products
                 if not tapped or p != tapped.id]
        if answer.outcome == Outcome.SHIPPING:
            dispatcher.utter_message(text=answer.text, json_message=custom_payload(meta={KB: hits, SHIPPING: True}))
            return [SlotSet("destination", answer.destination), SlotSet("kb_misses", 0)]
        if answer.outcome == Outcome.CATALOG:  # with the cards: pictures and prices
            meta = {KB: hits, CATALOG: answer.product} if answer.product else {KB: hits, FAMILY: answer.family}
            dispatcher.utter_message(text=answer.text, json_message=custom_payload(products=cards or None, meta=meta))
            return [SlotSet("kb_misses", 0), SlotSet("product", answer.product or answer.family)]
        if answer.outcome == Outcome.KB:
            dispatcher.utter_message(text=answer.text, json_message=custom_payload(meta={KB: hits}))
            return [SlotSet("kb_misses", 0), *([SlotSet("product", answer.product)] if answer.product else [])]
        if answer.outcome == Outcome.NOT_SOLD:
            dispatcher.utter_message(text=NOT_SOLD_TEXT.to(language).format(name=answer.not_sold),
                                     buttons=[ask_human_button(language)],
                                     json_message=custom_payload(products=cards, meta={NOT_SOLD: answer.not_sold}))
            return [SlotSet("product", None), SlotSet("kb_misses", 0)]
        misses = int(tracker.get_slot("kb_misses") or 0) + 1
        unsure = {KB: hits, UNSURE: True, **({MISSING: list(answer.missing)} if answer.missing else {})}
        if misses >= MISSES_BEFORE_PERSON:
            dispatcher.utter_message(text=SECOND_MISS.to(language), json_message=custom_payload(
                meta=unsure, handoff=HandoffReason.LOW_CONFIDENCE))
            return [SlotSet("kb_misses", 0), ConversationPaused()]
        if answer.hits:
            questions = [closest_question(h.entry, language) for h in answer.hits[:2]]
            buttons = [{"title": q, "payload": q} for q in questions]
            dispatcher.utter_message(text=NOT_SURE.to(language), buttons=[*buttons, ask_human_button(language)],
                                     json_message=custom_payload(meta=unsure))
        else:
            dispatcher.utter_message(text=NO_ANSWER.to(language), buttons=[ask_human_button(language)],
                                     json_message=custom_payload(meta=unsure))
        return [SlotSet("kb_misses", misses)]


def closest_question(entry: KBRecord, language: str) -> str:
    """An entry's phrasing to offer as a button: its English one for English customers, if it has one."""
    if language == "en":
        return next((q for q in entry.questions if not CJK.search(q)), entry.questions[0])
    return next((q for q in entry.questions if CJK.search(q)), entry.questions[0])
