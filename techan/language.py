"""Answering each customer in their language: Chinese (Simplified) first, English too.

The router decides the language of every message (``detect``) and keeps it on the
customer; Rasa gets it as message metadata (the ``language`` slot picks the English
variants of the bot's responses), and the actions and the router say things with ``Say``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

LANGUAGES = ("zh", "en")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")  # Chinese characters, also for the KB's lexical signal
_LATIN_WORD = re.compile(r"[A-Za-z]+")
ENGLISH_MIN_LETTERS = 8  # "ok", "hello", "thanks" alone leave a Chinese customer's language as it is


def detect(text: str, previous: str = "zh") -> str:
    """``zh`` for a message with Chinese in it, ``en`` for English words, else the customer's ``previous``.

    A tapped button (``/inform{...}``), numbers, emoji and a lone "ok" say nothing about language.
    """
    previous = previous if previous in LANGUAGES else "zh"
    if text.startswith("/"):
        return previous
    if CJK.search(text):
        return "zh"
    words = _LATIN_WORD.findall(text)
    if len(words) >= 2 or sum(map(len, words)) >= ENGLISH_MIN_LETTERS:
        return "en"
    return previous


class Say(NamedTuple):
    """One thing the shop says to a customer, in each language."""

    zh: str
    en: str

    def to(self, language: str | None) -> str:
        return self.en if language == "en" else self.zh
