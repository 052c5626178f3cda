"""Twenty gift scenarios: every pick meets the hard constraints, and fit beats a random baseline by a margin."""

from __future__ import annotations

import random

import pytest

from knowledge.budget import parse_budget
from knowledge.gifts import dietary_needs, meets_diet, recommend
from tests.unit.test_catalog import demo_catalog

# (recipient, occasion, budget as written, the customer's words)
SCENARIOS = [
    ("parent", "spring_festival", "三百左右", "想给爸妈买点过年送的"),
    ("parent", "everyday", "两三百", "我爸有糖尿病，不要太甜的"),
    ("elder", "mid_autumn", "500以内", "送爷爷奶奶，中秋"),
    ("elder", "birthday", "一千左右", "外婆八十大寿"),
    ("boss", "business_visit", "1k", "拜访领导，体面一点"),
    ("boss", "spring_festival", "两千以内", "过年送老板"),
    ("client", "business_visit", "500-800", "见客户带点特产"),
    ("client", "mid_autumn", "三百多", "中秋给客户寄礼盒"),
    ("colleague", "everyday", "100以内", "给同事带点零食，不吃辣"),
    ("colleague", "spring_festival", "两百左右", "过年给同事分点"),
    ("friend", "housewarming", "500以内", "朋友乔迁"),
    ("friend", "wedding", "一千以内", "好朋友结婚"),
    ("child", "everyday", "100以内", "给小孩子买零食，不要辣的"),
    ("child", "birthday", "两百以内", "孩子生日"),
    ("partner", "birthday", "五百左右", "老婆生日"),
    ("partner", "mid_autumn", "三百以内", "给女朋友寄点中秋的"),
    ("teacher", "teachers_day", "三百以内", "教师节送老师，不能太贵"),
    ("teacher", "spring_festival", "500以内", "过年送班主任"),
    ("patient", "hospital_visit", "三百左右", "去医院看病人，他控糖"),
    ("patient", "hospital_visit", "两百以内", "探病，清淡不辣的"),
]


@pytest.mark.parametrize(("recipient", "occasion", "budget_text", "words"), SCENARIOS)
def test_every_pick_meets_the_hard_constraints(recipient, occasion, budget_text, words):
    budget, needs = parse_budget(budget_text), dietary_needs(words)
    picks = recommend(demo_catalog(), recipient, occasion, budget, needs=needs)
    assert picks, "no gift at all for a plain request"
    for pick in picks:
        assert budget.admits(float(pick.product.price)), (pick.product.name, budget)
        assert pick.product.stock > 0 and meets_diet(pick.product, needs)
        assert pick.reason
    assert len({p.product.id for p in picks}) == len(picks)


def test_dietary_words_are_understood():
    assert dietary_needs("我爸有糖尿病") == {"no_sugar"}
    assert dietary_needs("不吃辣，也别太甜") == {"no_sugar", "not_spicy"}
    assert dietary_needs("sugar-free please") == {"no_sugar"}
    assert dietary_needs("要辣的") == frozenset()


def fit_rate(picks, recipient: str, occasion: str) -> float:
    """Share of the named recipient and occasion that the picks suit (1.0: every pick suits both)."""
    return sum((recipient in p.recipients) + (occasion in p.occasions) for p in picks) / (2 * len(picks))


def test_fit_beats_a_random_choice_among_allowed_gifts_by_a_margin():
    """Random baseline: three gifts drawn from the same allowed pool (budget, stock, diet), averaged."""
    catalog, rng = demo_catalog(), random.Random(7)
    ours, baseline = [], []
    for recipient, occasion, budget_text, words in SCENARIOS:
        budget, needs = parse_budget(budget_text), dietary_needs(words)
        picks = [r.product for r in recommend(catalog, recipient, occasion, budget, needs=needs)]
        pool = [p for p in catalog.products.values()
                if p.stock > 0 and budget.admits(float(p.price)) and meets_diet(p, needs)]
        ours.append(fit_rate(picks, recipient, occasion))
        baseline.append(sum(fit_rate(rng.sample(pool, min(3, len(pool))), recipient, occasion)
                            for _ in range(200)) / 200)
    ours_mean, baseline_mean = sum(ours) / len(ours), sum(baseline) / len(baseline)
    print(f"fit: ranker {ours_mean:.2f}, random {baseline_mean:.2f}")
    assert ours_mean >= baseline_mean + 0.25  # the stated margin: 25 points of fit above chance
    assert all(o >= b for o, b in zip(ours, baseline))  # never worse than chance
    assert sum(o > b for o, b in zip(ours, baseline)) >= 15  # better wherever the pool leaves a choice
