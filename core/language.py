"""Answering each customer in their language: Chinese (Simplified) first, English too.

The router decides the language of every message (``detect``) and keeps it on the
customer; Rasa gets it as message metadata (the ``language`` slot picks the English
variants of the bot's responses), and the actions and the router say things with ``Say``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

import opencc

LANGUAGES = ("zh", "en")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # Chinese characters, also for the KB's lexical signal
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"\d")  # a word with a digit in it is an order or tracking number, not English
NAME_MAX_WORDS = 4  # "Da Hong Pao", "Lapsang Souchong": a name pasted alone, capitalised
ENGLISH_MIN_LETTERS = 8  # "ok", "hello", "thanks" alone leave a Chinese customer's language as it is


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")  # loads the dictionaries once, at the first text that is not plain ASCII


def to_simplified(text: str) -> str:
    """Traditional Chinese as simplified ("發到廣州" -> "发到广州"), through OpenCC's t2s.

    Simplified Chinese, English, digits, emoji and punctuation come back unchanged. OpenCC maps a
    few characters onto ones it maps again (薴 -> 苧 -> 苎), so it runs again until nothing changes (at
    most three times; no chain is longer): the result is simplified all the way, and converting it
    again changes nothing.
    """
    if text.isascii():
        return text
    converter = _t2s()
    for _ in range(3):
        simplified = converter.convert(text)
        if simplified == text:
            break
        text = simplified
    return text


def detect(text: str, previous: str = "zh") -> str:
    """``zh`` for a message with Chinese in it, ``en`` for English words, else the customer's ``previous``.

    A tapped button (``/inform{...}``), numbers, emoji, a lone "ok", a pasted order number
    (TB20261129A) and a product's name alone ("Da Hong Pao") say nothing about language.
    """
    previous = previous if previous in LANGUAGES else "zh"
    if text.startswith("/"):
        return previous
    if CJK.search(text):
        return "zh"
    words = _LATIN_WORD.findall(" ".join(token for token in text.split() if not _DIGIT.search(token)))
    if words and all(word[0].isupper() for word in words) and len(words) <= NAME_MAX_WORDS:
        return previous
    if len(words) >= 2 or sum(map(len, words)) >= ENGLISH_MIN_LETTERS:
        return "en"
    return previous


class Say(NamedTuple):
    """One thing the shop says to a customer, in each language."""

    zh: str
    en: str

    def to(self, language: str | None) -> str:
        return self.en if language == "en" else self.zh
