"""Recommending gifts by recipient, occasion and budget (gift_form asks for what is missing)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.context import entity_or_slot
from actions.language import customer_language
from core.bot_payload import ask_human_button, custom_payload
from knowledge.budget import parse_budget
from knowledge.gifts import OCCASION_ZH, RECIPIENT_ZH, dietary_needs, kinds_named, recommend
from knowledge.service import Knowledge
from core.language import Say

ANY = "any"  # the customer skipped this question
GIFT_SLOTS = ("recipient", "occasion", "budget")
SKIP_WORDS = re.compile(r"^(随便|都行|都可以|无所谓|不限|没有?预算|不知道|跳过|不确定|看着办|不一定|skip|any|whatever|anything"
                        r"( is fine| works)?|(it )?doesn'?t matter|no preference|up to you|not sure|no idea|no budget)\W*$", re.I)
GIFT_BUTTONS = [(Say("换一批", "Show others"), "/request_gift"),
                (Say("找店员帮挑", "Ask staff to choose"), "/request_human"),
                (Say("视频看实物", "See it on video"), "/request_video")]
PICKED = Say("为您挑了这几样：", "Here are a few I picked for you:")
PICKED_AGAIN = Say("再换几样看看：", "A few others:")
PICKED_CHEAPER = Say("便宜一些的有这几样：", "Some less expensive ones:")
CHEAPER = re.compile(r"便宜|不那么贵|没那么贵|太贵|贵了|实惠|预算低|cheaper|less expensive|too expensive", re.I)
NOTHING_FITS = Say("这个预算和要求下暂时没有合适的礼物，可以放宽一点预算，或者让店员帮您挑。",
                   "Nothing fits that budget and those wishes right now. Try a wider budget, or let our staff choose.")
BUDGET_NOT_UNDERSTOOD = Say("没看懂预算，可以说“三百左右”“500以内”，或者说“不限”。",
                            "Sorry, I didn't get the budget. Try \"around 300\" or \"under 500\", or say \"no limit\".")


def customer_words_since_gift_request(tracker: Tracker) -> str:
    """What the customer wrote since asking for a gift: dietary wishes and free-text wishes live here."""
    texts: list[str] = []
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        text = event.get("text") or ""
        if text.startswith("/"):
            continue  # a button: 换一批 is a request_gift of its own, but the wishes are the typed request's
        texts.append(text)
        if (event.get("parse_data") or {}).get("intent", {}).get("name") == "request_gift":
            break
    return " ".join(reversed(texts))


def gifts_just_shown(tracker: Tracker) -> bool:
    """Whether the bot's last message was a gift recommendation (the one with 换一批)."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            buttons = (event.get("data") or {}).get("buttons") or []
            return any(button.get("payload") == "/request_gift" for button in buttons)
    return False


def cheaper_than_shown(knowledge: Knowledge, tracker: Tracker) -> int | None:
    """"有没有便宜点的" right after gifts were shown: the new price ceiling, below the cheapest one shown."""
    text = (tracker.latest_message or {}).get("text") or ""
    shown = filter(None, map(knowledge.catalog.get, tracker.get_slot("gifts_shown") or []))
    prices = [product.price for product in shown]
    if not prices or not CHEAPER.search(text) or not gifts_just_shown(tracker):
        return None
    return max(int(min(prices)) - 1, 1)


async def recommend_gifts(knowledge: Knowledge, dispatcher: CollectingDispatcher,
                          tracker: Tracker) -> list[dict[str, Any]]:
    """Three product cards with a reason each; the same query again ("换一批") shows other products."""
    slots = {name: entity_or_slot(tracker, name) for name in GIFT_SLOTS}
    ceiling = cheaper_than_shown(knowledge, tracker)
    if ceiling is not None:  # kept as the budget, so 换一批 stays below it
        slots["budget"] = f"{ceiling}以内"
    recipient = slots["recipient"] if slots["recipient"] in RECIPIENT_ZH else None
    occasion = slots["occasion"] if slots["occasion"] in OCCASION_ZH else None
    budget = parse_budget(slots["budget"] or "") if slots["budget"] != ANY else None
    words = customer_words_since_gift_request(tracker)
    needs = dietary_needs(words)
    kinds, unwanted = kinds_named(knowledge.catalog, words)
    query = "|".join([str(recipient), str(occasion), str(budget), *(",".join(sorted(s)) for s in (needs, kinds, unwanted))])
    shown = set(tracker.get_slot("gifts_shown") or []) if tracker.get_slot("gift_query") == query else set()
    wishes = await asyncio.to_thread(knowledge.product_similarity, words) if words else None
    language = customer_language(tracker)
    picks = recommend(knowledge.catalog, recipient, occasion, budget, needs=needs, wishes=wishes,
                      exclude=frozenset(shown) | unwanted, within=kinds, language=language)
    if not picks and shown:  # everything that fits has been shown: start again from the best
        shown = set()
        picks = recommend(knowledge.catalog, recipient, occasion, budget, needs=needs, wishes=wishes,
                          exclude=unwanted, within=kinds, language=language)
    if not picks:
        dispatcher.utter_message(text=NOTHING_FITS.to(language), buttons=[ask_human_button(language)])
        return []
    heading = PICKED_CHEAPER if ceiling is not None else PICKED_AGAIN if shown else PICKED
    dispatcher.utter_message(text=heading.to(language))
    dispatcher.utter_message(buttons=[{"title": title.to(language), "payload": payload} for title, payload in GIFT_BUTTONS],
                             json_message=custom_payload(products=[r.product.card(r.reason, language) for r in picks]))
    return [*([SlotSet("budget", slots["budget"])] if ceiling is not None else []),
            SlotSet("gift_query", query), SlotSet("gifts_shown", sorted(shown | {r.product.id for r in picks}))]


class ActionRecommendGifts(Action):
    """Three gifts that fit the recipient, occasion, budget and diet, as product cards."""

    def __init__(self, knowledge: Knowledge) -> None:
        self.knowledge = knowledge

    def name(self) -> str:
        return "action_recommend_gifts"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: dict[str, Any]) -> list[dict[str, Any]]:
        return await recommend_gifts(self.knowledge, dispatcher, tracker)


class ValidateGiftForm(FormValidationAction):
    """Reads answers the NLU did not tag ("三百来块", "随便") and keeps only canonical values."""

    def name(self) -> str:
        return "validate_gift_form"

    @staticmethod
    def _answer(tracker: Tracker, slot: str) -> str | None:
        if tracker.get_slot("requested_slot") != slot:
            return None
        return ((tracker.latest_message or {}).get("text") or "").strip()

    @staticmethod
    def _show_gifts_now(tracker: Tracker, slot: str) -> bool:
        """"那有什么适合他的" while the form still asks: the customer wants gifts now, so what is missing is skipped.

        (Otherwise the form rejects the message and the fallback answers it twice, handing the chat to staff.)
        """
        message = tracker.latest_message or {}
        return (tracker.get_slot("requested_slot") is not None and not tracker.get_slot(slot)
                and (message.get("intent") or {}).get("name") == "request_gift"
                and not any(e.get("entity") in GIFT_SLOTS for e in message.get("entities") or []))

    def _skipped(self, tracker: Tracker, slot: str) -> bool:
        text = self._answer(tracker, slot)
        return bool(text and SKIP_WORDS.match(text)) or self._show_gifts_now(tracker, slot)

    async def extract_recipient(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        return {"recipient": ANY} if self._skipped(tracker, "recipient") else {}

    async def extract_occasion(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        return {"occasion": ANY} if self._skipped(tracker, "occasion") else {}

    async def extract_budget(self, dispatcher, tracker: Tracker, domain) -> dict[str, Any]:
        if self._skipped(tracker, "budget"):
            return {"budget": ANY}
        text = self._answer(tracker, "budget")
        if not text or text.startswith("/"):
            return {}
        return {"budget": text} if parse_budget(text) else {}

    async def validate_recipient(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return {"recipient": value if value in RECIPIENT_ZH or value == ANY else None}

    async def validate_occasion(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        return {"occasion": value if value in OCCASION_ZH or value == ANY else None}

    async def validate_budget(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if value == ANY or (isinstance(value, str) and parse_budget(value)):
            return {"budget": value}
        dispatcher.utter_message(text=BUDGET_NOT_UNDERSTOOD.to(customer_language(tracker)))
        return {"budget": None}
