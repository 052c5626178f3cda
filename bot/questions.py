"""Whether a message is a question with content, or a gift request: pure Python, shared by the Rasa component
and its tests."""

from __future__ import annotations

import re

MIN_CJK, MIN_WORDS = 6, 4
# Read as a gift request, a short question is still a question ("有礼盒装吗"): the limit above keeps short
# replies ("不用了") from being read as questions, which a gift request's guard does not need.
MIN_CJK_GIFT = 4
# Interrogatives, not every word that can ask: 么 in 这么/那么, 几 in 过几天, 什么 in 没什么 say nothing.
CHINESE_QUESTION = re.compile(
    r"吗|呢|[不没][？?。！!\s]*$|？|\?|能不能|可不可以|有没有|怎么|咋|(?<!没)什么|多久|多少|哪里|哪儿|哪个")
ENGLISH_QUESTION = re.compile(
    r"\?\s*$|^(can|could|do|does|is|are|will|would|should|how|what|where|when|which|why)\b", re.I)
_CJK = re.compile(r"[\u4e00-\u9fff]")


def is_question(text: str, min_cjk: int = MIN_CJK) -> bool:
    """A question mark or word, and six Chinese characters (or four English words) of its own."""
    cjk = _CJK.findall(text)
    if cjk:
        return len(cjk) >= min_cjk and bool(CHINESE_QUESTION.search(text))
    return len(text.split()) >= MIN_WORDS and bool(ENGLISH_QUESTION.search(text.strip()))


# What a gift request says (besides a recipient, occasion or budget the NLU finds): "送长辈", "礼盒", "帮我挑",
# and in the gift form's follow-ups "那有什么适合他的", "something for her".
GIFT_WORDS = re.compile(r"送|礼|推荐|挑|选|适合|gift|present|recommend|suggest|\bfor (?:him|her|my)\b", re.I)
GIFT_ENTITIES = frozenset({"recipient", "occasion", "budget"})
# How something is packed, not a gift wanted: "有礼盒装吗", "can you gift wrap it".
GIFT_PACKING = re.compile(r"礼盒装|礼品装|礼盒包装|礼品包装|礼品袋|礼袋|gift[- ]?(?:wrap\w*|box(?:ed|es)?|bag)", re.I)


# A shop matter asked about a gift is still that matter: "公司过年要采购50份礼盒 能打折不", "送女朋友的 能包好看点吗".
SHOP_MATTERS = re.compile(r"打折|折扣|优惠|发票|开票|包好看|包漂亮|包一下|包起来|运费|邮费|快递|发货|退货|退款|换货|分期|付款|"
                          r"\b(?:discounts?|invoices?|gift[- ]?wrap\w*|shipping|refunds?|installments?)\b", re.I)


def is_gift_request(text: str, entities: set[str]) -> bool:
    """A gift request names the gift side of it (a word like 送 or 礼, or who, what for, how much) and asks no
    shop matter."""
    if SHOP_MATTERS.search(text):
        return False
    return bool(GIFT_WORDS.search(GIFT_PACKING.sub(" ", text))) or bool(entities & GIFT_ENTITIES)
