"""The fallback ladder, products the shop does not sell, card taps, gift corrections, "换一批", diet, gift_form."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.gifts import ActionRecommendGifts, ValidateGiftForm
from actions.knowledge import END_OF_TURN, ActionAnswerQuestion
from tests.service.test_actions import tracker

NONSENSE = "火星上能收到快递吗，量子纠缠"


def products(dispatcher: CollectingDispatcher) -> list[dict]:
    return next(m["custom"]["products"] for m in dispatcher.messages if (m.get("custom") or {}).get("products"))


async def test_second_miss_in_a_row_hands_off_with_low_confidence(knowledge):
    first = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(first, tracker(NONSENSE, "nlu_fallback"), {})
    assert events == [SlotSet("kb_misses", 1), END_OF_TURN] and "handoff" not in first.messages[0]["custom"]
    second = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        second, tracker("那土星呢，暗物质", "nlu_fallback", slots={"kb_misses": 1}), {})
    assert second.messages[0]["custom"]["handoff"] == {"reason": "low_confidence"}
    assert events == [SlotSet("kb_misses", 0), ConversationPaused()]  # staff's now: no turn of the bot's to end


async def test_an_answer_ends_the_turn_outside_a_form_and_lets_the_form_go_on_inside_one(knowledge):
    """Rasa ran the answer, the core fallback of a turn no rule covers, again and again (ten replies); inside
    the gift form the rules go back to the form, which asks its next question."""
    outside, inside = tracker("普洱熟茶能放多久？", "out_of_scope"), tracker("普洱熟茶能放多久？", "ask_shelf_life")
    inside.active_loop = {"name": "gift_form"}
    ended = await ActionAnswerQuestion(knowledge).run(CollectingDispatcher(), outside, {})
    going_on = await ActionAnswerQuestion(knowledge).run(CollectingDispatcher(), inside, {})
    assert ended[-1] == END_OF_TURN == {"event": "followup", "timestamp": None, "name": "action_listen"}
    assert going_on == ended[:-1] and END_OF_TURN not in going_on


async def test_a_good_answer_resets_the_ladder(knowledge):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("普洱熟茶能放多久？", "ask_shelf_life", slots={"kb_misses": 1}), {})
    assert SlotSet("kb_misses", 0) in events and "handoff" not in dispatcher.messages[0]["custom"]


async def test_a_product_the_shop_does_not_sell_is_said_so_with_the_closest(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("你们有卖茉莉花茶吗", "ask_product_info", [("product", "茉莉花茶")]), {})
    message = dispatcher.messages[0]
    assert message["text"].startswith("本店暂时没有卖“茉莉花茶”")
    cards = message["custom"]["products"]
    assert len(cards) == 3 and all(knowledge.catalog.get(c["id"]) for c in cards)
    assert any(knowledge.catalog.get(c["id"]).category == "tea" for c in cards)  # the closest really is close


async def test_a_tapped_product_card_asks_about_that_product(knowledge):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        '/ask_product_info{"product": "beef-jerky"}', "ask_product_info", [("product", "beef-jerky")]), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"].startswith("beef-jerky")
    assert SlotSet("product", "beef-jerky") in events
    jerky = knowledge.catalog.get("beef-jerky")
    assert [m["text"] for m in dispatcher.messages] == [f"{jerky.name}，产自{jerky.region}，{jerky.price_number}元（{jerky.unit}）。"
                                                      f"{jerky.description}"]
    assert "products" not in dispatcher.messages[0]["custom"]  # the card tapped is on the screen already


async def test_a_correction_after_the_recommendation_recommends_again(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "不对，是送领导的", "inform", [("recipient", "boss")],
        slots={"recipient": "boss", "occasion": "spring_festival", "budget": "500以内"}), {})
    cards = products(dispatcher)
    assert len(cards) == 3
    assert all("boss" in knowledge.catalog.get(c["id"]).recipients for c in cards)
    assert all(c["price"] <= 500 for c in cards)


async def test_more_like_this_shows_other_products_for_the_same_request(knowledge):
    slots = {"recipient": "friend", "occasion": "everyday", "budget": "300以内"}
    first = CollectingDispatcher()
    events = await ActionRecommendGifts(knowledge).run(first, tracker("送朋友的", "request_gift", slots=slots), {})
    shown = dict((e["name"], e["value"]) for e in events)
    second = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(second, tracker("/request_gift", "request_gift", slots={**slots, **shown}), {})
    assert not {c["id"] for c in products(first)} & {c["id"] for c in products(second)}
    assert [b["payload"] for b in first.messages[-1]["buttons"]] == ["/request_gift", "/request_human", "/request_video"]


async def test_dietary_wishes_are_hard_constraints(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        "我爸有糖尿病，不要太甜的", "inform", slots={"recipient": "parent", "occasion": "everyday", "budget": "any"},
        events=[{"event": "user", "text": "想给爸爸买点吃的", "parse_data": {"intent": {"name": "request_gift"}}}]), {})
    for card in products(dispatcher):
        product = knowledge.catalog.get(card["id"])
        assert product.category in ("porcelain", "teaware", "silk") or {"无糖", "不加糖"} & set(product.tags), card


def form_tracker(text: str, requested: str) -> Tracker:
    t = tracker(text, "inform")
    t.slots["requested_slot"] = requested
    return t


async def test_gift_form_reads_untagged_budgets_and_skips():
    form = ValidateGiftForm()
    assert await form.extract_budget(None, form_tracker("三百来块吧", "budget"), {}) == {"budget": "三百来块吧"}
    assert await form.extract_budget(None, form_tracker("随便", "budget"), {}) == {"budget": "any"}
    assert await form.extract_budget(None, form_tracker("随便", "occasion"), {}) == {}  # not what was asked
    assert await form.extract_occasion(None, form_tracker("都行", "occasion"), {}) == {"occasion": "any"}
    assert await form.extract_budget(None, form_tracker("普洱茶能放多久", "budget"), {}) == {}  # a digression
    dispatcher = CollectingDispatcher()
    assert await form.validate_budget("很多", dispatcher, form_tracker("很多", "budget"), {}) == {"budget": None}
    assert "没看懂预算" in dispatcher.messages[0]["text"]
    assert await form.validate_recipient("外星人", None, None, {}) == {"recipient": None}
    assert await form.validate_recipient("boss", None, None, {}) == {"recipient": "boss"}


async def test_asking_for_gifts_again_while_the_form_asks_skips_what_is_missing():
    """"那有什么适合他的" at the occasion question: gifts now, not a rejected form and a handoff."""
    form = ValidateGiftForm()
    asked = tracker("那有什么适合他的", "request_gift", slots={"recipient": "parent", "requested_slot": "occasion"})
    assert await form.extract_occasion(None, asked, {}) == {"occasion": "any"}
    assert await form.extract_budget(None, asked, {}) == {"budget": "any"}
    assert await form.extract_recipient(None, asked, {}) == {}  # already known
    first = tracker("我想送礼", "request_gift")  # the form has asked nothing yet: it asks
    assert await form.extract_recipient(None, first, {}) == {}
    detail = tracker("送领导的礼物", "request_gift", [("recipient", "boss")], slots={"requested_slot": "recipient"})
    assert await form.extract_occasion(None, detail, {}) == {}  # an answer, not "show me now"


@pytest.mark.parametrize("text", ["anything is fine", "Doesn't matter", "no preference", "up to you", "skip"])
async def test_gift_form_takes_english_skips(text):
    form = ValidateGiftForm()
    assert await form.extract_occasion(None, form_tracker(text, "occasion"), {}) == {"occasion": "any"}
    assert await form.extract_budget(None, form_tracker(text, "budget"), {}) == {"budget": "any"}


async def test_gift_form_reads_english_budgets_with_their_qualifier():
    form = ValidateGiftForm()
    assert await form.extract_budget(None, form_tracker("under 300", "budget"), {}) == {"budget": "under 300"}
    assert await form.validate_budget("under 300", CollectingDispatcher(), None, {}) == {"budget": "under 300"}


GIFTS_SHOWN = [{"event": "bot", "text": "", "data": {"buttons": [{"title": "换一批", "payload": "/request_gift"}]}}]
SHOWN_SLOTS = {"recipient": "boss", "occasion": "mid_autumn", "budget": "一千左右",
               "gifts_shown": ["jdz-famille-vase", "yixing-xishi-pot"]}


@pytest.mark.parametrize(("action", "text", "intent"), [
    ("gifts", "有没有不那么贵的", "request_gift"),
    ("answer", "再便宜点的呢", "ask_product_info"),
])
async def test_cheaper_right_after_gifts_shows_gifts_below_the_cheapest_shown(knowledge, action, text, intent):
    cheapest = min(knowledge.catalog.get(p).price for p in SHOWN_SLOTS["gifts_shown"])
    run = ActionRecommendGifts(knowledge) if action == "gifts" else ActionAnswerQuestion(knowledge)
    dispatcher = CollectingDispatcher()
    events = await run.run(dispatcher, tracker(text, intent, slots=dict(SHOWN_SLOTS), events=GIFTS_SHOWN), {})
    assert dispatcher.messages[0]["text"] == "便宜一些的有这几样："
    cards = products(dispatcher)
    assert cards and all(card["price"] < cheapest for card in cards)
    assert SlotSet("budget", f"{int(cheapest) - 1}以内") in events  # 换一批 stays below it


async def test_cheaper_without_gifts_just_shown_is_a_question_for_the_knowledge_base(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "能便宜点吗", "ask_product_info", slots={"product": "dahongpao", **SHOWN_SLOTS}), {})
    assert dispatcher.messages[0]["text"] != "便宜一些的有这几样："
    assert len(dispatcher.messages) == 1  # an answer, no gift list


@pytest.mark.parametrize(("text", "kinds"), [("红茶和绿茶哪个更适合送长辈", ("红茶", "绿茶")), ("送长辈的红枣", ("红枣",))])
async def test_a_gift_request_naming_kinds_of_product_picks_among_them(knowledge, text, kinds):
    """After a handoff, "红茶和绿茶哪个更适合送长辈" got walnuts and jujubes: the kinds named are what to pick from."""
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        text, "request_gift", [("recipient", "elder")], slots={"recipient": "elder", "occasion": "any", "budget": "any"}), {})
    named = {p for kind in kinds for p in knowledge.catalog.family(kind)}
    cards = products(dispatcher)
    assert [m["text"] for m in dispatcher.messages][0] == "为您挑了这几样："
    assert cards and {c["id"] for c in cards} <= named, [c["name"] for c in cards]


async def test_a_kind_ruled_out_is_not_what_is_picked(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        "送领导，不要茶叶", "request_gift", [("recipient", "boss")], slots={"recipient": "boss", "occasion": "any",
                                                                       "budget": "any"}), {})
    cards = products(dispatcher)
    assert len(cards) == 3 and not {c["id"] for c in cards} & set(knowledge.catalog.family("茶叶")), cards


async def test_show_others_keeps_the_kinds_ruled_out(knowledge):
    """换一批 sends /request_gift, a gift request of its own: the wishes are still those typed before it."""
    typed = {"text": "送领导，不要茶叶", "intent": {"name": "request_gift"}, "entities": []}
    events = [{"event": "user", "text": typed["text"], "parse_data": typed}, *GIFTS_SHOWN]
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        "/request_gift", "request_gift", slots={"recipient": "boss", "occasion": "any", "budget": "any"},
        events=events), {})
    cards = products(dispatcher)
    assert len(cards) == 3 and not {c["id"] for c in cards} & set(knowledge.catalog.family("茶叶")), cards
