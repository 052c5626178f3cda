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


# Written Cantonese, as Hong Kong customers type it ("有冇鳳梨酥賣", "係咪澳門做嘅"), read as Mandarin so that the
# NLU, the KB search and the catalog see the question a Mandarin speaker would type. No maintained library maps
# Cantonese words to Mandarin (OpenCC converts characters only), so this is a short list of its everyday function
# words, each either unused in Mandarin (冇, 嘅, 咗, 佢...) or guarded where Mandarin has the same characters: 唔 only
# before a verb ("唔，好的" and "唔好的" are a Mandarin "mm"), 係 not in 關係 or 係數, 点样 not in 寄点样品, 边 not in
# 那边个别 or 金边款, 好食 not in 好食材, 食 not in 零食, 呢 with a measure word only where a clause starts ("普洱呢只要").
# 係 goes before OpenCC, which makes every 係 a 系; the rest is matched on the simplified text. Ties in length keep
# the table's order (唔该 before 唔 + a verb, 咩嘢 before 咩).
_CANTONESE_SHI = re.compile(r"係(?:咪|唔係)|(?<![關关聯联干幹])係(?![數数統统列])")
_CLAUSE_START = r"(?:^|(?<=[\s，,。！？!?：:]))"
_NOT_A_PLACE_BEFORE = r"(?<![这那两旁路外里金花包周左右东西南北身手])"
_CANTONESE = {
    "系咪": "是不是", "系唔系": "是不是", "有冇": "有没有", "冇": "没有", "唔该": "请", "唔好(?!的|吧|啊|嘛)": "不要",
    "唔(?=[系是使得知要会可能用洗够同识想记似])": "不", "(?P<either>.)唔(?=(?P=either))": r"\g<either>不",
    "嘅": "的", "㗎": "的", "咗": "了", "(?<=[我你他佢们哋])啲": "的", "啲": "些", "乜嘢": "什么", "咩嘢": "什么",
    "嘢食": "吃的", "嘢": "东西", "乜": "什么", "咩(?=[\u4e00-\u9fff])": "什么", "咩": "吗", "喺": "在",
    "佢哋": "他们", "我哋": "我们", "你哋": "你们", "佢": "他",
    "(?<![一快重要有差早晚寄买多少些两半])点样(?![品子本板])": "怎样",
    f"{_NOT_A_PLACE_BEFORE}边度": "哪里", f"{_NOT_A_PLACE_BEFORE}边个": "哪个", f"{_NOT_A_PLACE_BEFORE}边款": "哪款",
    "几多钱": "多少钱", "几钱": "多少钱", "几多": "多少", "几耐": "多久", "几时": "什么时候",
    f"{_CLAUSE_START}呢(?=[个款只种些])": "这", "[嗰𠮶]个": "那个", "[嗰𠮶]款": "那款", "[嗰𠮶]": "那",  # OpenCC: 嗰 -> 𠮶
    "咁样": "这样", "咁": "这么", "嚟": "来", "睇": "看", "攞": "拿", "搵": "找", "俾钱": "付钱", "畀钱": "付钱",
    "俾(?!斯)": "给", "畀": "给", "好食(?![品材物用料])": "好吃", "(?<![零素美粮饮主甜肉面副熟生])食(?=得|唔|咗|晒)": "吃",
    "好饮(?![品料用])": "好喝", "(?<![冷热餐])饮(?=得|唔|咗|晒)": "喝", "仲(?=有|要|可以|未)": "还", "啱啱": "刚刚",
    "雪柜": "冰箱",
}
_CANTONESE_KEYS = sorted(_CANTONESE, key=lambda key: len(re.sub(r"\(.*?\)|\[.*?\]", "_", key)), reverse=True)
_CANTONESE_WORDS = re.compile("|".join(f"(?P<k{number}>{key})" for number, key in enumerate(_CANTONESE_KEYS)))


def _from_cantonese(text: str) -> str:
    return _CANTONESE_WORDS.sub(_mandarin, text)


def _mandarin(match: re.Match) -> str:
    """The key's Mandarin, a template: "可唔可以" keeps its 可 (``\\g<either>``)."""
    return match.expand(_CANTONESE[_CANTONESE_KEYS[int(match.lastgroup[1:])]])


def to_simplified(text: str) -> str:
    """Traditional Chinese as simplified ("發到廣州" -> "发到广州"), through OpenCC's t2s, and written Cantonese as
    Mandarin ("有冇" -> "有没有").

    Simplified Mandarin, English, digits, emoji and punctuation come back unchanged. OpenCC maps a
    few characters onto ones it maps again (薴 -> 苧 -> 苎), so it runs again until nothing changes (at
    most three times; no chain is longer): the result is simplified all the way, and converting it
    again changes nothing.
    """
    if text.isascii():
        return text
    converter = _t2s()
    for _ in range(3):
        simplified = _from_cantonese(converter.convert(_CANTONESE_SHI.sub(
            lambda m: "是不是" if len(m.group()) > 1 else "是", text)))
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
