"""Gift recommendation over the catalog: hard constraints first, then fit, then variety."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from knowledge.budget import Budget
from knowledge.catalog import Catalog, ProductRecord, english_form

RECIPIENT_ZH = {"elder": "长辈", "parent": "父母", "boss": "领导", "colleague": "同事", "friend": "朋友",
                "child": "孩子", "partner": "爱人", "client": "客户", "teacher": "老师", "patient": "病人"}
OCCASION_ZH = {"spring_festival": "春节", "mid_autumn": "中秋", "dragon_boat": "端午", "birthday": "生日",
               "business_visit": "商务拜访", "hospital_visit": "探病", "wedding": "婚礼",
               "housewarming": "乔迁", "teachers_day": "教师节", "everyday": "日常"}
SAME_CATEGORY_PENALTY = 1.5
WISH_WEIGHT = 3.0  # a wish that matches well (cosine spread ~0.1-0.2) moves a product about one fit step
NON_FOOD = ("porcelain", "teaware", "silk")
# Dietary wishes are hard constraints: a diabetic elder must never be offered candied dates.
DIETARY_WORDS = {
    "no_sugar": re.compile(r"无糖|别太甜|不要糖|不加糖|少糖|低糖|控糖|戒糖|糖尿病|血糖|不要太甜|不能吃甜|sugar[- ]?free|no sugar|diabet", re.I),
    "not_spicy": re.compile(r"不辣|不要辣|不吃辣|不能吃辣|怕辣|别太辣|不要太辣|忌辣|not spicy|no spic|mild", re.I),
}
DIETARY_ZH = {"no_sugar": "无糖", "not_spicy": "不辣"}
RECIPIENT_EN = {"elder": "elders", "parent": "parents", "boss": "a boss", "colleague": "colleagues",
                "friend": "friends", "child": "children", "partner": "a partner", "client": "clients",
                "teacher": "a teacher", "patient": "someone unwell"}
OCCASION_EN = {"spring_festival": "Chinese New Year", "mid_autumn": "Mid-Autumn", "dragon_boat": "Dragon Boat Festival",
               "birthday": "birthday", "business_visit": "business visit", "hospital_visit": "hospital visit",
               "wedding": "wedding", "housewarming": "housewarming", "teachers_day": "Teachers' Day",
               "everyday": "everyday"}
DIETARY_EN = {"no_sugar": "sugar-free", "not_spicy": "not spicy"}


def dietary_needs(text: str) -> frozenset[str]:
    """The dietary constraints a customer's words state (no sugar, not spicy)."""
    return frozenset(need for need, words in DIETARY_WORDS.items() if words.search(text or ""))


# "不要茶叶", "别送点心", "除了茶", "茶叶就不要了": a kind of product named to rule it out. 是不是 and 要不要 ask.
_RULED_OUT_BEFORE = re.compile(r"(?:(?<!要)不要|不用|不想|不喝|不吃|别|除了|(?<!是)不是|\bno|\bnot|\bexcept)"
                               r"(?:送|买|给|要|喝|吃)?\s*$", re.I)
_RULED_OUT_AFTER = re.compile(r"^\s*(?:就|也|都)?(?:不要|别送|不用|算了|除外)")
_NOT_A_KIND = re.compile(r"心意")  # "送领导一点心意" names no 点心


def kinds_named(catalog: Catalog, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The products of each kind a gift request asks for ("红茶和绿茶哪个更适合送长辈": the shop's red and green
    teas), and of each kind it rules out ("不要茶叶"). A kind asked for by name stays in even when a wider one is
    ruled out ("他不喝茶，送个茶具吧")."""
    text = _NOT_A_KIND.sub(lambda match: " " * len(match.group()), text or "")
    lowered = english_form(text)
    asked: set[str] = set()
    ruled_out: set[str] = set()
    for word, members, starts in catalog.families_in_text(text):
        end = len(english_form(word))
        out = all(_RULED_OUT_BEFORE.search(lowered[max(start - 6, 0):start])
                  or _RULED_OUT_AFTER.search(lowered[start + end:]) for start in starts)
        (ruled_out if out else asked).update(members)
    return frozenset(asked), frozenset(ruled_out - asked)


def meets_diet(product: ProductRecord, needs: frozenset[str]) -> bool:
    if "no_sugar" in needs and product.category not in NON_FOOD and not {"无糖", "不加糖"} & set(product.tags):
        return False
    if "not_spicy" in needs and {"辣", "酸辣", "麻辣"} & set(product.tags):
        return False
    return True


@dataclass(frozen=True)
class Recommendation:
    product: ProductRecord
    score: float
    reason: str


def _fit(product: ProductRecord, recipient: str | None, occasion: str | None, budget: Budget | None) -> float:
    score = 0.0
    if recipient:
        score += 2.0 if recipient in product.recipients else 0.0
    if occasion:
        score += 1.5 if occasion in product.occasions else 0.0
    if budget and budget.high:
        # Prefer gifts that use the budget well rather than the cheapest item.
        score += 0.5 * min(float(product.price) / budget.high, 1.0)
    return score


def _reason(product: ProductRecord, recipient: str | None, occasion: str | None, needs: frozenset[str],
            language: str = "zh") -> str:
    """One line on why this gift: diet, recipient and occasion it suits, and what it is."""
    diet = [need for need in sorted(needs) if product.category not in NON_FOOD]
    if language == "en":
        parts = [DIETARY_EN[need] for need in diet]
        if recipient in product.recipients:
            parts.append(f"suits {RECIPIENT_EN[recipient]}")
        if occasion in product.occasions:
            parts.append(f"a good {OCCASION_EN[occasion]} gift")
        if parts:
            return ", ".join(parts).capitalize() + "."
        what_it_is = product.first_sentence("en")
        return what_it_is if what_it_is.endswith(("!", "?")) else what_it_is + (
            "." if product.description_en else "。")
    first_clause = product.description.split("，")[0].split("。")[0]
    parts = [DIETARY_ZH[need] for need in diet]
    if recipient in product.recipients:
        parts.append(f"适合送{RECIPIENT_ZH[recipient]}")
    if occasion in product.occasions:
        parts.append(f"{OCCASION_ZH[occasion]}送礼很合适")
    parts.append(first_clause)
    return "，".join(parts) + "。"


def recommend(catalog: Catalog, recipient: str | None = None, occasion: str | None = None,
              budget: Budget | None = None, k: int = 3, *, needs: frozenset[str] = frozenset(),
              wishes: Mapping[str, float] | None = None, exclude: frozenset[str] = frozenset(),
              within: frozenset[str] = frozenset(), language: str = "zh") -> list[Recommendation]:
    """Top ``k`` in-stock products within budget and diet, varied across categories.

    ``wishes`` scores products against the customer's own words (embedding similarity, centred);
    ``exclude`` holds products already shown, for "more like this"; ``within``, when given, the only
    products to pick from (the kinds the customer asked for); ``language`` is the reasons'.
    """
    pool = [p for p in catalog.products.values()
            if p.stock > 0 and p.id not in exclude and meets_diet(p, needs) and (not within or p.id in within)
            and (budget is None or budget.admits(float(p.price)))]
    scored = {p.id: _fit(p, recipient, occasion, budget) + WISH_WEIGHT * (wishes or {}).get(p.id, 0.0) for p in pool}
    chosen: list[Recommendation] = []
    used_categories: dict[str, int] = {}
    while pool and len(chosen) < k:
        best = max(pool, key=lambda p: (scored[p.id] - SAME_CATEGORY_PENALTY * used_categories.get(p.category, 0),
                                        -abs(float(p.price)), p.id))
        pool.remove(best)
        used_categories[best.category] = used_categories.get(best.category, 0) + 1
        chosen.append(Recommendation(best, scored[best.id], _reason(best, recipient, occasion, needs, language)))
    return chosen
