import csv
import re
import time
from collections import Counter

import pytest

from knowledge.files import read_shipping_file
from knowledge.shipping import PLACES_FILE, PROVINCES, as_abroad, find_place, place_in_english, quote
from knowledge.store import DEMO_DIR
from tests.unit.test_catalog import demo_catalog


def rates():
    return {(r.origin, r.destination): r for r in read_shipping_file(DEMO_DIR / "shipping.yml")}


def test_places_are_normalised_to_provinces():
    assert find_place("寄到乌鲁木齐呢") == ("乌鲁木齐", "新疆")
    assert find_place("发深圳要几天") == ("深圳", "广东")
    assert find_place("内蒙古包邮吗") == ("内蒙古", "内蒙古")
    assert find_place("普洱茶保质期多久") is None
    assert find_place(None) is None


def test_english_places_are_answered_with_their_chinese_names():
    """An answer reads "寄到北京", not "寄到beijing": the place is named as the shop writes it."""
    assert find_place("How long to Beijing?") == ("北京", "北京")
    assert find_place("ship it to urumqi") == ("乌鲁木齐", "新疆")
    assert find_place("can you send it to Yunnan") == ("云南", "云南")
    assert find_place("Xianyang") is None  # "xian" only as a word
    assert find_place("is the rougui roasted heavier than the shui xian?") is None  # a rock tea, not Xi'an
    assert find_place("the shui xian, can you ship it to xian") == ("西安", "陕西")


def test_quote_for_a_product_uses_its_origin():
    table = rates()
    bacon = demo_catalog().get("sichuan-bacon")
    rate = table[("四川", "广东")]
    text = quote(table, "广州", "广东", bacon)
    assert text.startswith("川味柴火腊肉从四川发货，寄到广州一般")
    assert f"{rate.days_min}-{rate.days_max}天" in text and "满199元包邮" in text and "冷链费" in text


def test_a_cold_chain_question_about_a_product_that_needs_none_is_answered():
    table = rates()
    raisins = demo_catalog().get("turpan-raisins")
    assert not raisins.cold_chain
    assert quote(table, "广州", "广东", raisins, asked_cold_chain=True).endswith("这款常温发货就可以，不需要冷链。")
    assert "冷链" not in quote(table, "广州", "广东", raisins)
    assert quote(table, "广州", "广东", raisins, "en", asked_cold_chain=True).endswith("no cold chain needed.")


def test_quote_in_english_names_places_in_english():
    table = rates()
    bacon = demo_catalog().get("sichuan-bacon")
    rate = table[("四川", "广东")]
    text = quote(table, "广州", "广东", bacon, language="en")
    assert text.startswith(f"{bacon.name_en} ships from Sichuan; delivery to Guangzhou takes "
                           f"{rate.days_min}-{rate.days_max} days")
    assert "free on orders over ¥199" in text and "cold-chain" in text
    assert not re.search(r"[\u4e00-\u9fff]", text)
    remote = quote(table, "拉萨", "西藏", language="en")
    assert remote.startswith("Delivery to Lhasa takes") and "not part of free shipping" in remote
    assert place_in_english("西安") == "Xi'an" and place_in_english("内蒙古") == "Inner Mongolia"


def test_quote_without_product_spans_all_warehouses_and_flags_remote_areas():
    table = rates()
    text = quote(table, "拉萨", "西藏")
    days = [(r.days_min, r.days_max) for (o, d), r in table.items() if d == "西藏"]
    assert f"{min(a for a, _ in days)}-{max(b for _, b in days)}天" in text
    assert "不参加满199包邮" in text


def test_unknown_route_gives_no_quote():
    assert quote({}, "北京", "北京") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("寄到常州", ("常州", "江苏")),  # the hand-picked city list had no 常州
    ("发义乌几天", ("义乌", "浙江")),
    ("到昆山", ("昆山", "江苏")),
    ("延边", ("延边", "吉林")),
    ("寿光", ("寿光", "山东")),
    ("大理", ("大理", "云南")),
    ("喀什", ("喀什", "新疆")),
    ("拉萨", ("拉萨", "西藏")),
    ("發到廣州", ("广州", "广东")),
    ("寄到和田", ("和田", "新疆")),
    ("大理州包邮吗", ("大理", "云南")),
    ("我老家四川的 现在在日喀则上班 能寄过来吗", ("日喀则", "西藏")),  # where they are is where it goes
    ("我家在龙井 寄过去几天", ("龙井", "吉林")),  # a place that is also a tea, where the customer lives
])
def test_every_city_and_county_finds_its_province(text, expected):
    assert find_place(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("常州市", ("常州", "江苏")),  # an answer shows the name as people say it: 寄到常州
    ("昆山市包邮吗", ("昆山", "江苏")),
    ("延边朝鲜族自治州", ("延边", "吉林")),
    ("广西壮族自治区", ("广西", "广西")),
    ("寄到海淀区", ("海淀区", "北京")),  # districts by their full name
    ("地址：江苏省常州市武进区", ("武进区", "江苏")),
    ("乌鲁木齐县", ("乌鲁木齐", "新疆")),  # the longest name wins, not 乌鲁木齐 the city
    ("海南藏族自治州", ("海南", "青海")),
])
def test_full_names_are_found_too(text, expected):
    assert find_place(text) == expected


@pytest.mark.parametrize("province", PROVINCES)
def test_every_province_is_found_by_its_name(province):
    assert find_place(province) == (province, province)
    assert find_place(f"寄到{province}要几天") == (province, province)


@pytest.mark.parametrize(("text", "expected"), [
    ("四川腊肉寄到广州", ("广州", "广东")),  # the place it goes to, not the product's
    ("从杭州发到常州要几天", ("常州", "江苏")),
    ("江苏常州", ("常州", "江苏")),  # the more precise place
    ("北京朝阳", ("北京", "北京")),  # Beijing's 朝阳, not the city of 朝阳 in Liaoning
    ("北京海淀几天到", ("北京", "北京")),
    ("天津河北", ("天津", "天津")),
    ("吉林", ("吉林", "吉林")),  # province and city: the province
    ("寄到开封", ("开封", "河南")),  # a city whose name is also a word counts after 寄到
    ("寄到渝北区", ("渝北区", "重庆")),  # abolished in 2025, still on addresses
    ("我在昆明 寄到上海几天", ("上海", "上海")), ("我人在上海 寄到昆明要几天", ("昆明", "云南")),  # not where one is
    ("我在昆明 运费多少", ("昆明", "云南")),  # ... unless it is the only place named
    ("我在上海，新疆的红枣几天能到", ("上海", "上海")),  # ... or no other is said to be where it goes
    ("我在北京，你们昆明发货的话几天能到", ("北京", "北京")),
])
def test_the_destination_wins_among_several_places(text, expected):
    assert find_place(text) == expected


@pytest.mark.parametrize("text", [
    "可以开发票吗",
    "东西什么时候到",
    "和田枣甜不甜",  # 和田 names the jujube here; the catalog calls it 和田骏枣, 和田大枣, 和田枣
    "和田大枣能真空包装吗",
    "普洱茶保质期多久",
    "开封了怎么存",  # "once opened", not the city
    "保质期能延长吗",
    "天长地久的礼物",
    "四川腊肉运费多少",  # where it is made, not where it goes
    "从杭州发几天",
    "寄到朝阳区",  # Beijing's or Changchun's: the bot asks rather than guesses
    "香港",  # not in the shipping table
])
def test_sentences_without_a_destination_give_none(text):
    assert find_place(text) is None


def test_no_catalog_product_name_reads_as_a_destination():
    """和田骏枣, 金华火腿, 吐鲁番无核白葡萄干, 云南鲜花饼...: a shipping question about one has no place in it."""
    catalog = demo_catalog()
    names = {name for product in catalog.products.values() for name in (product.name, *product.aliases)
             if not name.isascii()}
    assert len(names) > 50
    for name in names:
        for question in (name, f"{name}运费多少", f"{name}甜不甜", f"{name}保质期多久"):
            assert find_place(question) is None, question


def test_the_data_has_every_prefecture_and_county():
    with PLACES_FILE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    levels = Counter(row["level"] for row in rows)
    assert levels["province"] == 31
    assert levels["prefecture"] >= 330
    assert levels["county"] >= 2800
    assert {row["province"] for row in rows} == set(PROVINCES)
    assert all(row["short"] == "" or len(row["short"]) >= 2 for row in rows)


def test_finding_a_place_is_fast():
    message = "请问这个紫砂壶發到廣州要几天，多少运费？谢谢老板，麻烦尽快发货哦"
    assert len(message) >= 30 and find_place(message) == ("广州", "广东")
    started = time.perf_counter()
    for _ in range(200):
        find_place(message)
    assert (time.perf_counter() - started) / 200 < 0.001


@pytest.mark.parametrize(("text", "said"), [
    ("寄到台中運費多少", "寄到台湾運費多少"), ("寄到桃园几天", "寄到台湾几天"), ("台北收得到嗎 寄過去要多久", "台湾收得到嗎 寄過去要多久"),
    # not inside a mainland address
    ("寄到江苏常州市新北区运费多少", "寄到江苏常州市新北区运费多少"), ("寄青岛台东几天", "寄青岛台东几天"), ("寄到桃园路几天", "寄到桃园路几天"),
])
def test_taiwans_cities_are_taiwan(text, said):
    assert as_abroad(text) == said
