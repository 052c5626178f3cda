"""What customers receive from the knowledge answer: right, or honestly unsure — with the real model and demo shop.

Each test runs the bot's action (inline Tracker, CollectingDispatcher) and asserts the reply's text,
buttons and cards, not only which entry scored best.
"""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.knowledge import ActionAnswerQuestion
from core.language import detect
from knowledge.catalog import FAMILY_WORDS_LONGEST_FIRST
from knowledge.coverage import FREEZING, FRIDGE_REFUSED, content_words
from knowledge.files import KBEntryIn
from knowledge.service import Outcome, read_snapshot
from knowledge.shipping import as_abroad
from knowledge.topics import ASPECT_CUES, asked_aspect, reported_trouble
from knowledge.store import save_entry
from core.db import make_engine
from tests.service.test_actions import tracker

JERKY = {"product": "beef-jerky"}


async def reply(knowledge, text: str, intent: str = "nlu_fallback", slots=None, entities=(), language: str = "zh"):
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerQuestion(knowledge).run(
        dispatcher, tracker(text, intent, list(entities), slots=slots, language=language), {})
    assert len(dispatcher.messages) == 1, dispatcher.messages
    return dispatcher.messages[0], events


@pytest.mark.parametrize(("text", "intent", "entry", "fragment"), [
    ("可以开发票吗", "ask_product_info", "payment-invoice", "增值税专用发票"),
    ("支持货到付款吗", "ask_product_info", "payment-cod", "货到付款"),
    ("运费怎么算", "ask_shipping", "shipping-fee", "满199元包邮"),
    ("你们店在哪里", "ask_product_info", "shop-location", "昆明"),
])
async def test_shop_wide_questions_get_their_own_entry_after_a_product(knowledge, text, intent, entry, fragment):
    """The jerky under discussion used to answer all of these with its catalog blurb and card."""
    message, events = await reply(knowledge, text, intent, slots=JERKY)
    assert message["custom"]["techan"]["kb"][0]["id"] == entry
    assert fragment in message["text"] and "牛肉干" not in message["text"]
    assert "products" not in message["custom"]
    assert not [e for e in events if e["name"] == "product"]


async def test_a_follow_up_about_the_product_stays_on_it(knowledge):
    message, _events = await reply(knowledge, "那能放多久", "ask_shelf_life", slots=JERKY)
    assert message["custom"]["techan"]["kb"][0]["id"] == "beef-jerky-shelf-life"
    assert message["text"].startswith("内蒙古风干牛肉干的保质期")


async def test_a_follow_up_is_never_answered_with_another_products_entry(knowledge):
    """The jerky has no care entry; the teapot's would cover the words but is about another product."""
    message, events = await reply(knowledge, "那要怎么保养", "ask_storage", slots=JERKY)
    answered = message["custom"]["techan"]
    products = {e.id: e.product for e in knowledge.index.entries}
    assert answered.get("unsure") or products[answered["kb"][0]["id"]] in ("", "beef-jerky"), answered
    assert "紫砂" not in message["text"] and "壶" not in message["text"]
    assert not [e for e in events if e["name"] == "product" and e["value"] not in (None, "beef-jerky")]


async def test_an_entry_the_owner_writes_answers_over_the_product_in_context(knowledge, settings):
    """停车 is in no entry: unsure. Once the owner writes one, it answers, jerky or not."""
    before, _ = await reply(knowledge, "你们店有停车位吗", "ask_product_info", slots=JERKY)
    assert before["custom"]["techan"]["unsure"] is True
    engine = make_engine(settings)
    from tests.service.conftest import migrated_demo_shop
    migrated_demo_shop(settings)
    with Session(engine) as session, session.begin():
        save_entry(session, KBEntryIn(id="shop-parking", topic="other", questions=["店门口能停车吗", "有停车位吗"],
                                      answer="店门口有免费停车位，可以停两个小时。"), "owner")
    with Session(engine) as session:
        knowledge.apply(read_snapshot(session))
    engine.dispose()
    after, _ = await reply(knowledge, "你们店有停车位吗", "ask_product_info", slots=JERKY)
    assert after["text"] == "店门口有免费停车位，可以停两个小时。"


@pytest.mark.parametrize(("text", "slots"), [
    ("狗能吃牛肉干吗", None),
    ("猫能吃牛肉干吗", JERKY),
    ("腊肉是土猪肉吗", None),
    ("普洱能降血脂吗", None),
    ("紫砂壶能放消毒柜吗", None),
    ("我爸有糖尿病能吃红枣吗", None),
    ("你们店有停车位吗", JERKY),
])
async def test_what_the_shop_never_wrote_gets_an_honest_not_sure(knowledge, text, slots):
    message, events = await reply(knowledge, text, "ask_product_info", slots=slots)
    assert message["text"].startswith("这个问题我不太确定")
    assert message["custom"]["techan"]["unsure"] is True and "products" not in message["custom"]
    titles = [b["title"] for b in message["buttons"]]
    assert len(titles) == 3 and titles[-1] == "找店员"
    assert {"event": "slot", "name": "kb_misses", "value": 1} in [
        {k: e[k] for k in ("event", "name", "value")} for e in events if e["event"] == "slot"]


@pytest.mark.parametrize(("text", "expected"), [
    ("龍井茶保質期多久", "longjing-shelf-life"),
    ("紫砂壺怎麼保養", "yixing-xishi-pot-care"),
    ("牛肉乾能抽真空嗎", "beef-jerky-vacuum"),
])
async def test_traditional_characters_are_read_like_simplified(knowledge, text, expected):
    message, _events = await reply(knowledge, text)
    assert message["custom"]["techan"]["kb"][0]["id"] == expected
    assert "不太确定" not in message["text"]


@pytest.mark.parametrize(("text", "province", "place"), [
    ("發到廣州要幾天", "广东", "广州"),
    ("寄到常州要几天", "江苏", "常州"),
    ("寄到江苏常州市要几天", "江苏", "常州"),
    ("发到延边朝鲜族自治州要几天", "吉林", "延边"),
    ("延边能寄吗 要几天", "吉林", "延边"),
])
async def test_shipping_quotes_reach_every_city(knowledge, text, province, place):
    message, events = await reply(knowledge, text, "ask_shipping")
    assert message["custom"]["techan"]["shipping"] is True
    assert message["text"].startswith(f"寄到{place}")
    assert {"event": "slot", "name": "destination", "value": province} in [
        {k: e[k] for k in ("event", "name", "value")} for e in events if e["event"] == "slot"]


@pytest.mark.parametrize(("text", "word", "members"), [
    ("有火腿吗", "火腿", {"xuanwei-ham", "jinhua-ham"}),
    ("你家有红茶吗", "红茶", {"dianhong-golden", "zhengshan"}),
])
async def test_family_words_show_the_products_not_we_dont_sell_it(knowledge, text, word, members):
    message, _events = await reply(knowledge, text, "ask_product_info", entities=[("product", word)])
    assert "没有卖" not in message["text"] and message["text"].startswith(f"我们有这几款{word}")
    shown = [card["id"] for card in message["custom"]["products"]]
    assert set(shown) == members and len(shown) == len(members)
    assert message["custom"]["techan"]["family"] == word


async def test_a_product_asked_for_by_name_is_shown(knowledge):
    message, _events = await reply(knowledge, "有月饼吗", "ask_product_info", entities=[("product", "月饼")])
    assert message["text"].startswith("广式双黄白莲蓉月饼，产自")
    assert [card["id"] for card in message["custom"]["products"]] == ["cantonese-mooncake"]


async def test_we_dont_sell_it_only_when_nothing_matches(knowledge):
    message, _events = await reply(knowledge, "你们有卖茅台吗", "ask_product_info", entities=[("product", "茅台")])
    assert message["text"].startswith("本店暂时没有卖“茅台”")
    assert len(message["custom"]["products"]) == 3


async def test_english_customers_get_the_english_answer(knowledge):
    message, _events = await reply(knowledge, "Is vacuum packing free?", "ask_vacuum_packing", language="en")
    assert message["custom"]["techan"]["kb"][0]["id"] == "vacuum-free"
    assert message["text"].startswith("Vacuum packing is free")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in message["text"])


async def test_an_entry_without_english_is_given_in_chinese_with_a_note(knowledge, settings):
    from tests.service.conftest import migrated_demo_shop
    migrated_demo_shop(settings)
    engine = make_engine(settings)
    with Session(engine) as session, session.begin():
        save_entry(session, KBEntryIn(id="shop-parking", topic="other", questions=["Is there parking?", "有停车位吗"],
                                      answer="店门口有免费停车位。"), "owner")
    with Session(engine) as session:
        knowledge.apply(read_snapshot(session))
    engine.dispose()
    message, _events = await reply(knowledge, "Is there parking at the shop?", language="en")
    assert message["text"].endswith("店门口有免费停车位。") and message["text"].startswith("(Our answer")


def test_the_answer_outcomes_are_the_quality_set_labels(knowledge):
    assert knowledge.answer("可以开发票吗", context="beef-jerky").answered_by == "kb:payment-invoice"
    assert knowledge.answer("大红袍多少钱").answered_by == "catalog:dahongpao"
    assert knowledge.answer("寄到常州要几天").answered_by == "shipping:江苏"
    assert knowledge.answer("有没有卖茅台").outcome == Outcome.NOT_SOLD
    assert knowledge.answer("狗能吃牛肉干吗").answered_by == "defer"


@pytest.mark.parametrize("question", ["几天能到", "多久能收到啊", "什么时候能送到", "when will it arrive?",
                                      "how long until it arrives"])
def test_when_an_order_arrives_is_shipping_whatever_product_came_before(knowledge, question):
    """"几天能到" after the 大红袍 got its shelf life (几天 asks that too): when it arrives is a shipping matter."""
    answer = knowledge.answer(question, context="dahongpao")
    assert answer.answered_by == "kb:shipping-time", (question, answer.answered_by)


@pytest.mark.parametrize("question", ["大红袍收到能放几天", "大红袍多久到期", "大红袍放多久才到最好喝"])
def test_how_long_it_keeps_after_it_arrives_is_still_shelf_life(knowledge, question):
    assert knowledge.answer(question).answered_by == "kb:dahongpao-shelf-life"


@pytest.mark.parametrize(("question", "expected"), [
    ("生普多少钱", "catalog:puer-raw-cake"),  # was the shipping fee: its entry also says 多少钱
    ("how much is the raw puer cake", "catalog:puer-raw-cake"),  # was the raw-vs-ripe entry
    ("how much is the dahongpao", "catalog:dahongpao"),  # was its shelf life; pinyin written together
    ("运费多少钱", "kb:shipping-fee"),
    ("how much does shipping cost", "kb:shipping-fee"),
    ("宣威火腿真空包装多少钱", "kb:vacuum-free"),  # the vacuum packing's price, not the ham's
])
def test_a_price_is_the_catalogs_and_a_fee_the_shipping_entrys(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("普洱能降血压吗", "defer"),  # a health effect is a claim only the shop's own words may make
    ("白茶喝了会失眠吗", "defer"),
    ("牛肝菌干要泡多久", "defer"),  # how to soak it is no shelf life ("泡多久" over "多久")
    ("火腿怎么炖好吃", "defer"),  # how to cook it, which no catalog summary says
    ("火腿好吃吗", "catalog:火腿"),  # was the cold chain's entry: ham named, 好吃 in the shipping topic's words
    ("这个壶能分期吗", "kb:payment-installment"),  # 壶 names a kind of product, which a shop-wide entry covers
    ("单位年底要买30份礼盒 有折扣吗", "kb:payment-corporate"),  # 年底, 单位: when and who, not what is asked
])
def test_what_is_asked_beyond_the_product_decides(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_a_family_asked_for_is_its_products_with_the_nlu_too(knowledge):
    """With an intent and no product entity, "你家有红茶吗" got one red tea's storage entry (红茶 is in its aliases)."""
    answer = knowledge.answer("你家有红茶吗", intent="ask_product_info")
    assert answer.answered_by == "catalog:红茶" and set(answer.products) <= set(knowledge.catalog.family("红茶"))
    assert knowledge.answer("有停车位吗", intent="ask_product_info").outcome != Outcome.NOT_SOLD


@pytest.mark.parametrize("question", ["大红袍寄过来多少钱", "how much would it cost to ship the dahongpao"])
def test_the_price_of_shipping_a_product_is_not_its_price(knowledge, question):
    assert knowledge.answer(question).outcome != Outcome.CATALOG


@pytest.mark.parametrize(("question", "expected"), [
    # who it is for, or where at home it sits, is context, not what is asked
    ("白牡丹我妈放柜子里好几年了 还能喝吗", "kb:white-tea-baimudan-shelf-life"),
    ("腊肉挂在厨房晾着行不行", "kb:sichuan-bacon-storage"),
    ("兔头吃剩半袋 明天接着吃可以吗", "kb:rabbit-heads-storage|kb:rabbit-heads-shelf-life"),
    ("老婆饼软了不酥了咋整", "kb:wife-cake-storage"),
    ("收到的时候碗碎了一个 怎么办", "kb:after-sales-damaged"),  # 碗 names a kind of product
    # who may safely eat it is asked, and a health effect in English is a claim too
    ("小孩能吃牛肉干吗", "defer"),
    ("will the green tea help me lose weight", "defer"),
    ("is pu'er good for my blood pressure", "defer"),
])
def test_context_words_and_asked_words(knowledge, question, expected):
    assert knowledge.answer(question).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("the beef jerky is spicy, fridge or freezer?", None, "kb:beef-jerky-storage"),  # spicy is no price question
    ("how much per jar?", "badam", "catalog:badam"),  # a jar is a pack size, not storage
    ("一罐多少钱", "badam", "catalog:badam"),
])
def test_a_storage_question_with_a_taste_word_is_storage_and_a_pack_size_is_price(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "name"), [
    ("有榴莲干卖吗", "榴莲干"), ("你家有没有宁夏枸杞", "宁夏枸杞"), ("请问燕窝有卖吗", "燕窝"),
    ("do you sell matcha powder?", "matcha powder"),
    ("有长白山人参吗", "长白山人参"),  # 白山 is a city of Jilin, but the name is more than the place
    ("有没有卖土蜂蜜的", "土蜂蜜"), ("有野生蜂蜜吗", "野生蜂蜜"),  # which honey, then the thing: a name ends with its thing
    ("宁夏枸杞卖不卖", "宁夏枸杞"), ("冬虫夏草有没 要品相好点的", "冬虫夏草"), ("老板卖不卖阿胶", "阿胶"),  # more ways to ask
    ("你们这能买苹果手机不 送女朋友", "苹果手机"),
    ("车厘子有没有 来两斤", "车厘子"), ("有冇花膠賣", "花胶"),  # words jieba does not know fall into single characters
])
@pytest.mark.parametrize("intent", [None, "ask_product_info"])
def test_a_thing_of_several_words_the_shop_does_not_carry_is_not_sold(knowledge, question, name, intent):
    """With the NLU's intent and no entity as well: the words ask for it (the NLU tags few unknown names)."""
    answer = knowledge.answer(question, intent=intent)
    assert answer.outcome == Outcome.NOT_SOLD and answer.not_sold == name


@pytest.mark.parametrize("question", ["有停车位吗", "我下周生日 有生日福利没", "这套有盒子吗", "北京有卖吗",
                                      "黑色的有货吗", "Do you have this in stock?", "有没有不辣的",
                                      "有新疆的吗", "有没有便宜点的", "有没有加防腐剂"])
@pytest.mark.parametrize("intent", [None, "ask_product_info"])
def test_what_the_shop_does_is_never_not_sold(knowledge, question, intent):
    assert knowledge.answer(question, intent=intent, context="jdz-blue-tea-set").outcome != Outcome.NOT_SOLD


def test_a_pack_named_by_the_nlu_is_no_product(knowledge):
    """DIET tags "jar" as a product; "Sichuan Old-jar Pickles" has the word, so the pickles' summary came back."""
    assert knowledge.answer("how much per jar?", "ask_shelf_life", "jar", "badam", language="en").answered_by == (
        "catalog:badam")


@pytest.mark.parametrize(("question", "entity"), [("有開心果嗎", "开心果"), ("do you have matcha?", "matcha")])
def test_a_thing_the_nlu_tags_and_the_words_ask_for_is_not_sold(knowledge, question, entity):
    answer = knowledge.answer(question, intent="ask_product_info", mentioned=entity)
    assert answer.outcome == Outcome.NOT_SOLD and answer.products


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("do you sell bowls?", None, "catalog:jdz-linglong-bowls"),  # a plural, and one product: yes, these
    ("拆开了不喜欢能退吗", None, "kb:after-sales-return"),  # 拆开 asks storage, but a return is shop-wide
    ("what's the weight of the rose flower cakes?", None, "catalog:flower-cake-rose"),  # weight is no health claim
    ("女儿三岁能吃牛肉干吗", None, "defer"),  # a child may eat it or not: asked, not context
])
def test_review_findings(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "intent", "entity"), [
    ("快递显示签收了 可我根本没收到", "ask_shipping", None),  # was how to track a parcel, nudged by the intent's topic
    ("is the white tea good for hangovers?", "ask_product_info", "tea"),  # a health claim; was how to brew tea
])
def test_the_nlu_intent_does_not_make_a_near_miss_confident(knowledge, question, intent, entity):
    assert knowledge.answer(question, intent=intent, mentioned=entity).answered_by == "defer"


@pytest.mark.parametrize(("question", "intent", "entity", "context", "destination", "expected"), [
    # what the trained model read (Rasa's /model/parse): a place read as where it goes, in a question on keeping it
    ("live in guangzhou, will the walnuts go rancid in summer", "ask_shipping", None, None, "Guangzhou",
     "kb:xinjiang-walnut-storage|kb:dried-fruit-storage"),
    ("广州要几天", "ask_shipping", None, None, None, "shipping:广东"),  # how long, read as shelf life: still a quote
    # where a parcel is stuck, or a place a product is compared with, read as shipping: no quote (dev23)
    ("my parcel has been stuck in guangzhou for 4 days whats going on", "ask_shipping", None, None, None, "defer"),
    ("is your longjing better than what they sell at hangzhou airport", "ask_shipping", None, None, None, "defer"),
    # a city a story names is no destination unless the question sends something there (dev24)
    ("我儿子9月1号去北京上大学，想让他带点家乡的东西给室友，所以今天要下单。如果我下午5点以后才付款，是当天发货还是第二天发？",
     "ask_shipping", None, None, "北京", "kb:shipping-dispatch"),
    ("we're having a big family reunion in Guangzhou in July. Do you ship ham with ice packs or something in summer?",
     "ask_shipping", None, None, "Guangzhou", "kb:shipping-cold-chain"),
    ("我妈在北京。寄过去几天？", "ask_shipping", None, None, "北京", "shipping:北京"),
    ("我妈在北京。运费多少？", "ask_shipping", None, None, "北京", "shipping:北京"),
    ("我妈在乌鲁木齐。寄过去运费多少钱？", None, None, None, None, "shipping:新疆"),  # the story's city, sent to (review)
    ("I live in Lhasa. Do you ship here?", None, None, None, None, "shipping:西藏"),
    ("I live in Lhasa. Do you ship here?", "ask_shipping", None, None, "Japan", "shipping:西藏"),  # walkthrough
    # when the shop sends an order out, after a quote to a place: the dispatch entry, not that quote again
    ("今天下单周末能发货不", "ask_shipping", None, "yixing-xishi-pot", "西藏", "kb:shipping-dispatch"),
    ("一般几点前下单当天发货", "ask_shipping", None, "yixing-xishi-pot", "西藏", "kb:shipping-dispatch"),
    ("when do you ship?", "ask_shipping", None, None, "北京", "kb:shipping-dispatch"),
    ("几天能到", "ask_shipping", None, None, "北京", "shipping:北京"),  # how long it takes there: the quote
    ("什么时候能发到", "ask_shipping", None, None, "西藏", "shipping:西藏"),  # review: arrival asked, not dispatch
    ("下单后多久发货，到那边要几天？", "ask_shipping", None, None, "西藏", "shipping:西藏"),
    ("When do you ship? How long to get there?", "ask_shipping", None, None, "西藏", "shipping:西藏"),
    ("寄到北京和天津分别多少钱", None, None, None, None, "defer"),  # two places sent to: not one place's quote
    # places where one was or bought before are no matter the quote leaves out
    ("我之前在昆明和广州都买过茶，不过我现在住在成都，寄到成都要几天，运费多少", None, None, "puer-ripe-cake", None,
     "shipping:四川"),
    ("寄大理下关 明天能到吗", "ask_shipping", None, None, "大理", "shipping:云南"),  # the destination said again (dev13)
    ("寄到海南天气热，鲜花饼能放几天？", None, None, None, None, "kb:flower-cake-rose-shelf-life"),  # keeping said: its time
    # 茶饼 tagged: the tea family, but "this cake" is the raw cake under discussion (was the green tea's storage)
    ("這個茶餅可以放雪櫃嗎", "ask_storage", "茶饼", "puer-raw-cake", None, "kb:puer-storage|kb:puer-raw-cake-storage"),
])
def test_what_the_nlu_reads_does_not_lead_away_from_the_question(knowledge, question, intent, entity, context,
                                                                  destination, expected):
    answer = knowledge.answer(question, intent, entity, context, destination, detect(question))
    assert answer.answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "expected"), [
    # whether it lasts until a day is its shelf life (no aspect was read: unsure)
    ("鲜花饼能撑到月底吗 要带回老家", "kb:flower-cake-rose-shelf-life"),
    ("will the almond biscuits still be fine in two months", "kb:almond-biscuits-shelf-life"),
    ("the jerky, will it last until christmas", "kb:beef-jerky-shelf-life"),
    # "是A还是B": a summary naming one of them answers; naming neither, it does not
    ("牛肉干是牦牛肉还是黄牛肉", "catalog:beef-jerky"),
    ("牛肉干是牦牛肉还是羊肉", "defer"),
    ("这个花瓶是老物件还是新烧的", "defer"),  # 新烧的 names no thing the summary could say
    ("还没拆 想换个别的口味可以吗", "kb:after-sales-exchange"),  # jieba reads 换/个别/的: no thing asked
])
def test_lasting_until_a_day_and_a_choice_of_two(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("腊肠过期两个月了 还能吃吗", "defer"),  # was how long the sausages keep, which says nothing past the date
    ("the jerky expired last week, still ok to eat?", "defer"),
    ("大红袍过期一年了 还能泡吗", "kb:tea-expired"),  # tea in general, though its phrasings name 绿茶 and 白茶 too
    ("腊肠能放多久", "kb:sichuan-sausage-shelf-life"),
    ("普洱茶会过期吗", "kb:puer-shelf-life"),  # whether it will, not that it has
])
def test_past_its_date_is_answered_only_by_an_entry_that_says_so(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("腊肉是湖南的还是四川的", None, "catalog:sichuan-bacon"),  # a choice of places: the origin answers it
    ("香肠是湖南的吗", None, "catalog:sichuan-sausage"),  # was its vacuum entry: the place was taken for a destination
    ("这茶是哪年的", "white-tea-shoumei", "catalog:white-tea-shoumei"),  # 茶 names the family of the cake discussed
    ("do u guys sell baijiu", None, "not_sold"),
    ("能插鲜花吗 要装水的", "jdz-famille-vase", "kb:jdz-famille-vase-care"),  # its own phrasing, however worded
    ("榨菜辣吗", None, "defer"),  # its summary says nothing of heat
    ("香肠辣不辣", None, "catalog:sichuan-sausage"),  # 麻辣鲜香
    ("辣吗 我不太能吃辣", "sichuan-sausage", "catalog:sichuan-sausage"),  # jieba's 不太能 is no thing asked
])
def test_origin_choice_taste_and_the_product_in_its_family(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    # no aspect of keeping asked: the storage and vacuum entries, whose words happen to cover it, do not answer
    ("葡萄干加糖了吗", "catalog:turpan-raisins"),  # 无添加糖
    ("无花果有没有加糖", "defer"),  # only its tags say 不加糖; the summary does not
    ("what flavours are in the flower cake gift box", "catalog:flower-cake-gift"),
])
def test_a_keeping_entry_answers_only_its_aspects_and_a_summary_only_what_it_says(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("双十一有优惠吗", None, "defer"),  # a day the coupon entry does not name (jieba read 双十 / 一)
    ("黑五有折扣吗", None, "defer"),
    ("有活动吗", None, "kb:payment-coupon"),
    ("跟肉桂比哪个好喝", "dahongpao", "defer"),  # was the rougui's summary: one product's facts judge nothing
])
def test_a_shopping_festival_and_a_judgement(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("how tall is the vase", "catalog:jdz-famille-vase"),  # the demo catalog's English alias
    ("陈皮隔段时间要拿出来晒吗", "kb:xinhui-chenpi-storage"),  # jieba's 段时间 is when, not a thing asked
])
def test_a_vase_in_english_and_a_while_is_when(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "intent", "entity", "expected"), [
    # review findings on the day's changes
    ("我是北京的 香肠怎么保存", None, None, None, "kb:sichuan-sausage-storage"),  # where the customer is
    ("我是广东的，腊肠过期两个月了还能吃吗", None, None, None, "defer"),  # not the summary: an aspect is asked
    ("还有别的茶吗", "dahongpao", None, None, "catalog:茶"),  # other teas: the family, not the da hong pao
    ("放冰箱是不是就不会过期了", "beef-jerky", None, None, "kb:beef-jerky-storage"),  # will not expire: storage
    ("安吉白茶到底是白茶还是绿茶啊", None, None, None, "catalog:anji-white"),  # kinds, not other products
])
def test_review_findings_on_origin_others_and_expiry(knowledge, question, context, intent, entity, expected):
    assert knowledge.answer(question, intent, entity, context).answered_by == expected


@pytest.mark.parametrize("question", ["大红袍还是肉桂好喝", "送领导大红袍还是肉桂"])
def test_a_choice_between_two_products_is_not_one_products_summary(knowledge, question):
    assert knowledge.answer(question).answered_by != "catalog:dahongpao"


def test_a_family_word_inside_a_tagged_name_is_the_family(knowledge):
    """DIET tags 新茶; it contains 茶, so it is the tea family, not a thing the shop "does not sell"."""
    assert knowledge.answer("今年的新茶上了没", "ask_product_info", "新茶").outcome != Outcome.NOT_SOLD


def test_a_piece_of_a_name_the_nlu_tags_is_no_family(knowledge):
    """DIET tags 鲜花 in "插鲜花" after the vase; 鲜花 is in 鲜花饼's name, so the flower cakes were the subject."""
    answer = knowledge.answer("可以插鲜花吗 装水的", "ask_product_info", "鲜花", "jdz-famille-vase")
    assert answer.answered_by == "kb:jdz-famille-vase-care"


def test_sold_kinds_in_english_plurals_and_unsold_vessels(knowledge):
    teapots = knowledge.answer("do you have teapots?")
    assert teapots.outcome == Outcome.CATALOG and set(teapots.products) <= set(knowledge.catalog.family("teapot"))
    assert knowledge.answer("有盘子吗").family != "盘子"  # the shop sells no plates: no porcelain listed as plates
    assert knowledge.answer("有茶杯吗").answered_by != "kb:tea-pregnant"


def test_an_entry_about_tea_says_nothing_of_a_sausage(knowledge):
    """"孕妇能吃吗" after the sausage got the entry on pregnant women and tea (most of its phrasings name tea)."""
    assert knowledge.answer("孕妇能吃吗", context="sichuan-sausage").answered_by == "defer"
    assert knowledge.answer("孕妇能喝吗", context="dianhong-golden").answered_by == "kb:tea-pregnant"


@pytest.mark.parametrize(("question", "expected"), [
    ("牛肝菌干今年买明年吃 还在期内不", "kb:boletus-dried-shelf-life"),  # was its storage entry: 期内 asks how long
    ("为什么茶叶不给抽真空", "kb:vacuum-which|kb:vacuum-free"),  # an entry naming many families speaks of all
])
def test_how_long_it_has_been_and_what_every_product_shares(knowledge, question, expected):
    assert knowledge.answer(question).answered_by in expected.split("|")


@pytest.mark.parametrize("question", ["龙井在冰箱里冻了快两年了 还好喝吗", "腊肠买了三个月了", "这饼放了半年了",
                                      "能放多久冰箱放得下吗"])  # whether it fits the fridge asks no aspect
def test_how_long_it_has_been_kept_asks_how_long_it_keeps(question):
    """The last cue names the aspect: 冰箱 (storage) came last before 两年了 was a cue."""
    assert asked_aspect(question) == "shelf_life"


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("葡萄干粘在一起了 是我没放好吗", None, "kb:turpan-raisins-storage|kb:dried-fruit-storage"),  # 没放好, 粘: storage
    ("生普包装上的日子过了 还能喝不", None, "kb:puer-raw-cake-shelf-life|kb:puer-shelf-life|kb:tea-expired"),
    ("寄过来会不会摔坏", "jdz-blue-tea-set", "kb:jdz-blue-tea-set-packing"),  # 摔坏 asks how it is packed
    ("丝巾能放洗衣机洗吗", None, "kb:suzhou-silk-scarf-care"),  # an appliance named by a care cue
    ("大红袍是红茶的一种吗", None, "kb:rock-tea-what"),  # another kind than the product's own is what is asked
])
def test_more_ways_to_ask_an_aspect(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "intent", "expected"), [
    ("can you ship tea to Canada?", None, "kb:shipping-overseas"),  # English scores lower: it was "not sure"
    ("can i pick it up myself in kunming?", None, "kb:shop-location"),
    ("how long does it take to get to chengdu", None, "shipping:四川"),
    ("Do you have a physical store in Shanghai?", "ask_shipping", "kb:shop-location|defer"),  # a visit, not a quote
    ("你们店在昆明哪里 坐地铁怎么到", None, "kb:shop-location|defer"),
])
def test_english_questions_and_places_to_visit(knowledge, question, intent, expected):
    assert knowledge.answer(question, intent).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "expected"), [
    ("国庆几号开始停发货", "defer"),  # the dispatch entry says nothing of a holiday's break
    ("过年几号停发货啊", "defer"),
    ("物流三天没动了 咋回事啊", "defer"),  # how long shipping takes is not why a parcel stopped
    ("what do you charge for delivery", "kb:shipping-fee"),  # one word unsaid of two: how it is said
    ("单位年底要买30份礼盒 有折扣吗", "kb:payment-corporate"),
])
def test_an_entry_that_leaves_most_of_the_question_unsaid_needs_a_sure_match(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("红茶跟绿茶哪个好喝", "defer"),  # the wrong-item entry names both ("买的红茶寄来的是绿茶") and weighs nothing up
    ("寿眉跟白牡丹送长辈哪个好", "defer"),  # the raw-or-ripe entry weighs up other teas
    ("生普和熟普哪个好", "kb:puer-raw-vs-ripe"),  # the entry that weighs up these two
    ("which one more fragrant, rougui or shuixian?", "defer"),  # was what rock tea is: which is more X judges too
    ("大红袍跟肉桂哪个更香", "defer"),
    ("我人在上海 你们实体店在哪", "kb:shop-location"),  # where the customer is, not what is asked
    ("鸡仔饼里面有肉吗 我吃素", "catalog:chicken-biscuits"),  # who it is for: what is in it is the summary's
    ("香肠买回来能直接吃吗 还是要煮", "defer"),  # whether it must be cooked: no summary says
    ("火腿有几种啊", "catalog:火腿"),  # how many kinds: the family's products
    ("how much is postage to Harbin", "shipping:黑龙江"),  # postage is a shipping word
])
def test_a_judgement_needs_an_entry_that_weighs_up_what_it_names_and_more_context_words(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_one_family_however_spelt_is_one_family_and_a_kind_named_once_is_a_contrast(knowledge):
    """普洱, 普洱茶 and pu'er made the Pu'er entry "about three families", so about every product: it answered for
    the white tea. "什么是岩茶" names 红茶 and 绿茶 once each, to say rock tea is neither."""
    entries = {e.id: e for e in knowledge.index.entries}
    puer = {p for p in knowledge.catalog.products if p.startswith("puer-")}
    assert knowledge._families_named(entries["puer-shelf-life"]) == puer
    assert knowledge._families_named(entries["rock-tea-what"]) == {"dahongpao", "rougui", "shuixian"}
    expired = knowledge.answer("包装上写的日子过了 还能泡吗", context="white-tea-shoumei")
    assert expired.answered_by in ("kb:tea-expired", "kb:white-tea-shelf-life", "kb:white-tea-shoumei-shelf-life")
    assert "白茶" in expired.text  # not "普洱茶（生茶和熟茶）…"
    assert knowledge.answer("安吉白茶是白茶还是绿茶").answered_by == "catalog:anji-white"


@pytest.mark.parametrize(("question", "expected"), [
    ("香肠真空袋胀起来了 能吃不", "defer"),  # was the sausage's vacuum entry: a spoilage sign is the shop's to judge
    ("熟普饼上有白点 还能喝吗", "defer"),
    ("陈皮怎么保存才不会发霉", "kb:xinhui-chenpi-storage"),  # keeping it from going mouldy is how to store it
    ("牛肉干吃着有股怪味 是不是坏了", "kb:after-sales-quality"),  # an entry that says what to do about it
    ("牛肉干吃着一股油哈味 是不是放坏了", "kb:after-sales-quality"),  # was how long it keeps: a spoilt taste told
    ("walnuts smell rancid, has it gone bad?", "kb:after-sales-quality"),
    ("黄黄的小点点是发霉了吗", "defer"),  # a sign seen, no smell told: whether it is mould is the shop's to judge
])
def test_a_sign_of_spoilage_is_answered_only_by_an_entry_that_names_it(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("榨菜礼盒里头几包", "catalog:fuling-zhacai"),  # was gift wrapping (礼盒): its pack says 10袋/盒
    ("金华火腿是几年的腿", "catalog:jinhua-ham"),  # how old, which its description says (两年陈); not how long it keeps
    ("普洱能放几年", "kb:puer-shelf-life"),
    ("does your shop sell teapots", "catalog:teapots"),
    ("這條絲巾是真絲的嗎", "catalog:suzhou-silk-scarf"),  # 这条: a measure word, not a thing asked about
    ("老婆饼啥馅的", "catalog:wife-cake"),  # the filling, which its description gives (冬瓜蓉馅)
    ("陳皮可以煲湯嗎", "catalog:xinhui-chenpi"),  # a use its description states (泡水煲汤都可以)
    ("got caffeine or not? my wife pregnant", "defer"),  # was "we don't sell caffeine": what is in it, not goods
])
def test_what_the_catalog_states_answers_however_it_is_asked(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("腊肉冷冻的话能放多久", None, "defer"),  # was its shelf life, which gives the fridge's time only
    ("冻冰箱里能放多久", "sichuan-sausage", "defer"),  # its storage says to freeze it, not for how long
    ("how long can the sausages keep in the freezer", None, "defer"),
    ("香肠收到后不放冰箱的话 能放几天", None, "defer"),  # 6个月（真空包装冷藏）is the fridge's time
    ("香肠路上走了三天没冷藏 还能吃吗", None, "defer"),
    ("腊肉不放冰箱能放多久", None, "kb:sichuan-bacon-shelf-life"),  # its shelf life says 常温阴凉处约3个月
    ("普洱不放冰箱能放多久", None, "kb:puer-storage|kb:puer-shelf-life"),  # tea keeps out of the fridge anyway
    ("香肠能冷冻吗", None, "kb:sichuan-sausage-storage"),  # whether, not how long: 开封后分装冷冻
])
def test_how_long_frozen_or_out_of_the_fridge_needs_a_time_said_for_it(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("腊肉要蒸好久才得熟哦", None, "defer"),  # was its shelf life (好久): how long to cook it, which nothing says
    ("豆瓣酱做麻婆豆腐放几勺合适", None, "defer"),  # 放几勺 is a dose, not 放几天
    ("螺蛳粉有吗 柳州那种臭臭的😂", None, "not_sold"),  # was the quality entry (臭): goods asked for, no trouble
    ("小孩两岁能吃核桃吗 要不要打碎", None, "defer"),  # was broken goods (碎): crushing them is a doing
    ("快递到了 碗被打碎了一个", None, "kb:after-sales-damaged"),
    ("鲜花饼开了一盒 太甜了吃不惯 剩下的能退不", None, "defer|kb:after-sales-return"),  # was how to keep what is left
    ("anji bai cha just arrived.. fridge or cupboard?", None, "kb:anji-white-storage"),  # an arrival told, no matter
    ("里面都有啥口味", "flower-cake-gift", "catalog:flower-cake-gift"),  # was the exchange entry (能换个口味吗)
    ("你们招不招代理 我想在老家县城开个小店卖你们的茶", None, "defer"),  # was the teas: selling them in one's shop asks for none
    ("how do i cook the porcini? soak first? how long", None, "defer"),  # was its shelf life: how long to cook it
    ("這款可以冷泡嗎 就是放冰箱泡一整晚那種", "tieguanyin", "defer"),  # was how to keep it (冰箱): a way to brew it
    ("龙井买回来要放多久再喝", None, "defer"),  # was its shelf life (18个月): not when it drinks best
    ("岩茶刚到 火味好重 要放多久再喝", None, "kb:dahongpao-shelf-life|kb:rock-tea-storage"),  # these say 退了火气更好
    ("how long should i let it rest before drinking", "longjing", "defer"),  # the same, asked in English
    ("how long should i let it rest before drinking", "dahongpao", "kb:dahongpao-shelf-life"),  # "once the fire has mellowed"
    ("老丛水仙丛味重不重，树龄多少年", None, "defer|catalog:shuixian"),  # was its shelf life: 树龄 is the bushes' age
    ("月餅買回來可以放冰箱嗎", None, "defer|kb:pastry-shelf-life"),  # was 常温保存, silent on whether the fridge harms
    ("它能放冰箱吗", "wife-cake", "defer|kb:pastry-shelf-life"),  # likewise (the pastry entry says 夏天可以冷藏)
    ("大红袍能放冰箱吗", None, "kb:dahongpao-storage"),  # which says 不需要放冰箱
    ("老闆 能便宜一點嗎", None, "defer|kb:payment-coupon"),  # was 企业团购满3000元95折: no offer to one customer
    ("可以对公转账吗", None, "kb:payment-corporate"),  # a company's payment is the corporate entry's
    ("豆瓣醬開封以後還能放多久啊", None, "defer"),  # was 24个月（未开封）: the sealed jar's time, none once opened
    ("豆瓣酱没开封能搁多久", None, "kb:pixian-douban-shelf-life"),  # that time
    ("白牡丹放了三年 喝着味道跟刚买时不一样了 正常吗", None, "defer|kb:white-tea-shelf-life"),  # was its taste: no reason
    ("宣威火腿是火腿心还是火腿尖", None, "defer"),  # was its summary, which names 火腿 but neither cut
    ("hi, how long will the matsutake keep once i open the jar?", None, "kb:matsutake-dried-shelf-life"),  # 开封后三个月
    ("试喝装要钱吗", None, "defer"),  # was the sample entry, which says there are samples, not what they cost
    ("真空要另外加钱吗", None, "kb:vacuum-free"),  # which says it is free
    ("is vacuum sealing extra? or free?", None, "kb:vacuum-free"),
    ("买茶具送茶叶不", None, "defer"),  # was the sample entry: nothing is said of a gift with the tea set
    # whether it will break is the packing's to answer, not the after-sales entry on what is done once it has
    ("鲜花饼快递过来会不会压扁了", None, "kb:flower-cake-rose-vacuum|kb:flower-cake-gift-vacuum"),
    ("万一寄过来碎了怎么办", None, "kb:after-sales-damaged"),
    ("can i get a refund if the teapot shows up broken", None, "kb:after-sales-damaged"),
    ("the vase is fragile, how do you pack it?", None, "kb:jdz-famille-vase-packing"),  # was its care entry, as near
    ("生普一饼太多了喝不完 能拆开卖半饼吗", None, "defer"),  # was how to keep the raw cake: no half cake is sold there
    ("你们卖的普洱能放多久", None, "kb:puer-shelf-life|kb:puer-raw-cake-shelf-life|kb:puer-ripe-cake-shelf-life"),
    ("安吉白茶和龙井能放一个冰箱里吗 会不会串味", None, "defer"),  # was the anji's own storage entry (0.86), silent on longjing
    ("龙井包装上写18个月 已经过了一个月了 还能喝吗", None, "kb:tea-expired|defer"),  # past its date: not how long it keeps
    ("龙井开封已经过了一个月了 还能喝吗", None, "kb:longjing-shelf-life|defer"),  # a month opened: not past its date
])
def test_near_entries_that_do_not_answer_what_is_asked(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by in expected.split("|")


def test_a_discount_asked_of_a_product_is_no_use_its_description_states(knowledge):
    answer = knowledge.answer("公司要买100盒 能便宜点吗", context="puer-mini-tuo")
    assert answer.answered_by == "kb:payment-corporate"


def test_a_tea_named_after_a_teapot_asks_what_the_pot_may_brew(knowledge):
    """After a pot, "泡过岩茶了 还能拿来泡普洱吗" is the pot's question (one kind of tea per pot), not how pu'er is brewed;
    how to brew pu'er, asked there, is still the brewing entry's."""
    for question in ("泡过岩茶了 还能拿来泡普洱吗", "能拿来泡绿茶不 还是只能泡乌龙"):
        answer = knowledge.answer(question, context="yixing-xishi-pot")
        assert answer.answered_by == "kb:zisha-new-pot" and "一把壶最好只泡一类茶" in answer.text, (question, answer.text)
    assert knowledge.answer("普洱怎么泡", context="yixing-xishi-pot").answered_by == "kb:tea-brewing"


def test_going_to_see_it_at_the_shop_is_no_question_about_the_product(knowledge):
    """The teapot pulled this to how a new pot is first used."""
    answer = knowledge.answer("can i go ur shop see the teapot first, where is it")
    assert answer.answered_by in ("kb:shop-location", "defer")


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("是不是野生的呀", "matsutake-dried", "catalog:matsutake-dried"),  # its catalog facts say 野生
    ("是真丝的吗", "suzhou-silk-scarf", "catalog:suzhou-silk-scarf"),
    ("是机器做的吗", "suzhou-silk-scarf", "defer"),  # the facts say nothing of machines
    ("是不是坏了", "beef-jerky", "kb:after-sales-quality"),  # a state, not an attribute
    ("how many bowls come in it?", "jdz-linglong-bowls", "catalog:jdz-linglong-bowls"),  # how many: its size
])
def test_an_attribute_the_catalog_states_gets_the_summary(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("腊肉想分成一袋半斤的 分给几个亲戚 能分开真空吗", "kb:vacuum-split"),  # was the bacon's vacuum entry
    ("can you split the bacon into smaller vacuum packs? want to give some to friends", "kb:vacuum-split"),
    ("腊肉能抽真空吗", "kb:sichuan-bacon-vacuum"),  # the product's own entry says as much: it keeps its bonus
])
def test_a_shop_wide_entry_that_says_more_wins_over_the_products_own(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("怀孕五个月了 能吃麻辣兔头吗 好馋", None, "defer"),  # a health matter no entry names, at any score
    ("湖北十堰竹山县寄过去要几天", None, "shipping:湖北"),  # the prefecture around the county is where, too
    ("客服晚上九点还有人吗", None, "kb:shop-hours"),
    ("收到了直接搁柜子里可以吗", "dahongpao", "kb:dahongpao-storage"),  # 搁 and 柜子 ask how to keep it
    ("榴莲饼有吗 想送人", None, "not_sold"),  # the name before 有吗, a clause after it
    ("有没有燕窝 送婆婆", None, "not_sold"),
    ("阳澄湖大闸蟹有吗", None, "not_sold"),  # a long name of things only is still a thing
    ("火腿里面有没有亚硝酸盐", None, "defer"),  # what is in the ham, not goods the shop does not sell
    ("坚果有哪些", None, "catalog:坚果"),
    ("how many cups can i get out of one pu'er cake", None, "defer"),  # no size of a set: how far a cake goes
])
def test_health_places_and_things_asked_for(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("是原味的还是咸的", "badam", "catalog:badam"),  # the summary says 原味: that settles it, though not 咸
    ("is there real beef in the beef jerky", None, "catalog:beef-jerky"),  # what is in it
    ("腊肠想分成几小包真空 分给兄弟几个", None, "kb:vacuum-split"),  # brothers are who it is for
    ("亲 这饼放个七八年没问题吧 想等儿子结婚的时候再拿出来喝", "puer-raw-cake", "kb:puer-raw-cake-shelf-life"),
])
def test_a_choice_settled_what_is_in_it_and_who_it_is_kept_for(knowledge, question, context, expected):
    """How long it keeps is the same for a son's wedding; whether a child may drink it is not (tested above)."""
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("how long will it keep once opened?", "yunnan-coffee", "kb:yunnan-coffee-shelf-life"),  # was the pastries':
    ("are you open on sunday", None, "kb:shop-hours"),  # "opened" read as opening hours dropped the coffee
    ("can my dog eat the beef jerky? he keeps begging lol", None, "defer"),  # what a pet may eat, at any score
    ("乌龙茶跟红茶差在哪", None, "defer"),  # what rock tea is names both and sets neither against the other
    ("茶叶都有啥 给我爸买", None, "catalog:茶叶"),
    ("got durian cake or not?", None, "not_sold"),
    ("有礼品袋吗", None, "kb:gift-wrapping"),  # how the shop wraps a gift, not goods it does not sell
])
def test_opened_pets_differences_and_asking_for_things(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("喂 你好 我想问一下那个大红袍能放多少年啊", None, "kb:dahongpao-shelf-life"),  # 喂, 问: how it was said
    ("这里面是有鸡肉吗 我吃素的", "chicken-biscuits", "catalog:chicken-biscuits"),  # what is in it
])
def test_a_phone_call_opening_and_what_is_inside(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


def test_a_kind_of_tea_gets_its_own_entries_not_another_products(knowledge):
    """"这个熟茶可以放冰箱吗" read 茶 as the family (熟茶 was no family word), and got the 大红袍's storage entry:
    a product's entry answers for a family only when the product is one of it."""
    answer = knowledge.answer("这个熟茶可以放冰箱吗", "ask_storage", "熟茶")
    assert answer.answered_by in ("kb:puer-storage", "kb:puer-ripe-cake-storage", "kb:puer-ripe-cake-shelf-life")
    assert "大红袍" not in answer.text and "普洱" in answer.text


def test_how_many_kinds_with_the_nlus_entity_lists_the_family(knowledge):
    assert knowledge.answer("火腿有哪几种", "ask_product_info", "火腿").answered_by == "catalog:火腿"


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("普洱茶都有什么功效", None, "defer"),  # a health matter, not what kinds the shop has
    ("养生茶有哪些", None, "not:catalog:生茶"),  # 养生茶 is no 生茶
    ("有没有沙 要洗几遍", "boletus-dried", "not:not_sold"),  # after a product, about it: never "we don't sell 沙"
    ("有没有熊猫玩偶", None, "not_sold"),  # 熊猫 is no cat
    ("小孩能喝吗？能放多久", "puer-raw-cake", "not:kb:puer-raw-cake-shelf-life"),  # a child may drink it? is asked
])
def test_review_findings_on_kinds_pets_and_people(knowledge, question, context, expected):
    outcome = knowledge.answer(question, context=context).answered_by
    assert outcome != expected.removeprefix("not:") if expected.startswith("not:") else outcome == expected


def test_a_delay_on_the_way_is_no_storage_question():
    assert asked_aspect("路上耽搁了两天 还能吃吗") == "shelf_life"


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("請問有冇藕粉賣", None, "not_sold"),  # 有冇: 有没有
    ("可唔可以用微信俾錢", None, "kb:payment-methods"),
    ("呢款係邊度產㗎", "dahongpao", "catalog:dahongpao"),  # where it is made: the summary says
    ("呢隻茶幾多錢", "dahongpao", "catalog:dahongpao"),
])
def test_written_cantonese_is_read_as_mandarin(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("广州天河的 邮费多少钱", "shipping:广东"),  # a city's district after it is where it goes, not what is asked
    ("重庆涪陵的 寄过去要多久", "shipping:重庆"),  # (涪陵 is also the pickled mustard's origin)
    ("正山小种怎么冲才好喝", "kb:tea-brewing|defer"),  # how to brew it, which no summary of its taste says
    ("白牡丹咋冲好喝", "kb:tea-brewing|defer"),
])
def test_a_district_after_its_city_and_how_to_brew(knowledge, question, expected):
    assert knowledge.answer(question).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "expected"), [
    ("火腿是不是真空包装", "kb:vacuum-which|kb:jinhua-ham-vacuum|kb:xuanwei-ham-vacuum"),  # not the cured meats' storage
])
def test_vacuum_packing_is_asked_not_how_it_is_packed(knowledge, question, expected):
    """包装 ends last, but 真空包装 asks whether it is vacuum-packed."""
    assert asked_aspect(question) == "vacuum_packing"
    assert knowledge.answer(question).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "expected"), [
    ("有哪些火腿呢", "catalog:火腿"),  # which kinds, asked before the family's word
    ("都卖哪几种茶叶？想送人", "catalog:茶叶"),
    ("有什么茶能降血脂", "defer"),  # a clause goes on: not which kinds but what they do
    ("有哪些火腿 想送人", "catalog:火腿"),  # a space ends a clause too
    ("有啥火腿卖吗", "catalog:火腿"),
])
def test_which_kinds_asked_before_the_family_word_lists_them(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("广式月饼可以放冷冻室保存吗", "defer"),  # its storage entry never names the freezer (nor do the cured meats' help)
    ("玫瑰饼冻起来能放多久", "defer"),
    ("can i freeze the mooncakes", "defer"),
    ("腊肉吃不完可以冷冻吗", "kb:sichuan-bacon-storage|kb:cured-meat-storage"),  # these say to freeze it
    ("普洱茶饼能放冷冻吗", "kb:puer-ripe-cake-storage|kb:puer-raw-cake-storage|kb:puer-storage"),  # "不要放冰箱"
])
def test_the_freezer_is_answered_only_by_an_entry_that_names_it(knowledge, question, expected):
    assert knowledge.answer(question).answered_by in expected.split("|")


@pytest.mark.parametrize(("question", "aspect"), [("腊肉要蒸多久才熟", "cooking"), ("香肠得煮多久", "cooking"),
                                                 ("腊肉能放多久", "shelf_life")])
def test_a_cue_inside_another_still_counts(question, aspect):
    """要蒸 matched first and hid 蒸多久, so how long to steam it was read as how long it keeps."""
    assert asked_aspect(question) == aspect


@pytest.mark.parametrize("text", ["冬天会不会冻坏", "冻干草莓", "支付宝被冻结了", "果冻", "冻顶乌龙"])
def test_freezing_is_the_freezer_only(text):
    assert not FREEZING.search(text)


@pytest.mark.parametrize(("text", "refused"), [("不要放冰箱", True), ("切勿冷藏", True), ("don't refrigerate it", True),
                                               ("要不要放冰箱", False), ("需不需要冷藏", False), ("不需要放冰箱", False)])
def test_only_an_answer_that_keeps_it_out_of_the_fridge_refuses_it(text, refused):
    """A question ("要不要放冰箱") refuses nothing, and "not needed" is no "don't"."""
    assert bool(FRIDGE_REFUSED.search(text)) == refused


def test_families_that_share_a_category_are_one_kind_of_goods(knowledge):
    """腊肉、香肠、火腿 are cured meats: an entry naming them is not about every product; 零食 holds nuts as 坚果 does."""
    families = lambda *words: [(word, knowledge.catalog.family(word)) for word in words]  # noqa: E731
    assert knowledge._kinds(families("腊肉", "香肠", "火腿")) == 1
    assert knowledge._kinds(families("零食", "坚果")) == 1
    assert knowledge._kinds(families("茶叶", "零食", "糕点")) == 3
    storage = next(e for e in knowledge.index.entries if e.id == "cured-meat-storage")
    assert knowledge._families_named(storage) >= set(knowledge.catalog.family("火腿"))
    assert not knowledge._families_named(storage) & set(knowledge.catalog.family("月饼"))


def test_family_words_are_looked_for_in_one_order_in_every_process():
    """Sorted by length only, words of one length came in the order of a frozenset, which changes with the hash seed."""
    assert FAMILY_WORDS_LONGEST_FIRST == sorted(FAMILY_WORDS_LONGEST_FIRST, key=lambda word: (-len(word), word))


@pytest.mark.parametrize(("question", "expected"), [
    ("一饼茶大概能泡多少次", "defer"),  # how to brew it (茶水比 1:15) gives no count of infusions
    ("小沱茶一盒有多少颗", "defer"),  # the summary says 250克/盒 and "一颗一泡", not how many
    ("月饼一个多重啊", "defer"),
    ("小沱茶一盒多少克", "catalog:puer-mini-tuo"),  # 250克/盒
    ("火腿能不能帮我切开分成小袋真空 分给几个亲戚", "kb:vacuum-split"),  # "几个亲戚" asks no count
    ("核桃一箱有多少个", "defer"),  # 1公斤/箱; its "12个月" of shelf life is no count of nuts
    ("普洱一次泡几克", "defer"),  # a dose: neither the list of Pu'er cakes nor "357克/饼" says it
    ("这个茶能泡几泡", "defer"),  # the new pot's "烫两三遍" is how often it is rinsed
    ("熟普一次泡几克", "defer"),  # nor "357 g cake", its English unit
    ("火腿有几个等级", "catalog:火腿"),  # kinds asked: the family's products
])
def test_a_count_asked_is_answered_only_by_a_figure_with_its_unit(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_a_weight_asked_is_answered_with_the_catalogs_weight(knowledge):
    """"月饼一盒多重" was unsure though the catalog says 740 g; a price asked is answered as before, without it."""
    answer = knowledge.answer("月饼一盒多重")
    assert answer.answered_by == "catalog:cantonese-mooncake" and "（4个/盒，约740克）" in answer.text
    english = knowledge.answer("how heavy is the tea set?", language="en")
    assert "(1 teapot + 6 cups, about 1.8 kg)" in english.text, english.text
    price = knowledge.answer("how much is the tea set?", language="en")
    assert "(1 teapot + 6 cups)" in price.text, price.text
    assert "（4个/盒）" in knowledge.answer("广式月饼多少钱").text
    assert "（250克/盒）" in knowledge.answer("大红袍多少钱").text  # a unit that gives its weight keeps it
    for weighed in ("月饼一盒是740克吗", "月饼一盒几个，多重", "月饼一盒多少g"):
        assert "（4个/盒，约740克）" in knowledge.answer(weighed).text, weighed


@pytest.mark.parametrize(("question", "expected"), [
    # one piece of a pack of several: the pack's weight does not say it
    ("月饼一个多重啊", "defer"), ("一个月饼多重", "defer"), ("月饼单个多重", "defer"), ("榨菜一袋多重", "defer"),
    ("小沱茶一颗多重", "defer"),
    # a unit per that piece, or a single thing
    ("宣威火腿一块多重", "catalog:xuanwei-ham"), ("葡萄干一袋多少克", "catalog:turpan-raisins"),
    ("粉彩花瓶一个多重", "catalog:jdz-famille-vase"),
    # 一片 is one cake, 一块 one brick
    ("白茶饼一片多少克", "catalog:white-tea-shoumei"), ("茯砖一块多重", "catalog:anhua-dark-tea"),
    # 个 and 只 count any one piece
    ("宣威火腿一个多重", "catalog:xuanwei-ham"), ("一个白茶饼多少克", "catalog:white-tea-shoumei")])
def test_one_pieces_weight_is_answered_only_by_a_unit_for_that_piece(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "said", "stated"), [
    ("和田骏枣一箱有多少颗", "一箱约30多颗", True), ("和田骏枣一箱有多少颗", "保质期12个月", False),
    ("核桃一箱有多少個", "一箱二十来个", True), ("这饼能泡几泡", "耐泡，能泡十几泡", True),
    ("这饼能泡几泡", "开水烫两三遍", False), ("牛肉干一包多少斤", "一斤装", True), ("牛肉干一包多少斤", "半斤装", True),
    ("普洱一次泡几克", "每次投茶7克左右", True), ("普洱一次泡几克", "357克/饼", False),
    ("普洱一次泡几克", "357克一饼", False), ("普洱一次泡几克", "357 g cake", False), ("一次放多少克茶叶", "357克/饼", False),
    ("一次泡几克", "5g/次", True), ("一次泡几克", "投茶量：5-7克/泡", True), ("一次泡几克", "5克每泡", True),
    ("一次泡几克", "5克/砖", False), ("一次泡几克", "1 kg brick", False), ("能泡几泡", "可冲八泡以上", True), ("能泡几泡", "能冲十几泡", True), ("能泡几次", "老白茶可以煮三次", True),
    # no count asked: whatever is said does
    ("鲜花饼有几个口味", "玫瑰味", True), ("火腿有几个等级", "宣威火腿", True), ("普洱茶有几个系列", "生茶饼", True), ("是多重包装吗", "真空包装", True), ("分给几个亲戚", "可以分装", True)])
def test_what_states_a_count(knowledge, question, said, stated):
    assert knowledge._states_count(question, lambda: said) is stated


def test_sending_a_product_abroad_is_no_question_of_its_price(knowledge):
    """"can you send the spicy sausages to Canada?" got the sausages' price; it asks about shipping abroad (or the
    bot is unsure), and a place the shop has a rate for is quoted."""
    abroad = knowledge.answer("can you send the spicy sausages to Canada? my husband misses them", language="en")
    assert abroad.answered_by in ("kb:shipping-overseas", "defer") and "¥98" not in abroad.text, abroad.text
    assert knowledge.answer("can you send the jerky to my mom in Shanghai", language="en").answered_by == "shipping:上海"
    gift = knowledge.answer("how much are the spicy sausages? I want to send them to my dad", language="en")
    assert gift.answered_by == "catalog:sichuan-sausage", gift.text  # sent to a person: the price is asked


@pytest.mark.parametrize(("question", "expected"), [
    ("咖啡豆是哪天烘的 新鲜不", "defer"),  # how long the beans keep gives no roast date
    ("龙井具体哪天采的 明前几天", "defer"),
    ("咖啡豆的烘焙日期是哪天 新鲜吗", "defer"),
    ("点心是新鲜的不 啥时候做的", "kb:pastry-shelf-life"),  # an entry whose phrasings ask when it was made
    ("月饼什么时候做活动", "defer"),  # a sale, not when they were made
    ("咖啡豆能放多久", "kb:yunnan-coffee-shelf-life")])
def test_when_it_was_made_is_answered_only_by_an_entry_that_says_so(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("我是老顾客了 有没有折扣啊", "defer"),  # the coupon entry speaks of new customers
    ("熟客有折扣吗", "defer"), ("is there a discount for returning customers", "defer"),
    ("新客有折扣吗", "kb:payment-coupon"),
    ("我是老顾客 怎么退货", "kb:after-sales-return"), ("老客户能开发票吗", "kb:payment-invoice"),  # no offer there
    # a father-in-law is whom it goes to, not what is asked
    ("寄到哈尔滨要几天 给我老丈人寄点香肠", "shipping:黑龙江")])
def test_a_returning_customer_is_asked_and_a_relative_is_not(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "language"), [
    ("能寄德国吗", "zh"), ("可以寄到美国吗", "zh"), ("Do you ship to Germany? want to buy some tea for my mother in law", "en"),
    ("ship to Singapore? how much ah", "en"), ("can you ship to the US", "en"), ("寄新加坡运费多少", "zh"),
    ("美国多久能到", "zh"), ("can you ship to Turkey", "en")])
async def test_any_country_abroad_is_the_overseas_entry(knowledge, question, language):
    message, _events = await reply(knowledge, question, language=language)
    expected = "其他海外地区" if language == "zh" else "To other overseas destinations"
    assert expected in message["text"], message["text"]


def test_what_counts_as_a_country_abroad():
    assert as_abroad("能发日本吗") == "能发海外吗"
    assert as_abroad("ship to the US?") == "ship to the overseas?"
    assert as_abroad("Hi I'm in Singapore, can I pay with my Visa card?") == "Hi I'm in overseas, can I pay with my Visa card?"
    assert as_abroad("香肠能寄去Singapore吗") == "香肠能寄去海外吗"  # an English name in a Chinese message (dev20)
    assert as_abroad("能发到 Canada 吗") == "能发到 海外 吗"
    for kept in ("send us a photo", "内蒙古风干牛肉干", "Inner Mongolia beef", "the chile sauce ships?", "寄到黑山县", "朝鲜族",
                 # inside a place, before a product, or no destination
                 "上海地区包邮吗", "寄到湖南非常慢吗", "江苏丹阳包邮吗", "寄到内蒙古巴彦淖尔要几天", "有美国大杏仁吗 能寄吗",
                 "美国人能喝普洱吗", "is this tea from japan?", "LET US KNOW WHEN IT SHIPS", "send it to us"):
        assert as_abroad(kept) == kept


@pytest.mark.parametrize(("question", "expected"), [
    ("寄德国包邮吗", "defer"), ("美国能冷链吗", "defer"),  # the mainland's fee and cold chain say nothing of abroad
    ("上海地区包邮吗", "shipping:上海"), ("江苏丹阳包邮吗", "shipping:江苏")])
def test_abroad_is_answered_only_by_an_entry_that_names_it(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("生普放几年能升值多少", "defer"),  # how long it keeps promises no gain in value
    ("普洱生茶现在买了放着 以后会升值吗", "defer"),
    ("will the raw pu'er cake go up in value, is it a good investment?", "defer"),
    ("老婆饼保值期几天啊", "kb:wife-cake-shelf-life")])  # 保值期 is a typo of 保质期, no value asked
def test_whether_it_gains_value_is_for_the_shops_own_words(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize("question", ["店在什么地方", "请问贵店的实体店在什么地方？周末也营业吗？", "你们在啥地方"])
def test_what_place_asks_where(knowledge, question):
    """什么地方 is 哪里 and 贵店 is 你们店: the shop's address answers (which gives its hours too)."""
    answer = knowledge.answer(question)
    assert answer.answered_by == "kb:shop-location" and "翠湖南路18号" in answer.text, answer.text


@pytest.mark.parametrize("question", ["您好 公司要订一百盒左右 有没有优惠啊", "您好 公司要订100盒左右 有没有优惠啊",
                                      "公司要买两百盒 有没有优惠"])
def test_a_number_in_characters_is_said_like_one_in_digits(knowledge, question):
    """一百盒 is 100盒: how many is how the customer says a bulk order, not a thing the entry leaves out."""
    answer = knowledge.answer(question)
    assert answer.answered_by == "kb:payment-corporate" and "对公转账" in answer.text, answer.text


@pytest.mark.parametrize(("question", "expected"), [
    ("收到的茶饼碎了好几块 下次还敢买吗", "kb:after-sales-damaged"),  # 好几块, 两只, 三样: how many, with its measure word
    ("买了三样东西 怎么只到了一个快递 剩下的呢", "kb:shipping-combine")])
def test_how_many_pieces_is_no_thing_asked(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("发错货了 我要的熟茶 你们发成生茶了", "kb:after-sales-wrong-item"),  # the teas named are what was sent, not asked about
    ("我下的熟普 结果寄来的是生普", "kb:after-sales-wrong-item"), ("我买的灰枣 寄来的是骏枣", "kb:after-sales-wrong-item"),
    ("牛肉干能寄成都吗", "shipping:四川")])  # 寄成都 is a place, not "sent as"
def test_what_was_sent_instead_is_the_wrong_item_entry(knowledge, question, expected):
    answer = knowledge.answer(question)
    assert answer.answered_by == expected, answer.text
    if expected == "kb:after-sales-wrong-item":
        assert "补发正确的" in answer.text


@pytest.mark.parametrize(("question", "expected"), [
    ("茶叶拆开喝了一泡 不太喜欢 能退吗", "kb:after-sales-return"),  # was whether old tea keeps: returning is asked
    ("丝巾没拆 能换个花色吗", "kb:after-sales-exchange"), ("丝巾颜色不太喜欢 还没拆 能换一条不", "kb:after-sales-exchange")])
def test_returning_or_exchanging_a_product_is_the_shops_policy(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_a_shop_wide_matter_no_entry_covers_is_unsure_not_a_product_kinds_entry(knowledge):
    """When the shop-wide entries fail a return question, neither the tea family's entry on old tea nor the list of
    the family's products answers it."""
    assert knowledge.answer("茶叶放了半年没喝 能退吗").answered_by == "defer"
    assert knowledge.answer("茶叶喝了两泡 口感一般 能退吗").answered_by == "defer"


@pytest.mark.parametrize(("question", "expected"), [
    ("腊肉下锅要煮多长时间", "defer"),  # was the bacon's shelf life: "吃前蒸熟" says to cook it, not for how long
    ("腊肉要蒸熟了再吃吗", "kb:sichuan-bacon-storage"),  # whether to cook it, which its keeping entry says
])
def test_how_long_to_cook_it_is_answered_only_with_a_time(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("丝巾洗了会掉色吗", "defer"),  # was the scarf's care (hand-wash): it never says the colour holds
    ("青花瓷杯子用久了会掉色吗", "defer"),
    ("能用apple pay付款吗", "defer"),  # was the list of payments, which names no Apple Pay
    ("丝巾能扔洗衣机洗吗", "kb:suzhou-silk-scarf-care"),  # its care names the washing machine (机洗)
    ("玲珑碗可以放微波炉吗", "kb:jdz-linglong-bowls-care"),
    ("do you take paypal", "kb:payment-methods"),
])
def test_a_way_of_care_or_payment_is_allowed_only_by_an_entry_that_names_it(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_washing_machine_is_read_whole_as_a_care_word():
    """洗 came first among the care cues and cut 洗衣机 down to 衣机, a thing no entry names."""
    assert ASPECT_CUES["care"].sub(" ", "丝巾脏了能丢洗衣机里洗吗").split() == ["丝巾脏了能丢", "里", "吗"]


@pytest.mark.parametrize(("question", "expected"), [
    ("西施壶盖子摔了个缺口 能修补吗", "defer"),  # was the pot's packing: mending is a service the shop offers or not
    ("壶盖磕掉一块 你们能修不", "defer"),  # was the entry on goods broken in transit
    ("茶具里的杯子摔了一个 能单买一个吗", "defer"),  # one piece of a set
    ("抬头写错了 发票能重开吗", "defer"),  # was the invoice entry, which says how to get one, not a second
    ("收到的碗碎了一个", "kb:after-sales-damaged"),
    ("可以开发票吗", "kb:payment-invoice"),
])
def test_mending_a_piece_or_reissuing_an_invoice_is_for_the_shop_to_say(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize("question", ["能放多久啊", "开封了要放冰箱吗", "怎么保存比较好"])
def test_how_to_keep_it_with_no_product_named_is_no_products_entry(knowledge, question):
    """In a fresh chat nothing says what they have: how the raw Pu'er or the cured meats keep is no answer."""
    assert knowledge.answer(question).answered_by == "defer"
    assert knowledge.answer(question, context="dengying-beef").answered_by.startswith("kb:dengying-beef-")


@pytest.mark.parametrize(("question", "expected"), [
    ("单位过节要订一百来份 能便宜点不", "kb:payment-corporate"),  # was unsure: 过节 (when) counted as a word asked
    ("端午单位要发五十份 有优惠不", "kb:payment-corporate"),  # 端午 likewise
    ("第一次买有啥优惠不", "kb:payment-coupon"),
])
def test_a_bulk_order_is_the_corporate_entrys_whenever_it_is_for(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


def test_when_and_for_whom_are_no_words_asked():
    """Like English's context words, a festival or a company says when or for whom, not what is asked."""
    assert [word for word, _thing in content_words("单位过节要订一百来份 能便宜点不")] == ["订", "便宜"]


def test_who_a_parcel_goes_to_is_no_word_asked(knowledge):
    """A grandmother is asked of when whether she may eat it is; a parcel sent to her is the gift entry's."""
    assert knowledge.answer("能直接寄到我外婆家吗 别放价格单").answered_by == "kb:shipping-gift-direct"
    assert knowledge.answer("我外婆能吃牛肉干吗").answered_by == "defer"


@pytest.mark.parametrize(("question", "expected"), [
    ("快递到了 打开一看茶壶盖子裂了 心疼死了", "kb:after-sales-damaged"),  # the report with how they feel
    ("the parcel came today and the vase has a crack down the side", "kb:after-sales-damaged"),
    ("收到的松茸里有好几条小虫子 太恶心了", "kb:after-sales-quality"),
    ("我下单的是熟普 你们寄成生普了 我爸不喝生的", "kb:after-sales-wrong-item"),
    ("茯砖上黄色的点点是发霉了吗", "defer"),  # 金花 is no mould: whether it is the trouble is asked
    ("壶盖磕了一个小口 能修吗", "defer"),  # mending is the shop's to offer
])
def test_a_reported_trouble_gets_the_after_sales_entry_on_it(knowledge, question, expected):
    """Reports of broken, spoiled or wrong goods told with more words than any phrasing had were unsure."""
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "trouble"), [
    ("收到碎了两个碗", "damaged"),
    ("you sent me the wrong flavour", "wrong_item"),
    ("茶叶一股霉味", "spoiled"),
    ("瓷器寄过来会不会碎啊", None),  # feared: how it is packed, not what now
    ("what if it arrives broken", None),
    ("老白茶饼怎么撬开不碎", None),
    ("红枣里面有小虫了 还能吃吗", None),  # whether it is still safe is the shop's to judge
    ("发错了 而且还碎了一个", None),  # two troubles: no one entry
    ("寄成都的那箱碎了两个碗", "damaged"),  # 寄成都 is sending to Chengdu, not 寄成 (sent as the wrong one)
    ("错发了一款给我", "wrong_item"),
    ("收到的核桃 敲开好几个里面是黑的", "spoiled"),
    ("冬虫夏草多少钱一克", None),  # a caterpillar fungus, no bugs
    ("一岁半宝宝能吃核桃吗 要不要磨碎", None),  # ground for a child, not broken
    ("这么热的天 香肠寄过来不会臭了吧", None),  # feared on the way (was the quality after-sales entry)
    ("i ordered da hong pao but got rougui instead", "wrong_item"), ("got pu'er instead", "wrong_item"),
    ("i ordered two weeks ago but received nothing", None),  # nothing came: no wrong item
    ("陈皮怎样存先不会发霉", None),  # "陳皮點樣存先唔會發霉" simplified: how to keep it so it won't go mouldy
    ("i ordered on monday but you sent it to the wrong address", None),
    ("送新婚的 包装靠谱不 别到了就碎", None), ("千万别压扁了", None),  # harm not wished for
    ("收到的茶饼特别碎", "damaged"), ("收到有个别碎了", "damaged"),  # 特别, 个别: no 别 that wishes
    ("备注了别压扁 结果还是压扁了", "damaged"), ("别提了杯子碎了", "damaged"),
])
def test_only_a_trouble_that_happened_is_a_report(question, trouble):
    assert reported_trouble(question) == trouble


async def test_a_damage_report_tells_the_customer_what_to_do(knowledge):
    message, _events = await reply(knowledge, "收到的茶饼碎成好几块了 😭 外箱看着倒是好好的")
    assert message["custom"]["techan"]["kb"][0]["id"] == "after-sales-damaged"
    assert message["text"].startswith("非常抱歉！请在签收后48小时内拍下外箱和商品的照片")


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("is it spicy at all?", "cold-eaten-rabbit", "catalog:cold-eaten-rabbit"),  # 干辣椒: the Chinese words say so
    ("is it salty?", "wife-cake", "defer"),  # nothing says
    ("are the matsutake wild or farmed?", None, "catalog:matsutake-dried"),  # "Wild matsutake": one side settled
    ("is the ham cooked or raw?", "jinhua-ham", "defer"),  # neither side is in what the summary says
    ("does it taste sweet or not?", "white-tea-baimudan", "catalog:white-tea-baimudan"),  # "or not" is no choice
])
def test_english_taste_and_either_or_questions_get_the_summary_when_it_says(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("我平时不怎么喝茶 这个适合我吗", "white-tea-baimudan", "catalog:white-tea-baimudan"),  # 适合不太喝茶的年轻人入门
    ("is it ok for a beginner?", "white-tea-baimudan", "catalog:white-tea-baimudan"),
    ("is it ok for a beginner?", "puer-mini-tuo", "defer"),  # its description says nothing of whom it suits
])
def test_whom_it_suits_is_the_summarys_when_the_description_says(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize("question", ["有小样吗 想先尝尝", "有样茶吗 想先尝尝", "do you have samples?"])
def test_a_sample_is_the_shops_sample_entry_not_goods_asked_for(knowledge, question):
    """小样 was "not sold", 样茶 the list of every tea."""
    assert knowledge.answer(question).answered_by == "kb:product-sample"


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("包裹好像丢了 怎么办", None, "defer"),  # was the entry on broken goods: nothing is broken
    ("这款喝着是什么味道", "rougui", "catalog:rougui"),  # was the entry on food that tastes off
    ("我买的灰枣 寄来的是骏枣", None, "kb:after-sales-wrong-item"),
])
def test_an_entry_on_a_trouble_answers_only_a_message_that_names_it(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("月饼是不是现做的 新鲜吗", "kb:pastry-shelf-life"),  # was the mooncake's shelf life: how long, not when made
    ("are the flower cakes freshly made?", "kb:pastry-shelf-life"),
])
def test_whether_it_is_freshly_made_is_the_entry_that_says_when_it_was_made(knowledge, question, expected):
    answer = knowledge.answer(question)
    assert answer.answered_by == expected
    assert "一周内生产" in answer.text


@pytest.mark.parametrize(("question", "expected"), [
    ("紫砂壶可以拿来泡咖啡吗", "defer"),  # coffee is no tea: how a new pot is opened does not say
    # one tea asked alone: the entry's "一把壶最好只泡一类茶" says nothing of whether a pot suits pu'er (dev16, dev17)
    ("紫砂壶能泡普洱吗", "defer"),
    ("西施壶泡普洱合适吗", "defer"),  # nor does how to brew tea, which is about teas, not the teapots named 茶壶
    ("紫砂壶泡了普洱还能泡白茶吗", "kb:zisha-new-pot"),  # two teas in one pot: that is what it says
    ("新买的紫砂壶 第一次泡普洱前要咋弄", "kb:zisha-new-pot"),  # how a new pot is opened, whatever tea follows
])
def test_an_entry_on_one_family_answers_for_another_only_when_it_speaks_of_its_kind(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("陕西神木 运费几块钱", "shipping:陕西"),  # 几块钱 asks the fee, as 多少钱 does
    ("赤峰包邮不 我买了三百多", "shipping:内蒙古"),  # the quote says from what sum it is free
    ("五月份想寄腊肉去三亚 那边热得很 冷链要加多少", "shipping:海南"),  # a month is when, not what is asked
    ("过年几号停发货啊", "defer"),  # 几号 asks a date the dispatch entry does not give
    ("周末去昆明玩 想顺路去你们店里 地址发我下", "kb:shop-location"),  # why they come is no aspect
    ("有客服电话吗 我想直接打过去说", "defer"),  # a way to reach the shop, not goods it does not sell
])
def test_numbers_times_and_reasons_are_how_it_is_said(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("收到的茶葉有一股霉味 怎麼辦", "kb:after-sales-quality"),  # was whether old tea is still good
    ("订的铁观音 寄来的是一盒大红袍 咋回事", "kb:after-sales-wrong-item"),  # 咋回事 complains, it asks no how
    ("ordered 2 boxes of mooncakes but only 1 came", "kb:after-sales-wrong-item"),
    ("鲜花饼是现做的吗 生产日期新不新鲜", "kb:pastry-shelf-life"),  # 新不新鲜 asks, it reports nothing
    ("u guys have fresh lychees?", "not_sold"),
    ("我在澳門 可以用信用卡付款嗎", "kb:payment-methods"),  # where the customer is, not what is asked
    ("陈皮在广州回南天会不会长霉啊 要怎么放", "kb:xinhui-chenpi-storage"),  # the city it is kept in, and its weather
    ("公司年会要两百份礼盒 预算三四万 能打折不", "kb:payment-corporate"),  # what for and the budget are no aspect
])
def test_a_trouble_told_is_the_after_sales_entrys_and_where_one_is_no_aspect(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("i run a small cafe in toronto, can you supply the coffee beans every month at a wholesale price", None, "defer"),
    ("上次买的腊肠特别好吃 还能买到同一批的吗", None, "defer"),  # the same batch: no summary says
    ("壶到了 洗洗就直接泡可以吗 还是要先弄啥", "yixing-shipiao-pot", "kb:zisha-new-pot"),  # was the pot's summary
    ("is this spicy? my kids cant eat spicy at all", "dengying-beef", "catalog:dengying-beef"),  # cant asks nothing
])
def test_a_summary_that_leaves_most_of_the_question_unsaid_does_not_answer(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("能发顺丰到付吗", "defer"),  # the fee paid on arrival: the courier entry does not say
    ("寄江西九江能发顺丰不 别的快递我们这慢", "kb:shipping-courier"),  # a courier named is no quote's (顺丰 is a word)
    ("能帮我代购别家的东西一起寄吗", "defer"),  # buying elsewhere: combining parcels does not say
    ("退貨有運費險嗎", "defer"),  # return shipping insurance: the return entry does not name it
    ("支持货到付款吗", "kb:payment-cod"),  # cash on delivery is the COD entry's
    ("加急 明天能到北京吗 加钱也行", "defer"),  # a rush the quote does not offer
    ("新人券能跟中秋满减一起用吗", "defer"),  # two offers together: the coupon entry does not say
    ("茶具签收第四天才拆 有个杯子有条裂纹 还管吗", "defer"),  # whether it is still covered is the shop's to say
])
def test_a_service_or_a_way_the_entry_does_not_name_is_not_answered(knowledge, question, expected):
    assert knowledge.answer(question).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("这把壶能泡咖啡吗", None, "defer"),  # was the video call's entry: it names pots and brewing, not what is asked
    ("熟茶饼拆了以后装啥罐子好", None, "defer"),  # was how every pu'er keeps, which names no jar
    ("能视频看看这把壶吗", None, "kb:video-show"),
])
def test_a_near_entry_answers_only_a_question_that_asks_with_its_words(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("opened the jinhua ham yesterday, how many days have i got to finish it", None, "kb:jinhua-ham-shelf-life"),
    ("live in guangzhou, will the walnuts go rancid in summer", None, "kb:xinjiang-walnut-storage"),  # where one lives
])
def test_english_ways_to_ask_how_long_it_keeps_and_how_to_keep_it(knowledge, question, context, expected):
    assert knowledge.answer(question, context=context).answered_by == expected


def test_cold_chain_is_a_shipping_matter_whatever_product_came_before(knowledge):
    """It was the ham's shelf life: 冷链 was two characters, 链 a noun the shelf-life entry's high score let pass."""
    assert knowledge.answer("这个要不要冷链 夏天寄过去会不会坏", context="xuanwei-ham").answered_by == "kb:shipping-cold-chain"


@pytest.mark.parametrize(("question", "context", "expected", "said"), [
    # who it is for, the occasion and the day are no part of the quote's question
    ("寄到湛江 我爸生日下周三 赶得上吗", None, "shipping:广东", "寄到湛江一般"),
    ("上海浦东多久到 给客户送中秋礼", None, "shipping:上海", "天送达"),
    ("my wife's bday is saturday, if i order today to dalian will it make it", None, "shipping:辽宁", "Dalian"),
    # harm feared on the way is the packing's to answer, not a quote
    ("寄到哈尔滨 路上会不会碎啊😟", "jdz-blue-tea-set", "kb:jdz-blue-tea-set-packing", "泡沫内托"),
    # a year no summary gives, and a person is no goods
    ("熟普是哪年的茶", None, "defer", ""), ("晚上十點還有真人嗎", None, "defer", ""),
    # "行不" asks whether it may go in the fridge, which vacuum packing does not say; which one he would like is a judgement
    ("给我爸买的生普 到了塞冰箱里行不", None, "defer", ""),
    ("which would my dad like more, the shuixian or the shoumei", None, "defer", ""),
    # the jar a product comes in is no way to keep it; "开了袋子" is opened, and "开袋后当天吃完" says how long then
    ("how much is the matsutake jar n how many grams", None, "catalog:matsutake-dried", "Matsutake"),
    ("和田枣开了袋子塞冰箱 能存几个月啊", None, "kb:hetian-jujube-shelf-life", "保质期"),
    ("兔头开了袋 第二天还能吃吗", None, "kb:rabbit-heads-shelf-life", "当天吃完"),
    # dev14: another flavour than the one ordered, a loyalty programme is no goods, 油费 is 邮费, a 70th birthday
    ("要的香辣牛肉干 到手是原味的 咋回事", None, "kb:after-sales-wrong-item", ""),
    ("do you have a loyalty program", None, "defer", ""),
    ("亲 寄海南三亚油费多少 几天能到啊", None, "shipping:海南", "寄到三亚"),
    ("我爸七十大寿 寄宣威火腿去哈尔滨要几天", None, "shipping:黑龙江", "寄到哈尔滨"),
    # dev15 and dev16: a group's discount, a count of infusions, an item short, an appointment, this year's crop, a
    # currency, a warranty, refusing a parcel are not said; a swollen bag is a quality problem
    ("do you have a discount for students", None, "defer", ""), ("一泡茶能冲几道啊", None, "defer", ""),
    ("拍了两罐巴旦木 只来了一罐", None, "kb:after-sales-wrong-item", "补发"),
    ("到店自提要提前预约不", None, "defer", ""), ("核桃是今年新下来的吗", None, "defer", ""),
    ("能用美元付款吗", None, "defer", ""), ("茶具有质保吗 保几年", None, "defer", ""),
    ("快递送来箱子破了个洞 我能直接拒收吗", None, "defer", ""),
    ("腊肉的真空袋漏气了 鼓起来了", None, "kb:after-sales-quality", "质量问题"),
    # dev17: gone soft is the shop's to judge; whether it will go mouldy is no mould found; the wrong tea told after a look
    ("杏仁饼开了几天变软了 还能吃不", None, "defer", ""), ("会发霉吗", "xinhui-chenpi", "defer", ""),
    ("拍的布朗山熟饼 到手一看是生饼啊", None, "kb:after-sales-wrong-item", "补发"),
    # dev18: no entry gives the address a return goes to; a haggle is no first order, unless it is one; a pot for
    # green tea is the shop's to judge
    ("退货寄到哪个地址", None, "defer", ""), ("whats the return address", None, "defer", ""),
    ("买两饼能便宜点不", None, "defer", ""), ("老板 便宜点呗 我一次买两饼", "puer-raw-cake", "defer", ""),
    ("不是第一次买了 便宜点呗", None, "defer", ""), ("东西寄回哪里", None, "defer", ""),
    ("退款退回哪 要几天到账", None, "kb:after-sales-refund-time", "原路退回"),  # the money, not the parcel
    ("what address do i send the return to", None, "defer", ""),
    ("hw big is this pot", "yixing-xishi-pot", "catalog:yixing-xishi-pot", "220 ml"),  # how, typed short
    # split into bags: the shop's entry on splitting, not the bacon's on vacuum packing it whole (dev14, dev19)
    ("亲 在不在 腊肉能帮我切成半斤一袋抽真空吗", None, "kb:vacuum-split", "250克或500克"),
    ("腊肉想分给三家亲戚 能切开分几袋抽真空不", None, "kb:vacuum-split", "分装"),
    ("腊肉能抽真空吗", None, "kb:sichuan-bacon-vacuum", "免费真空"), ("can i split the payment", None, "kb:payment-installment", "instalments"),
    ("老闆 算便宜一點啦 第一次跟你買", None, "kb:payment-coupon", "首单立减20元"),
    ("拿来泡绿茶合适吗", "yixing-xishi-pot", "defer", ""),
    ("i ordered da hong pao but got rougui instead", None, "kb:after-sales-wrong-item", "photo"),  # the wrong tea told
    # how to brew tea says boiling of aged white tea only (dev8, dev16)
    ("能煮着喝吗", "dahongpao", "defer", ""), ("这个可以煮着喝吗", "anhua-dark-tea", "defer", ""),
    ("能煮吗", "white-tea-baimudan", "kb:tea-brewing", "老白茶还可以煮着喝"),
    ("can i boil white tea", None, "kb:tea-brewing", "simmered"),
    # dev20: freezing asked as 冻起来 is keeping it; 洗碗机洗 is the dishwasher, not the washing machine's 机洗
    ("腊肠收到了一时吃不完可以冻起来吗", None, "kb:sichuan-sausage-storage", "开封后分装冷冻"),
    ("能放洗碗机洗吗", "jdz-blue-tea-set", "kb:jdz-blue-tea-set-care", "可以放洗碗机"),
    # how long the shop has been at it is not how long tea keeps; a coupon past its date is not what coupons there are
    ("老板做茶多少年了", None, "defer", ""), ("优惠券过期了还能用吗", None, "defer", ""),
    ("你们自己做的腊肠放几年没问题", None, "kb:sichuan-sausage-shelf-life", "保质期"),
    ("how long have you aged this pu'er", None, "kb:puer-shelf-life", "years"),
    # how old or able the customer is: why they ask, not what (unless whether they may eat it is asked)
    ("我年纪大了不会用手机付钱 能不能东西到了再给钱", None, "kb:payment-cod", "暂时不支持货到付款"),
    ("我七十多了不太会弄 那个普洱茶饼要怎么泡 放多少茶叶", None, "kb:tea-brewing", "普洱和白茶饼可以沸水冲泡"),
    ("我是老年人眼睛不好看不清 你们那个鲜花饼一盒有几个", None, "catalog:flower-cake-rose", "10枚/盒"),
    ("我七十多了 鸡仔饼能吃吗", None, "defer", ""), ("我八十份要开发票", None, "kb:payment-invoice", "发票"),
    # a size, a roast, added sugar, what is inside: the catalog summary says them
    ("宋錦絲巾尺寸多大", None, "catalog:suzhou-silk-scarf", "90×90厘米"),
    ("is it a dark roast", "yunnan-coffee", "catalog:yunnan-coffee", "medium roast"),
    ("这个葡萄干加了糖没有", "turpan-raisins", "catalog:turpan-raisins", "无添加糖"),
    ("鸡仔饼里面真的有鸡肉吗", None, "catalog:chicken-biscuits", "没有鸡肉"),
    ("香肠能寄去Singapore吗", None, "kb:shipping-overseas", "非肉类商品"),
    # dev21: what the product is asked after it is its summary's, not a shop-wide entry's that says the word (口味),
    # unless an aspect of keeping is asked; 多钱 is the price
    ("啥口味", "flower-cake-gift", "catalog:flower-cake-gift", "四种口味"),
    # ... but a shop-wide entry that asks with the question's words stays its answer, and so does a remedy asked
    ("正宗吗", "dahongpao", "kb:after-sales-authentic", "假一赔十"),
    ("拍错口味了怎么办", "flower-cake-gift", "kb:after-sales-exchange", "换货"),
    ("how much to gift wrap it", "jdz-blue-tea-set", "kb:gift-wrapping", "free gift-box"),
    ("不要了 太多钱了", "mooncake", "kb:after-sales-cancel", "取消"),  # 太多钱: too much money, not how much
    ("vacuum sealing costs extra?", "beef-jerky", "kb:vacuum-free", "free"), ("多钱", "dianhong-golden", "catalog:dianhong-golden", "168元"),
    # troubles told in more ways: only one box came, went bad, a hair inside, a vacuum bag that leaks, 咋整 (what now)
    ("ordered 2 box wife cake but only got 1 box leh, the other one where?", None, "kb:after-sales-wrong-item", "photo"),
    ("the dried figs smell sour and kinda fizzy, think they went bad", None, "kb:after-sales-quality", "refund"),
    ("鲜花饼吃到一半发现里面有根头发🤮", None, "kb:after-sales-quality", "质量问题"),
    ("老顾客了😭 这次的麻辣香肠有两袋真空漏气 袋子都松了 咋整", None, "kb:after-sales-quality", "质量问题"),
    ("我拍的滇红 寄来的是铁观音 咋整", None, "kb:after-sales-wrong-item", "补发"),
    # ... and not hair asked of, a fizz asked, a whole box (整箱) or how to keep it from harm (咋整才不碎)
    ("吃核桃对头发好吗", None, "defer", ""), ("能扎头发吗", "suzhou-silk-scarf", "defer", ""),
    ("is it fizzy?", "yunnan-coffee", "defer", ""),
    ("怎么整箱寄不碎", "jdz-blue-tea-set", "kb:jdz-blue-tea-set-packing", "泡沫内托"),
    # keeping the wrong item for the difference is the shop's to say; spoiling on the way is the cold chain's, not a
    # quote; "got people" asks for no goods
    ("发错的那个我想留着 补个差价行不行", None, "defer", ""),
    ("夏天寄腊肉去广州 路上会不会臭掉", None, "kb:shipping-cold-chain", "冷链"),
    ("got people reply at night? like 10pm can?", None, "defer", ""),
    # dev22: who it is sent to is no word a quote must say (姥姥, 舅); whether it fits is the size the summary gives;
    # harm not wished for (别…碎) is no report; Dragon Well is the Longjing; a cold chain asked where none goes is said so
    ("送姥姥的 寄哈尔滨几天能到", None, "shipping:黑龙江", "寄到哈尔滨"), ("给我舅寄点茶 乌鲁木齐运费多少", None, "shipping:新疆", "运费"),
    ("花瓶多高 我妈家那个柜子放不放得下", "jdz-famille-vase", "catalog:jdz-famille-vase", "高35厘米"),
    ("花瓶放柜子里行吗", "jdz-famille-vase", "kb:jdz-famille-vase-care", "软布"),
    ("送新婚的 包装靠谱不 别到了就碎", "jdz-linglong-bowls", "kb:jdz-linglong-bowls-packing", "泡沫内托"),
    ("do you have dragon well tea? my teacher loves it", None, "catalog:longjing", "Longjing"),
    ("寄到拉萨给我舅 火腿能走冷链吗", None, "shipping:西藏", "拉萨暂不支持冷链"),
    ("can you send ham to lhasa by cold chain?", None, "shipping:西藏", "cold-chain delivery does not reach Lhasa"),
    ("我侄子三岁能喝普洱吗", None, "defer", ""),  # whether a child may drink it is asked: 侄子 stays a word to answer
    # dev23: 有个月饼发霉了 (there is one) asks for no goods; a cold chain to a place named is the quote's; where a
    # parcel is stuck is no destination; a message sent by mistake is no wrong item; an app or a website is no goods
    ("收到了 谢谢 但是盒子里有个月饼发霉了", None, "kb:after-sales-quality", "质量问题"),
    ("发长沙走冷链要加多少", "sichuan-bacon", "shipping:湖南", "冷链费20元"),
    ("快递5天了还显示在昆明没动 帮我查查", None, "kb:shipping-tracking", ""),
    ("my parcel has been stuck in guangzhou for 4 days whats going on", None, "defer", ""),
    ("抱歉刚才发错了 我想问的是火腿能帮我分成小袋真空吗", None, "kb:vacuum-split", "分装"),
    ("你们有小程序吗 每次找聊天框好麻烦", None, "defer", ""), ("do you have an english website", None, "defer", ""),
    # ... but goods sent wrong stay a report, apples stay goods, and keeping it cold somewhere is no quote (review)
    ("刚才拆开发错了 我买的是生普", "puer-raw-cake", "kb:after-sales-wrong-item", ""),
    ("do you have dried apples", None, "not_sold", ""), ("我在三亚 牛肉干需要冷藏吗", None, "kb:beef-jerky-storage", ""),
    # dev24: a story told before the question is not asked (the product it names is under discussion), unless what to do
    # about it is; what is asked again after a slip is all that is asked
    ("我表姐下个月结婚，我本来买了一套玲珑碗当礼物，结果她说已经有人送了一模一样的。东西我还没拆封，收到才3天，能不能退？", None,
     "kb:after-sales-return", "7天无理由"),
    ("同事上次从广州出差回来带了鸡仔饼，我们组里有个同事是回族，不吃猪肉。我有点担心，这个到底是用什么做的？", None,
     "catalog:chicken-biscuits", "鸡仔饼"),
    ("Just got back from a 3 week trip to Japan and found the longjing sitting on the kitchen counter. Was I supposed to "
     "keep it in the fridge?", None, "kb:longjing-storage", "fridge"),
    ("我上个月在你们这买的紫砂壶，当时说附证书，结果我打开盒子只有一张小卡片。我现在就想知道你们怎么处理？", None, "defer", ""),
    ("sorry typo, i meant: how long does the pu'er keep", None, "kb:puer-shelf-life", ""),
    # ... where the customer is and where it comes from are not where it goes; a quote that says too little leaves the
    # place asked (no shelf life for "几天"); Taiwan's cities are Taiwan, 幾日 and 咩 Cantonese for 几天 and 什么
    ("我在昆明 寄到上海几天", None, "shipping:上海", "寄到上海"), ("从云南寄到江苏要几天？", None, "shipping:江苏", "寄到江苏"),
    ("想买牛肝菌自己炖汤，从云南寄到江苏要几天？", None, "defer", ""),
    ("請問寄去香港大概幾日到？用咩快遞？", None, "kb:shipping-overseas", "香港"),
    ("寄到桃园几天", None, "kb:shipping-overseas", "台湾"), ("寄到台中運費大概多少錢？", None, "defer", ""),
    # ... fear of mould told in Cantonese (驚會發霉) is no mould found, and a return wanted no list of teas
    ("大紅袍要放雪櫃嗎？香港天氣好潮濕，驚會發霉", "dahongpao", "defer", ""),
    ("我想把上周买的茶叶退了，已经拆开喝了两泡，觉得不好喝", None, "defer", ""),
])
def test_what_the_dev_halves_showed_gets_the_answer_that_says_it(knowledge, question, context, expected, said):
    answer = knowledge.answer(question, context=context, language=detect(question))
    assert answer.answered_by == expected
    assert said in answer.text
