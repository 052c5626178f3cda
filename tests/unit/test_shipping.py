import re

from knowledge.files import read_shipping_file
from knowledge.shipping import find_place, place_in_english, quote
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
