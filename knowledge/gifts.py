"""Gift recommendation over the catalog: hard constraints first, then fit, then variety."""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.budget import Budget
from knowledge.catalog import Catalog, ProductRecord

RECIPIENT_ZH = {"elder": "长辈", "parent": "父母", "boss": "领导", "colleague": "同事", "friend": "朋友",
                "child": "孩子", "partner": "爱人", "client": "客户", "teacher": "老师", "patient": "病人"}
OCCASION_ZH = {"spring_festival": "春节", "mid_autumn": "中秋", "dragon_boat": "端午", "birthday": "生日",
               "business_visit": "商务拜访", "hospital_visit": "探病", "wedding": "婚礼",
               "housewarming": "乔迁", "teachers_day": "教师节", "everyday": "日常"}
SAME_CATEGORY_PENALTY = 1.5


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


def _reason(product: ProductRecord, recipient: str | None, occasion: str | None) -> str:
    parts = []
    if recipient in product.recipients:
        parts.append(f"适合送{RECIPIENT_ZH[recipient]}")
    if occasion in product.occasions:
        parts.append(f"{OCCASION_ZH[occasion]}送礼很合适")
    first_sentence = product.description.split("，")[0].split("。")[0]
    parts.append(first_sentence)
    return "，".join(parts) + "。"


def recommend(catalog: Catalog, recipient: str | None = None, occasion: str | None = None,
              budget: Budget | None = None, k: int = 3) -> list[Recommendation]:
    """Top ``k`` in-stock products within budget, varied across categories."""
    pool = [p for p in catalog.products.values()
            if p.stock > 0 and (budget is None or budget.admits(float(p.price)))]
    scored = {p.id: _fit(p, recipient, occasion, budget) for p in pool}
    chosen: list[Recommendation] = []
    used_categories: dict[str, int] = {}
    while pool and len(chosen) < k:
        best = max(pool, key=lambda p: (scored[p.id] - SAME_CATEGORY_PENALTY * used_categories.get(p.category, 0),
                                        -abs(float(p.price)), p.id))
        pool.remove(best)
        used_categories[best.category] = used_categories.get(best.category, 0) + 1
        chosen.append(Recommendation(best, scored[best.id], _reason(best, recipient, occasion)))
    return chosen
