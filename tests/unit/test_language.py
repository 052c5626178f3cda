"""Which language a customer is answered in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.language import Say, detect, to_simplified


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
    ("Da Hong Pao", "zh", "zh"),  # a product's English name pasted alone
    ("TB20261129ABCD", "zh", "zh"),  # an order number
    ("SF1234567890 CN", "zh", "zh"),
    ("Beef Jerky 多少钱", "en", "zh"),
    ("Do you have Da Hong Pao?", "zh", "en"),
    ("where is my order TB20261129ABCD", "zh", "en"),
])
def test_detect(text, previous, expected):
    assert detect(text, previous) == expected


def test_say_picks_the_language_and_defaults_to_chinese():
    hello = Say("您好", "Hello")
    assert hello.to("en") == "Hello"
    assert hello.to("zh") == "您好" and hello.to(None) == "您好"


@pytest.mark.parametrize(("traditional", "simplified"), [
    ("龍井茶", "龙井茶"),
    ("紫砂壺", "紫砂壶"),
    ("發到廣州", "发到广州"),
    ("保質期多久", "保质期多久"),
    ("這個紫砂壺 is it vacuum-packed? 謝謝👍", "这个紫砂壶 is it vacuum-packed? 谢谢👍"),
])
def test_to_simplified_reads_traditional_characters(traditional, simplified):
    assert to_simplified(traditional) == simplified


@pytest.mark.parametrize("text", [
    "普洱茶保质期多久？", "发到广州要几天", "乾隆年间的茶", "头发", "满199包邮吗", "How long does the beef jerky keep?",
    "500g × 2", "🍵🧧😀", "「好的」，谢谢！", "",
])
def test_to_simplified_leaves_simplified_english_digits_emoji_and_punctuation(text):
    assert to_simplified(text) == text


@pytest.mark.parametrize(("cantonese", "mandarin"), [
    ("有冇普洱賣？", "有没有普洱卖？"),
    ("呢個係咪新會嘅？", "这个是不是新会的？"),
    ("可唔可以用支付寶俾錢", "可不可以用支付宝付钱"),
    ("佢哋話幾耐先到", "他们话多久先到"),
    ("嗰款幾多錢", "那款多少钱"),
    ("有咩推介", "有什么推介"),
    ("嗰個好唔好食", "那个好不好吃"),
    ("系咪真空包装", "是不是真空包装"),  # written in simplified characters too
    ("冇問題 唔該", "没有问题 请"),
    ("你哋啲茶好唔好飲", "你们的茶好不好喝"),  # 啲 after who: 的
    ("啱啱收到", "刚刚收到"),
    ("這個茶餅可以放雪櫃嗎", "这个茶饼可以放冰箱吗"),  # the fridge, as Hong Kong calls it
])
def test_to_simplified_reads_written_cantonese_as_mandarin(cantonese, mandarin):
    assert to_simplified(cantonese) == mandarin


@pytest.mark.parametrize("text", [
    "唔，好的", "唔好的", "关系", "零食", "饮料好喝吗", "素食", "仲夏", "呢？", "这个呢", "快点解决", "重点解释",
    "可以寄点样品吗", "你们那边个别地区不发货吗", "金边款", "路边种的", "选用好食材", "好饮品", "零食完全不够",
    "这款呢款式", "那普洱呢只要泡一次吗", "俾斯麦",
])
def test_mandarin_that_looks_cantonese_is_left_alone(text):
    """唔 alone is a Mandarin "mm"; 点样 in 寄点样品, 边个 in 那边个别, 好食 in 好食材, 呢只 in 普洱呢只要 are Mandarin."""
    assert to_simplified(text) == text


@pytest.mark.parametrize(("traditional", "simplified"), [("關係", "关系"), ("係數", "系数")])
def test_a_traditional_xi_that_is_no_cantonese_is(traditional, simplified):
    assert to_simplified(traditional) == simplified


def test_to_simplified_goes_all_the_way_in_one_call():
    """OpenCC maps 薴 to 苧 and 苧 to 苎: one call gives the end of the chain."""
    assert to_simplified("薴") == to_simplified("苧") == "苎"


CHINESE_AND_MORE = st.text(alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x9FFF)
                           | st.characters(min_codepoint=0xF900, max_codepoint=0xFAFF)
                           | st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(CHINESE_AND_MORE)
def test_to_simplified_is_idempotent(text):
    once = to_simplified(text)
    assert to_simplified(once) == once


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=80))
def test_to_simplified_does_not_change_ascii(text):
    assert to_simplified(text) == text
