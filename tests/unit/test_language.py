"""Which language a customer is answered in."""

from __future__ import annotations

import pytest

from techan.language import Say, detect


@pytest.mark.parametrize(("text", "previous", "expected"), [
    ("普洱茶保质期多久？", "en", "zh"),
    ("hello老板", "en", "zh"),
    ("How long does the beef jerky keep?", "zh", "en"),
    ("under 300", "en", "en"),
    ("vacuum-packed?", "zh", "en"),
    ("ok", "zh", "zh"),          # a Chinese customer's "ok" is no switch to English
    ("hello", "zh", "zh"),
    ("ok", "en", "en"),
    ("300", "en", "en"),          # numbers say nothing
    ("👍", "en", "en"),
    ('/inform{"recipient": "boss"}', "en", "en"),  # a tapped button says nothing
    ("/request_human", "zh", "zh"),
    ("thanks", "xx", "zh"),       # an unknown stored language falls back to Chinese
])
def test_detect(text, previous, expected):
    assert detect(text, previous) == expected


def test_say_picks_the_language_and_defaults_to_chinese():
    hello = Say("您好", "Hello")
    assert hello.to("en") == "Hello"
    assert hello.to("zh") == "您好" and hello.to(None) == "您好"
