"""Staff business hours per weekday, in the shop's time zone: open now, and when next."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
DAY_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_RULE = re.compile(r"^\s*([a-z,\-]+)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    """``"mon-fri 09:00-21:00; sat,sun 10:00-18:00"``; days not named are closed."""

    spans: dict[int, tuple[time, time]]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone: str) -> BusinessHours:
        spans: dict[int, tuple[time, time]] = {}
        for rule in filter(str.strip, text.lower().split(";")):
            match = _RULE.match(rule)
            if not match:
                raise ValueError(f"business hours: cannot read {rule.strip()!r} (like 'mon-fri 09:00-21:00')")
            start, end = _clock(match[2], match[3]), _clock(match[4], match[5])
            if end <= start:
                raise ValueError(f"business hours: {rule.strip()!r} ends before it starts")
            for day in _days(match[1]):
                spans[day] = (start, end)
        return cls(spans, ZoneInfo(zone))

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        span = self.spans.get(local.weekday())
        return bool(span) and span[0] <= local.time() < span[1]

    def next_opening(self, moment: datetime) -> datetime | None:
        """When staff are next in (local time), or None if the shop has no hours at all."""
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            span = self.spans.get(day.weekday())
            if span:
                opening = datetime.combine(day, span[0], tzinfo=self.zone)
                if opening > local:
                    return opening
        return None


def _clock(hours: str, minutes: str) -> time:
    if (int(hours), int(minutes)) == (24, 0):
        return time.max  # "until midnight"
    try:
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"business hours: {hours}:{minutes} is not a time of day") from None


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"business hours: unknown day in {spec!r} (use mon..sun)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += [d % 7 for d in range(start, end + 1 if end >= start else end + 8)]
    return days


def describe(opening: datetime | None, now: datetime, language: str = "zh") -> str:
    """今天/明天/周三 09:00 ("today at 09:00", "on Wednesday at 09:00"), as a customer reads it."""
    if opening is None:  # no opening hours at all
        return "下次" if language != "en" else "when they are back"
    today = now.astimezone(opening.tzinfo).date()
    if language == "en":
        if opening.date() == today:
            return f"today at {opening:%H:%M}"
        if opening.date() == today + timedelta(days=1):
            return f"tomorrow at {opening:%H:%M}"
        return f"on {DAY_EN[opening.weekday()]} at {opening:%H:%M}"
    if opening.date() == today:
        day = "今天"
    elif opening.date() == today + timedelta(days=1):
        day = "明天"
    else:
        day = DAY_ZH[opening.weekday()]
    return f"{day} {opening:%H:%M}"
