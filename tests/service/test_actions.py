"""Custom actions with an inline Tracker and CollectingDispatcher, as rasa-sdk's own tests do."""

from __future__ import annotations

import subprocess

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.gifts import ActionRecommendGifts
from actions.handoff import ActionRequestHandoff
from actions.knowledge import END_OF_TURN, ActionAnswerQuestion
from techan import PROJECT_ROOT
from techan.rasa_process import rasa_executable


def tracker(text: str, intent: str, entities=(), slots=None, confidence: float = 0.95, events=None,
            language: str = "zh") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence},
              "entities": [e if isinstance(e, dict) else {"entity": e[0], "value": e[1]} for e in entities], "metadata": {"language": language}}
    return Tracker(
        sender_id="web-test",
        slots={"product": None, "destination": None, "recipient": None, "occasion": None, "budget": None,
               **(slots or {})},
        latest_message=latest,
        events=[*(events or []), {"event": "user", "text": text, "parse_data": latest}], paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )


async def test_answers_from_the_kb_and_remembers_the_product(knowledge):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("普洱熟茶能放多久？", "ask_shelf_life", [("product", "普洱熟茶")]), {})
    message = dispatcher.messages[0]
    assert message["custom"]["techan"]["kb"][0]["id"] == "puer-ripe-cake-shelf-life"
    assert "布朗山普洱熟茶饼的保质期" in message["text"] and "{" not in message["text"]
    assert events == [SlotSet("kb_misses", 0), SlotSet("product", "puer-ripe-cake"), END_OF_TURN]


async def test_follow_up_without_product_name_uses_the_slot(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("能抽真空吗", "ask_vacuum_packing", slots={"product": "beef-jerky"}), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == "beef-jerky-vacuum"


@pytest.mark.parametrize(("family", "question", "intent", "expected"), [
    ("普洱茶", "那怎么保存", "ask_storage", "puer-storage"),
    ("普洱茶", "这个能放多久", "ask_shelf_life", "puer-shelf-life"),
    ("干果", "怎么保存比较好", "ask_storage", "dried-fruit-storage"),
    ("糕点", "能放几天", "ask_shelf_life", "pastry-shelf-life"),
])
async def test_follow_up_after_a_product_family_stays_on_that_family(knowledge, family, question, intent, expected):
    """"普洱茶" names no single product, yet "那怎么保存" right after it still means Pu'er, not the first storage entry."""
    assert knowledge.catalog.resolve(family) is None  # a family, not one product
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker(question, intent, slots={"product": family}), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == expected
    assert not [e for e in events if e["name"] == "product"], "the family in the slot was replaced by a guess"


async def test_unsure_answers_offer_choices_and_a_person(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(dispatcher, tracker("火星上能收到快递吗，量子纠缠", "nlu_fallback"), {})
    message = dispatcher.messages[0]
    assert message["custom"]["techan"]["unsure"] is True
    assert message["buttons"][-1] == {"title": "找店员", "payload": "/request_human"}
    assert len(message["buttons"]) == 3


async def test_gifts_are_three_product_cards_within_budget(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        "想给爸妈买点过年送的，三百左右", "request_gift",
        [("recipient", "parent"), ("occasion", "spring_festival"), ("budget", "三百左右")]), {})
    products = dispatcher.messages[1]["custom"]["products"]
    assert len(products) == 3
    assert all(240 <= p["price"] <= 360 for p in products)
    assert all(p["reason"] for p in products)


async def test_handoff_pauses_the_bot_and_tells_the_router(knowledge):
    dispatcher = CollectingDispatcher()
    events = await ActionRequestHandoff().run(dispatcher, tracker("可以视频看看吗", "request_video"), {})
    assert dispatcher.messages[0]["custom"] == {"handoff": {"reason": "video_request"}}
    assert events[0]["event"] == "pause"


async def test_shipping_with_a_place_is_quoted_from_the_shipping_table(knowledge):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("寄到乌鲁木齐要几天", "ask_shipping", [("destination", "乌鲁木齐")]), {})
    rate_days = {(r.days_min, r.days_max) for (o, d), r in knowledge.shipping.items() if d == "新疆"}
    text = dispatcher.messages[0]["text"]
    assert "乌鲁木齐" in text and "不参加满199包邮" in text
    assert f"{min(d for d, _ in rate_days)}-{max(d for _, d in rate_days)}天" in text
    assert events == [SlotSet("destination", "新疆"), SlotSet("kb_misses", 0), END_OF_TURN]


async def test_follow_up_place_uses_the_product_origin_and_cold_chain(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("寄到北京呢", "inform", [("destination", "北京")], slots={"product": "sichuan-bacon"}), {})
    rate = knowledge.shipping[("四川", "北京")]
    text = dispatcher.messages[0]["text"]
    assert text.startswith("川味柴火腊肉从四川发货，寄到北京一般")
    assert f"{rate.days_min}-{rate.days_max}天" in text and "冷链" in text


JAPAN_TRIP = ("Just got back from a 3 week trip to Japan and found the longjing on the kitchen counter, its like 30 "
              "degrees here. Was I supposed to keep it in the fridge?")
# what DIET tagged in it, with the real server: none of it is meant
JAPAN_TRIP_TAGGED = [{"entity": entity, "start": start, "end": end, "value": JAPAN_TRIP[start:end]}
                     for entity, start, end in [("occasion", 0, 4), ("budget", 21, 22), ("product", 36, 41),
                                                ("destination", 36, 41), ("budget", 98, 100), ("budget", 130, 132)]]


@pytest.mark.parametrize("before", [{}, {"destination": "北京", "budget": "300左右", "recipient": "parent"}])
async def test_what_a_story_or_a_question_names_is_not_meant(knowledge, before):
    """Japan is where the customer was, and "Just" and "to" are no occasion or budget: each slot goes back to what it
    held before, so "Do you ship here?" is not abroad and a later gift request does not begin "I didn't get the
    budget"."""
    earlier = [{"event": "slot", "name": name, "value": value} for name, value in before.items()]
    filled = {"destination": "Japan", "occasion": "Just", "budget": "to", "product": "Japan"}
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        JAPAN_TRIP, "ask_storage", JAPAN_TRIP_TAGGED, slots=filled, events=earlier, language="en"), {})
    assert [m["custom"]["techan"]["kb"][0]["id"] for m in dispatcher.messages] == ["longjing-storage"]
    assert "fridge" in dispatcher.messages[0]["text"].lower()
    assert events[:3] == [SlotSet(name, before.get(name)) for name in ("budget", "destination", "occasion")]
    assert SlotSet("product", "longjing") in events


async def test_gift_details_the_recommender_knows_stay_for_a_later_gift_request(knowledge):
    """"想给我爸买生日礼物" said with a question is kept: the gift request after it does not ask again."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "想给我爸买点生日礼物，牛肉干能放多久？", "ask_shelf_life",
        [("recipient", "parent"), ("occasion", "birthday"), ("product", "牛肉干")],
        slots={"recipient": "parent", "occasion": "birthday"}), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == "beef-jerky-shelf-life"
    assert not [e for e in events if e["name"] in ("recipient", "occasion")]


async def test_a_word_tagged_as_a_product_the_shop_does_not_know_leaves_the_one_under_discussion(knowledge):
    """DIET tagged "carry" and "over" as products: the quote was the shop-wide one, not the tea's, and the tea was
    forgotten for what followed."""
    text = ("ok never mind Canada, I will carry it over at Christmas. Send it to me in Beijing instead - how much is "
            "shipping and how many days?")
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        text, "ask_shipping", [("product", "over"), ("destination", "Beijing")], slots={"product": "over"},
        events=[{"event": "slot", "name": "product", "value": "shuixian"}], language="en"), {})
    rate = knowledge.shipping[("福建", "北京")]
    assert [m["text"] for m in dispatcher.messages] == [
        f"Old-bush Shui Xian Rock Tea ships from Fujian; delivery to Beijing takes {rate.days_min}-{rate.days_max} "
        f"days, shipping ¥{int(rate.fee)}, free on orders over ¥199."]
    assert SlotSet("product", "shuixian") in events and SlotSet("destination", "北京") in events


async def test_a_budget_with_a_figure_said_with_a_question_stays(knowledge):
    """"300以内" is a budget the gift form can use, question or not (review); "to" and "3 week" are none."""
    text = "想给领导买点东西，300以内，牛肉干能放多久？"
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        text, "ask_shelf_life", [{"entity": "budget", "value": "300以内", "start": 9, "end": 14},
                                 {"entity": "recipient", "value": "boss"}, ("product", "牛肉干")],
        slots={"budget": "300以内", "recipient": "boss"}), {})
    assert text[9:14] == "300以内"
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == "beef-jerky-shelf-life"
    assert not [e for e in events if e["name"] in ("budget", "recipient")]


async def test_a_place_told_and_sent_to_stays_where_to_send(knowledge):
    """"I live in Lhasa. Do you ship here?": Lhasa, told before the question, is where it goes (review)."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "I live in Lhasa. Do you ship here?", "ask_shipping",
        [{"entity": "destination", "value": "Lhasa", "start": 10, "end": 15}], slots={"destination": "Lhasa"},
        events=[{"event": "slot", "name": "destination", "value": "北京"}], language="en"), {})
    assert dispatcher.messages[0]["text"].startswith("Delivery to Lhasa takes")
    assert [e for e in events if e["name"] == "destination"] == [SlotSet("destination", "西藏")]


async def test_nothing_from_before_a_restart_is_under_discussion(knowledge):
    """After "/restart" the slot events before it are gone: no product from before comes back (review)."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "what about shipping", "ask_shipping", [("product", "over")], slots={"product": "over"},
        events=[{"event": "slot", "name": "product", "value": "beef-jerky"}, {"event": "restart"}], language="en"), {})
    assert "Beef Jerky" not in dispatcher.messages[0]["text"]
    assert SlotSet("product", None) in events


async def test_a_place_asked_about_stays_where_to_send(knowledge):
    """Only a story's place is set aside: where the question itself names it, it is kept for what follows."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "寄到海南天气热，鲜花饼能放几天？", "ask_shelf_life", [("destination", "海南"), ("product", "鲜花饼")],
        slots={"destination": "海南"}), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == "flower-cake-rose-shelf-life"
    assert not [e for e in events if e["name"] == "destination"]


async def test_product_under_discussion_does_not_hijack_shop_wide_questions(knowledge):
    for question, expected in (("运费怎么算？", "shipping-fee"), ("收到的瓷器碎了怎么办", "after-sales-damaged"),
                               ("可以开发票吗", "payment-invoice")):
        dispatcher = CollectingDispatcher()
        await ActionAnswerQuestion(knowledge).run(
            dispatcher, tracker(question, "ask_product_info", slots={"product": "beef-jerky"}), {})
        assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == expected, question


RESPONSES_BY_LANGUAGE = """
import asyncio, sys; sys.path.insert(0, '.')
from rasa.core.nlg.generator import NaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

domain = Domain.load('bot/domain.yml')
nlg = NaturalLanguageGenerator.create(read_endpoint_config('endpoints.yml', 'nlg'), domain)

async def main():
    for language, slot in (('en', None), ('zh', 'en'), (None, 'en'), (None, None)):
        events = ([SlotSet('language', slot)] if slot else []) + [
            UserUttered('hi', metadata={'language': language} if language else {})]
        tracker = DialogueStateTracker.from_events('someone', events, domain.slots)
        said = await nlg.generate('utter_ask_recipient', tracker, 'rest')
        print(said['text'], said['buttons'][0]['title'], sep='|')
asyncio.run(main())
"""


def test_rasas_responses_follow_the_language_sent_with_each_message():
    """endpoints.yml's NLG (bot/nlg.py), in Rasa's own Python: the message's language picks the variant, over a
    language slot left from earlier; without one the slot (or Chinese) does."""
    result = subprocess.run([str(rasa_executable().with_name("python")), "-c", RESPONSES_BY_LANGUAGE],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["Who is the gift for?|Parents", "想送给谁呢？|父母",
                                          "Who is the gift for?|Parents", "想送给谁呢？|父母"]


async def test_english_customers_get_english_choices_when_the_bot_is_unsure(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("quantum parcels to mars", "nlu_fallback", language="en"), {})
    message = dispatcher.messages[0]
    assert message["text"].startswith("I'm not quite sure")
    assert message["buttons"][-1] == {"title": "Ask staff", "payload": "/request_human"}


async def test_english_gift_cards_have_english_names_reasons_and_buttons(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionRecommendGifts(knowledge).run(dispatcher, tracker(
        "a gift for my parents for chinese new year", "request_gift",
        [("recipient", "parent"), ("occasion", "spring_festival"), ("budget", "under 400")], language="en"), {})
    assert dispatcher.messages[0]["text"] == "Here are a few I picked for you:"
    cards = dispatcher.messages[1]["custom"]["products"]
    for card in cards:
        product = knowledge.catalog.get(card["id"])
        assert card["name"] == f"{product.name_en} · {product.name}"
        assert card["price"] <= 400
    assert any("parents" in card["reason"] or "Chinese New Year" in card["reason"] for card in cards)
    assert [b["title"] for b in dispatcher.messages[1]["buttons"]] == ["Show others", "Ask staff to choose",
                                                                     "See it on video"]


async def test_english_handoff_message(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionRequestHandoff().run(dispatcher, tracker("talk to a person", "request_human", language="en"), {})
    assert dispatcher.messages[0]["text"].startswith("Sure, connecting you with our staff")


async def test_english_shipping_quotes_are_in_english(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(dispatcher, tracker(
        "how much is shipping to Beijing", "ask_shipping", [("destination", "Beijing")],
        slots={"product": "beef-jerky"}, language="en"), {})
    assert "delivery to Beijing takes" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(("text", "mention", "product", "words"), [
    ("大红袍多少钱", "大红袍", "dahongpao", ("428元", "福建武夷山")),
    ("你们家的香肠辣不辣", "香肠", "sichuan-sausage", ("麻辣鲜香",)),  # a taste its own words say
])
async def test_product_facts_come_from_the_catalog_with_the_card(knowledge, text, mention, product, words):
    """No KB entry says what a product costs or tastes like; its storage entry must not answer instead."""
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker(text, "ask_product_info", [("product", mention)]), {})
    message = dispatcher.messages[0]
    assert all(word in message["text"] for word in words), message["text"]
    assert [card["id"] for card in message["custom"]["products"]] == [product]
    assert SlotSet("product", product) in events


async def test_a_price_follow_up_uses_the_product_under_discussion_and_english(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("how much is it", "ask_product_info", slots={"product": "beef-jerky"}, language="en"), {})
    assert dispatcher.messages[0]["text"].startswith("Inner Mongolia Air-dried Beef Jerky (内蒙古风干牛肉干), "
                                                    "from Inner Mongolia: ¥128")


async def test_a_product_info_entry_still_answers_what_it_covers(knowledge):
    dispatcher = CollectingDispatcher()
    await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker("大红袍是红茶吗", "ask_product_info", [("product", "大红袍")]), {})
    assert dispatcher.messages[0]["custom"]["techan"]["kb"][0]["id"] == "rock-tea-what"
    assert "products" not in dispatcher.messages[0]["custom"]
