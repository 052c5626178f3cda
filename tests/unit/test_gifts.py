import random

import pytest

from knowledge.budget import Budget
from knowledge.files import OCCASIONS, RECIPIENTS
from knowledge.gifts import kinds_named, recommend
from tests.unit.test_catalog import demo_catalog


def test_recommendations_respect_budget_and_stock():
    catalog = demo_catalog()
    for recipient in RECIPIENTS:
        for budget in (Budget(0, 100), Budget(200, 300), Budget(500, None)):
            for pick in recommend(catalog, recipient, "spring_festival", budget):
                assert budget.admits(float(pick.product.price)) and pick.product.stock > 0


def test_three_varied_picks_that_fit_the_recipient():
    picks = recommend(demo_catalog(), "boss", "business_visit", Budget(200, 1000))
    assert len(picks) == 3
    assert len({p.product.category for p in picks}) == 3
    assert all("boss" in p.product.recipients for p in picks)
    assert all(p.reason.startswith("适合送领导") for p in picks)


def test_fit_beats_random_choice():
    catalog = demo_catalog()
    rng = random.Random(1)
    fit = rand = 0
    for recipient in RECIPIENTS:
        for occasion in OCCASIONS:
            picks = recommend(catalog, recipient, occasion)
            fit += sum(recipient in p.product.recipients for p in picks)
            rand += sum(recipient in p.recipients for p in rng.sample(list(catalog.products.values()), 3))
    assert fit >= 1.5 * rand


@pytest.mark.parametrize(("text", "asked", "ruled_out"), [
    ("红茶和绿茶哪个更适合送长辈", ("红茶", "绿茶"), ()),
    ("送长辈是不是红茶比较好", ("红茶",), ()),  # 是不是 asks, it rules nothing out
    ("送朋友，要不要红枣", ("红枣",), ()),
    ("别送点心", (), ("点心",)),
    ("茶叶就不要了，送点吃的", (), ("茶叶",)),
    ("他不喝茶，送个茶具吧", ("茶具",), ("茶叶",)),  # the kind asked for stays in though 茶 covers it
    ("送领导一点心意", (), ()),  # 心意 names no 点心
])
def test_the_kinds_a_gift_request_names_and_rules_out(text, asked, ruled_out):
    catalog = demo_catalog()
    kinds, unwanted = kinds_named(catalog, text)
    assert kinds == {p for word in asked for p in catalog.family(word)}
    assert unwanted == {p for word in ruled_out for p in catalog.family(word)} - kinds


def test_an_english_reader_gets_each_gifts_reason_in_english():
    """With nothing of the recipient or occasion to say, a gift's reason is what it is: in English from the
    English description (the Chinese first sentence showed on English cards)."""
    catalog = demo_catalog()
    picks = recommend(catalog, budget=Budget(0, 400), k=3, language="en")
    assert len(picks) == 3
    for pick in picks:
        assert pick.product.description_en, pick.product.id
        assert pick.reason == pick.product.first_sentence("en") + "."
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in pick.reason), pick.reason
