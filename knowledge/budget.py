"""Budgets as customers write them: 300, 三百, 三百多, 两三百, 500以内, 一千左右, 1k, 300-500, under 300."""

from __future__ import annotations

import re
from dataclasses import dataclass

DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6,
          "七": 7, "八": 8, "九": 9}
UNITS = {"十": 10, "百": 100, "千": 1000, "k": 1000, "K": 1000, "万": 10000, "w": 10000, "W": 10000}
_NUM = r"(?:\d+(?:\.\d+)?[kKwW]?|[零〇一二两俩三四五六七八九十百千万]+)"
_TWO = re.compile(r"([一二两三四五六七八九])([二两三四五六七八九])([十百千万])")
_RANGE = re.compile(rf"({_NUM})\s*(?:-|~|～|—|到|至|to|and)\s*({_NUM})")  # 300-500, 200 to 300, between 200 and 400
_ONE = re.compile(rf"({_NUM})")
# Qualifiers, matched in the text with spaces removed and lower-cased ("no more than 800" -> "nomorethan800").
_UNIT = r"(?:元|块钱|块|rmb|yuan)?"
_AT_MOST = (re.compile(rf"{_UNIT}(?:以内|以下|之内|内|封顶|orless|orunder|orbelow)"),
            re.compile(r"(?:不超过|不到|最多|低于|under|below|lessthan|nomorethan|upto|within|atmost|max)¥?$"))
_AT_LEAST = (re.compile(rf"{_UNIT}(?:以上|起|\+|ormore|orabove)"),
             re.compile(r"(?:至少|不低于|超过|over|above|morethan|atleast)¥?$"))
_ABOUT = (re.compile(rf"{_UNIT}(?:左右|上下|orso)"),
          re.compile(r"(?:大概|大约|差不多|around|about|approximately|roughly)¥?$"))


@dataclass(frozen=True)
class Budget:
    low: int
    high: int | None  # None: no upper bound ("500以上")

    def admits(self, price: float) -> bool:
        return price >= self.low and (self.high is None or price <= self.high)


def chinese_number(text: str) -> int | None:
    """三百五 -> 350, 一千二 -> 1200, 十五 -> 15, 1.5k -> 1500, 2w -> 20000."""
    text = text.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKwW万千百]?)", text)
    if match:
        return round(float(match.group(1)) * UNITS.get(match.group(2), 1))
    total, current, last_unit, zero = 0, None, 1, False
    for ch in text:
        if ch in ("零", "〇"):
            zero = True
        elif ch in DIGITS:
            current = DIGITS[ch]
        elif ch in UNITS:
            unit = UNITS[ch]
            value = 1 if current is None else current
            if unit == 10000:
                total = (total + value) * unit
            else:
                total += value * unit
            current, last_unit = None, unit
        else:
            return None
    if current is not None:  # 三百五 is 350, but 一百零五 is 105
        total += current * (last_unit // 10 if last_unit >= 100 and not zero else 1)
    return total or None


def _magnitude(value: int) -> int:
    return 10 ** max(len(str(value)) - 1, 0)


def parse_budget(text: str) -> Budget | None:
    """The budget range in ``text``, or None when there is no amount in it."""
    text = text.replace("，", ",").replace(" ", "").lower()
    match = _TWO.search(text)  # 两三百
    if match:
        unit = UNITS[match.group(3)]
        return Budget(DIGITS[match.group(1)] * unit, DIGITS[match.group(2)] * unit)
    match = _RANGE.search(text)
    if match:
        low, high = chinese_number(match.group(1)), chinese_number(match.group(2))
        if low is not None and high is not None:
            if re.fullmatch(r"[一二两三四五六七八九]", match.group(1)) and high >= 10:
                low = low * _magnitude(high)  # 三到五百
            return Budget(min(low, high), max(low, high))
    match = _ONE.search(text)
    if not match:
        return None
    value = chinese_number(match.group(1))
    if value is None:
        return None
    rest = text[match.end():]
    before = text[: match.start()]
    if rest.startswith("多") or rest.startswith("出头"):
        return Budget(value, value + _magnitude(value))
    def qualified(after: re.Pattern, ahead: re.Pattern) -> bool:
        return bool(after.match(rest) or ahead.search(before))

    if qualified(*_AT_MOST):
        return Budget(0, value)
    if qualified(*_AT_LEAST):
        return Budget(value, None)
    if qualified(*_ABOUT):
        return Budget(round(value * 0.8), round(value * 1.2))
    return Budget(round(value * 0.7), round(value * 1.1))
