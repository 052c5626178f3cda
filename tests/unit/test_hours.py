from datetime import datetime, timezone

import pytest

from core.hours import BusinessHours, describe

HOURS = BusinessHours.parse("mon-fri 09:00-21:00; sat,sun 10:00-18:00", "Asia/Shanghai")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_open_and_closed_in_the_shop_time_zone():
    assert HOURS.is_open(utc(2026, 11, 25, 2, 0))  # Wed 10:00 in Shanghai
    assert not HOURS.is_open(utc(2026, 11, 25, 14, 0))  # Wed 22:00
    assert not HOURS.is_open(utc(2026, 11, 28, 1, 30))  # Sat 09:30
    assert HOURS.is_open(utc(2026, 11, 28, 2, 30))  # Sat 10:30


def test_next_opening_and_how_it_is_said():
    wednesday_night = utc(2026, 11, 25, 14, 0)
    opening = HOURS.next_opening(wednesday_night)
    assert (opening.day, opening.hour) == (26, 9) and describe(opening, wednesday_night) == "明天 09:00"
    friday_night = utc(2026, 11, 27, 14, 0)
    assert describe(HOURS.next_opening(friday_night), friday_night) == "明天 10:00"
    early = utc(2026, 11, 25, 0, 0)  # Wed 08:00
    assert describe(HOURS.next_opening(early), early) == "今天 09:00"


def test_how_it_is_said_in_english():
    wednesday_night, early = utc(2026, 11, 25, 14, 0), utc(2026, 11, 25, 0, 0)
    assert describe(HOURS.next_opening(wednesday_night), wednesday_night, "en") == "tomorrow at 09:00"
    assert describe(HOURS.next_opening(early), early, "en") == "today at 09:00"
    closed_until_monday = BusinessHours.parse("mon 09:00-12:00", "Asia/Shanghai")
    assert describe(closed_until_monday.next_opening(wednesday_night), wednesday_night, "en") == "on Monday at 09:00"
    assert describe(None, early, "en") == "when they are back"


def test_wrapping_day_ranges_and_closed_days():
    hours = BusinessHours.parse("sat-mon 10:00-12:00", "UTC")
    assert sorted(hours.spans) == [0, 5, 6]
    tuesday = utc(2026, 11, 24, 11, 0)
    assert not hours.is_open(tuesday) and hours.next_opening(tuesday).weekday() == 5
    assert BusinessHours.parse("", "UTC").next_opening(tuesday) is None


@pytest.mark.parametrize("text", ["mon-fri 9-21", "funday 09:00-10:00", "mon 21:00-09:00"])
def test_bad_hours_are_refused_clearly(text):
    with pytest.raises(ValueError, match="business hours"):
        BusinessHours.parse(text, "UTC")
