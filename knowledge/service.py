"""The knowledge service shared by the app, the Rasa actions and the CLI.

It holds one immutable snapshot (index + catalog + shipping table) and swaps it
whole when the database changes, so a search never sees half an update.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from knowledge.catalog import CATEGORY_WORDS, FAMILY_WORDS, Catalog, ProductRecord, english_aliases, fill
from knowledge.coverage import (A_GROUP, BULK, FIRST_ORDER, FOR_BULK_ONLY, FOR_NEW_ONLY, FREEZING, FRIDGE_REFUSED, HAGGLED, HEALTH, HOME_PLACE_TOPICS, RETURNING, Coverage,
                                a_quality, content_words, for_the_shop_to_say, searchable, without_people)
from knowledge.files import ShippingRateIn
from knowledge.index import CONFIDENT, PRODUCT_BONUS, Embedder, Hit, KBIndex, KBRecord, VectorCache
from knowledge.provision import provision
from knowledge.shipping import as_abroad, district_length, find_place, place_in_english, place_not_sent_to, quote
from knowledge.store import catalog_snapshot, kb_records, shipping_snapshot
from knowledge.topics import (ARRIVAL, ASPECT_CUES, FITS, PREFERRED, REMEDY_ASKED, TROUBLES, WILL_IT, WRONG_ITEM, asked_aspect, asked_part, aspects, entry_trouble,
                             reported_trouble, unsaid_ways)
from core.language import CJK, LANGUAGES, Say, to_simplified
from core.settings import Settings

log = logging.getLogger(__name__)

# The KB topics an asked aspect may favour in the ranking ("能搁多久": shelf life). The NLU's intent favours none:
# it reads the whole message, and its topic's nudge carried near misses over the confidence bar
# ("快递显示签收了 可我根本没收到", read as ask_shipping, got how to track a parcel).
RANKED_TOPICS = frozenset({"shelf_life", "storage", "vacuum_packing", "shipping", "product_info"})


COVERED_CONFIDENT = 0.35  # enough for an entry whose text covers every word of the question
SAME_QUESTION = 0.97  # a phrasing this close is the question itself, however its aspect is worded ("可以装水插鲜花吗")
NOUN_TOLERANT = 0.75  # a score at which a missing noun is how it was said (女朋友, 亲戚), not a new thing (消毒柜)
# English questions score lower against the phrasings than Chinese ones saying the same (fewer English phrasings,
# e5-small's English and Chinese apart): the bar for an entry that misses a word is lower by this much
# (calibrated on both dev halves: 0.08 answered three more right, 0.12 began to answer wrongly).
ENGLISH_EASING = 0.08
# An entry that leaves half of what is asked unsaid (two words or more) is only the answer at a score this sure:
# "过年几号停发货" is near the dispatch entry, which says nothing of when the New Year break starts (calibrated on
# the three dev halves: 0.5 and 0.6 turned five confident wrong answers into "not sure" and lost one right).
UNSAID_SHARE, UNSAID_CONFIDENT = 0.5, 0.6
# Entries this near the best are about as close: the one that leaves less unsaid wins (the twelve dev halves score
# the same from 0.02 to 0.1: one confident wrong answer turned right, none lost).
TIED = 0.05
CORE_SHARE = 0.4  # a word in this share of an entry's phrasings is what the entry is about
# Below this score an entry near a question that names goods must be asked with a word it is about ("里面都有啥口味" of
# the gift box is not the exchange entry's "能换个口味吗"). Calibrated on the eleven dev halves: from CONFIDENT (0.46)
# to 0.5 turned three confident wrong answers into "not sure" and lost none; 0.6 lost seven right ones.
ASKED_ABOUT = 0.5
GENERIC_FAMILIES = frozenset({"茶", "茶叶", "tea"})  # "茶叶过期了还能喝吗" speaks of every tea
FAMILIES_OF_A_GENERAL_ENTRY = 3  # a keeping entry whose phrasings name this many kinds of goods is about every product
NAMED_BY_SHARE = 0.2  # another entry is about the families this share of its phrasings name, of those naming one
# The words for a kind of product ("这饼想分期付"): they say what it is about, which a shop-wide entry covers.
# Vessels name a kind of product too ("收到的时候碗碎了一个"), though no family: the shop sells no plates.
VESSELS = ("碗", "杯", "茶杯", "杯子", "盘子", "花瓶", "盖碗", "bowl", "cup", "vase")
PRODUCT_KINDS = frozenset(searchable([*FAMILY_WORDS, *(w for words in CATEGORY_WORDS.values() for w in words),
                                      *VESSELS]).split())
PRODUCT_TOPICS = ("shelf_life", "storage", "vacuum_packing", "product_info")
ASPECT_TOPICS = PRODUCT_TOPICS[:3]  # the topics whose entries each answer some aspects of keeping a product
SHIPPING_WORDS = re.compile(rf"寄|发货|运费|邮费|快递|送到|到货|包邮|ship|deliver|postage|\bpost(?:ed)? to\b|\bsend (?:[\w']+ ){{0,4}}to (?!(?:my|me|him|her|them|us|you|your|our|a)\b)|{ARRIVAL}", re.I)
# Where a parcel is now, not where it goes (read with the place taken out: "还显示在 没动").
STUCK = re.compile(r"(?:显示在|停在|卡在|一直在|还在)[^，,。]{0,8}(?:没动|不动|好?几天了|\d+天了)|\b(?:stuck|held up|sitting) (?:in|at)\b",
                   re.I)
# When the shop sends an order out, not how long it takes to a place: no quote for a place named before ("今天下单周末能
# 发货不", "一般几点前下单当天发货" after a quote to 西藏 got that quote again).
DISPATCH_ASKED = re.compile(r"(?:当天|当日|今天|明天|周末|几点|什么时候|啥时候|哪天|多久|几天)[^，,。？?]{0,6}"
                            r"(?:发货|发出|能发(?![到过])|发吗|发不)|发货时间|\b(?:same|next)[- ]day (?:dispatch|shipping)|\bdispatch|"
                            r"\bwhen (?:do|will|would|can) you (?:ship|send)\b(?! (?:[\w']+ ){0,3}(?:to|there|here)\b)", re.I)
# ...unless the arrival is asked too ("下单后多久发货，到那边要几天？", "When do you ship? How long to get there?").
ARRIVAL_ASKED = re.compile(rf"{ARRIVAL}|到[^，,。？?]{{0,4}}(?:几天|多久)|\bhow long\b", re.I)
COLD_CHAIN = re.compile(r"冷链|cold[- ]chain", re.I)  # the service itself, not keeping it cold ("我在三亚 牛肉干需要冷藏吗")
COLD_CHAIN_WORDS = re.compile(r"冷链|冷藏|冰袋|会不会化|cold[- ]chain|refrigerat", re.I)
# A dimension asked: how big, tall, long or wide.
DIMENSION_ASKED = re.compile(r"多[高大长宽]|尺寸|大小|\b(?:how (?:big|tall|long|wide|high)|size|dimensions?)\b", re.I)
# What a catalog summary (origin, price, pack, description) answers: price, origin, taste, size, what it is.
SUMMARY_WORDS = re.compile(
    r"多少钱|(?<![很好太这那么许更省])多钱|价格|价钱|价位|几块|几钱|怎么卖|什么价|啥价|贵|便宜|哪里产|哪产|产地|产自|哪儿的|哪里的|哪的|正宗|原产|口感|口味|"
    r"味道|好吃|好喝|甜|咸|辣|苦|涩|香|酸|多大|多重|几克|多少克|克重|分量|规格|一盒|一包|一斤|几个|几颗|(?:几|多少)[包袋]|是什么|是啥|什么样|"
    r"啥样|什么东西|介绍|怎么样|咋样|如何|还是|多高|多长|多宽|尺寸|什么做的|啥做的|材质|啥木|什么木|成分|配料|里面?(?:是|真的?)?有|"
    r"核|籽|馅|哪一?年|年份|树龄|(?:几|多少)年的|几年陈|烘|加了?糖|添加|防腐|ho?w big|ho?w tall|made of|ingredient|how much|price|cost|where .*from|origin|taste|"
    r"sweet|spicy|salty|size|flavou?r|sugar|roast\w*|additive|preservative|"
    r"\bweighs?\b|\bheavy\b|what is|what'?s|tell me about|describe|any good|how many \w+ (?:in|come|are there|per)\b|\bis there (?:any |real |actual )?\w+ in\b", re.I)
SUMMARY_VOCABULARY = ("多少钱 价格 价钱 价位 块 钱 元 卖 价 贵 便宜 产 产地 原产 哪里 哪儿 正宗 口感 口味 味道 好吃 好喝 吃 喝 "
                      "香 大 大小 尺寸 重 克 分量 规格 盒 包 斤 颗 个 介绍 样 种 茶 price cost much taste "
                      "size weigh heavy origin good describe flavour flavor")
# A count or a weight asked ("一盒有多少颗", "能泡几泡", "月饼一个多重"): only a figure with its unit answers it. Not
# "分给几个亲戚", "喝了几泡", "有几个口味" or "几个系列" (kinds), "是多重包装吗"; a weight has no unit group, or 斤.
COUNT_ASKED = re.compile(r"(?:有|泡|冲|放|用|投|吃|是|口味|大概|一共|总共|里头|里面|里边|一[盒包袋饼罐个颗片箱])\s*(?:几|幾|多少)"
                         r"(颗|顆|粒|个|個|片|泡|次|遍|道|克|斤|公斤|包|袋)(?!月|口味|味道|种|品种|款|样|颜色|系列|等级|规格|型号|档|尺寸|产地|地方)|"
                         r"多重(?![包防保])|多少重|几斤")
# How long to cook or soak it ("腊肉要蒸多久", "松茸要泡多久"): only an answer that gives a time says it ("吃前蒸熟"
# says to steam it, not for how long).
COOKING_TIME_ASKED = re.compile(r"(?:蒸|煮|炖|炒|烤|焖|熬|泡发?)(?:要|得|需要|大概|大约)?(?:多久|好久|多长时间|几分钟|多少分钟|几个?小时|几个?钟头)|"
                                r"\bhow long (?:do|should|does|to|must)\b.{0,20}\b(?:cook|steam|boil|soak|stew|roast)|"
                                r"\b(?:cook|steam|boil|soak|stew|roast)\b.{0,40}\bhow long\b", re.I)
# Whether it costs anything ("试喝装要钱吗", "包装另外收费吗"): only an answer that names a price, or says free, says it;
# "大部分茶叶有25克试饮装" says there are samples, not what they cost.
COST_ASKED = re.compile(r"要钱|收钱|收费|免费|付费|另(?:外)?(?:收|加|付)|加钱|\bfor free\b|\bfree of charge\b|"
                        r"\bcharge(?!d)|\b(?:pay|cost) extra\b|\bextra (?:cost|fee|charge)|\bor free\b", re.I)
COST_STATED = re.compile(r"免费|收费|不收|元|¥|￥|包邮|另算|另付|\bfree\b|\bcharge|¥", re.I)
# A thing given with the purchase ("买茶具送茶叶不", "送不送茶针"): only an answer that says what comes with it (送, 赠, 附)
# says so; how to buy a sample does not.
FREEBIE_ASKED = re.compile(r"送不送|有没有送|赠品|赠送|买[^，,。\s]{1,6}送(?![人礼给客朋领老长亲同女男爸妈])|\bfree gift|"
                           r"\bcomes? with (?:a |any )?free\b", re.I)
FREEBIE_STATED = re.compile(r"送|赠|附|配|\bfree\b|\bcomes? with\b|\binclud", re.I)
# A part of a pack sold on its own ("能拆开卖半饼吗", "茶杯能单独卖一个吗"): the shop's to offer; how to keep the rest
# does not say it.
SOLD_IN_PART = re.compile(r"(?:拆开|拆散|拆着|分开|单独|单个|单只)卖|散卖|零卖|拆卖|卖半|\bsell (?:half|one|a single|just one)\b|"
                          r"\bsplit (?:a|the|one) (?:cake|box|set)\b", re.I)
TIME_STATED = re.compile(r"[\d两三四五六七八九十半几]+\s*(?:多|来|余)?\s*个?(?:分钟|小时|钟头|秒|min|minutes?|hours?|seconds?)\b",
                         re.I)
# A product's weight asked ("月饼一盒重量", "一盒是740克吗", "how heavy"), not a brew's dose ("一次泡几克").
WEIGHED = re.compile(r"重量|克重|分量|净含量|净重|\d\s*(?:克|公斤|千克|斤)|多少\s*k?g\b|几两|多少两|"
                     r"\b(?:\d+\s*k?g|heavy|weighs?|weight(?!\s*loss)|grams?|kilos?|kg)\b", re.I)
# The pieces a pack holds, spelled either way ("4个/盒", "10袋/盒", "1壶6杯").
PIECE_KINDS = ("个個", "颗顆粒", "枚", "只", "片饼餅", "块塊砖磚", "袋包", "杯")  # 一片 is one cake, 一块 one brick
_PIECE = "".join(PIECE_KINDS)
GENERIC_PIECES = ("个個", "只")
WHOLE_PIECES = "块塊饼餅砖磚"  # a cake, a brick or a piece of ham is one thing, which 一个/一只 may ask of
# One piece's weight asked ("月饼一个多重", "一个月饼多重", "榨菜单袋多重"): only a unit per that piece ("500克/袋") or
# of a single thing ("容量220毫升") says it; the weight of a pack of several ("4个/盒，约740克") does not.
PIECE_WEIGHT_ASKED = re.compile(rf"[一每单單]\s*([{_PIECE}])(?!月(?!饼)|人)(?:(?![泡放用投])[\u4e00-\u9fff]){{0,4}}?\s*"
                                r"(?:多重|多少重|多少克|几克|幾克)")
SEVERAL_PIECES = re.compile(rf"(?:\d+|[两三四五六七八九十])\s*[{_PIECE}]")
# How much tea goes into one brew ("一次泡几克", "一次放多少克"): not the weight of the cake ("357克/饼", "357 g cake"),
# but "5克/泡", "5g每次" say it.
DOSE_ASKED = re.compile(r"[泡放用投]\s*(?:几|幾|多少)\s*克")
PER_PACK = (r"(?!\s*(?:[/／每]\s*)?一?[盒饼餅袋罐包箱提装砖磚坛罈套]|"
            r"\s*(?:/\s*)?(?:cakes?|box|bags?|jars?|packs?|tins?|bricks?|packets?|crocks?|sets?)\b)")
_PIECES, _INFUSIONS, _WEIGHT, _BAGS = "颗|顆|粒|个(?!月)|個(?!月)|枚", "泡|次|遍", "克|g|斤|公斤|kg", "包|袋|小包|小袋"
COUNT_UNITS = {"颗": _PIECES, "顆": _PIECES, "粒": _PIECES, "个": f"{_PIECES}|只|块", "個": f"{_PIECES}|只|块", "片": "片",
               "泡": _INFUSIONS, "次": _INFUSIONS, "遍": _INFUSIONS, "道": _INFUSIONS, "克": _WEIGHT, "斤": _WEIGHT, "公斤": _WEIGHT,
               "包": _BAGS, "袋": _BAGS}
# A figure, also a rough one ("30多颗", "十几泡", "二十来颗"; one pound, "一斤装"): not "一颗一泡", nor how often a pot
# is rinsed ("烫两三遍").
FIGURE = r"(?<![烫洗刷\d两三四五六七八九十百])[\d两三四五六七八九十百]+\s*(?:多|几|来|余)?\s*(?:{units})|[一半]\s*(?:斤|公斤)"
# A taste or an additive asked: only the product's own words say it ("榨菜辣不辣", "无花果加糖了没").
OWN_WORDS = re.compile(r"甜|咸|辣|苦|涩|酸|糖|添加|防腐|sweet|spicy|salty|sour|bitter|sugar|additive|preservative")
# An English taste word is stated by the Chinese one too ("Is it spicy?": 干辣椒 in the description says so).
OWN_WORDS_ZH = {"sweet": "甜", "spicy": "辣", "salty": "咸", "sour": "酸", "bitter": "苦", "sugar": "糖", "additive": "添加",
                "preservative": "防腐"}
# How many kinds of a family the shop has ("火腿有几种"): its products, as "有没有火腿" gets.
FAMILY_RANGE = re.compile(r"(?:有哪?(?:几|多少)[种款]|都有(?:哪些|啥|什么)|有(?:哪些|啥))[款种]?(?=[吗呢啊呀？?!！。，,\s]|$)|"
                          r"\bwhat (?:kinds|types|sorts) of \w+ do\b", re.I)  # not "普洱茶都有什么功效"
# The same asked before the family's word ("你们家有什么糕点", "都卖哪几种茶叶"): which products of it the shop has.
KINDS_BEFORE = re.compile(r"(?:有|卖)(?:些|点)?(?:什么|啥|哪些|哪几[种款样]?|几[种款样]|多少[种款])(?:样的|种类的|的)?$")
FRIDGE = re.compile(r"冰箱|冷藏|\bfridge|\brefrigerat", re.I)
# How long to let it rest before it drinks best ("火味好重 要放多久再喝", "生普放几年才好喝"): only an entry that says
# when it is at its best answers; "保质期36个月" is how long it keeps, not when to drink it.
RESTING_ASKED = re.compile(r"(?:放|存|搁|醒|陈)(?:个|上)?(?:多久|多长时间|几天|几个月|几年|多少年)(?:再|才|以后|之后|后)(?:喝|吃|好喝|好吃|更好|最好)|"
                           r"\bhow long (?:should|do|to|must) (?:i |you )?(?:rest|age|let it (?:rest|sit|age))", re.I)
AT_ITS_BEST_SAID = re.compile(r"退火|火气|越陈越|陈放|转化|更好喝|更醇|更香|最好喝|醒茶|mellow|better with age|rest(?:ed|ing)? for", re.I)
# Split into bags of a size or a number ("腊肉能帮我切成半斤一袋抽真空吗", "能切开分几袋"): only an answer that says
# it is split (分装) answers; the product's own vacuum entry says it is packed whole.
SPLIT_ASKED = re.compile(r"(?:分|切)(?:成|开)?[^，,。\s]{0,4}?(?:几|[一两二三四五六半\d])[^，,。\s]{0,3}?[袋包份]|分装|分小袋|分小包|"
                         r"[半一两二\d]+\s*(?:斤|克|g)\s*一[袋包]|\bsplit (?:it |them |the \w+ )?into\b|\bsmaller (?:packs|bags)\b|\b\d+\s*g (?:vacuum )?(?:bags|packs)\b", re.I)
SPLIT_STATED = re.compile(r"分装|分成|\bsplit\b", re.I)
# Where a return is sent ("退货寄到哪个地址", "东西寄回哪里", "whats the return address"): only an answer that gives an
# address (a street and number) says it; how returns work, or changing a delivery address, does not. Not a parcel sent
# back by the courier ("快递被退回原地址了"), the customer's own address ("我想退货 我的地址是…") nor a refund paid back
# ("退款退回哪 要几天到账").
RETURN_ADDRESS_ASKED = re.compile(r"(?:退货|(?<!被)(?<!款)退回(?!原)|寄回|退换)[^，,。？?]{0,8}?(?:(?<!收货)(?<!我的)地址|(?:寄|退|回)?(?:到|去|往)?(?:哪|什么地方))|"
                                  r"\breturn address\b|\bwhere (?:do|should|can|to) (?:i |we )?(?:send|ship|post|mail|return) (?:it|them|the \w+)(?: back)?\b|"
                                  r"\bwhat address (?:do|should|can) (?:i|we) (?:send|ship|post|mail) (?:it |them |the \w+ )?back\b|"
                                  r"\b(?:send|ship|post|mail) (?:the |my |a )?returns? to\b", re.I)
ADDRESS_STATED = re.compile(r"[省市][^，,。\s]{0,6}[区县市][^，,。\s]{1,12}[路街道巷][^，,。\s]{0,6}号|地址[是：:]|\baddress is\b", re.I)
# What a question asks that only an entry whose answer says it answers, however near the entry is: each way of asking
# with what the answer must say ("要放多久再喝": when it drinks best, not how long it keeps; "腊肉要蒸多久": a time, not
# to steam it; "试喝装要钱吗": a price or free; "能拆开卖半饼吗": a part sold; "买茶具送茶叶不": what comes with it;
# "退货寄到哪个地址": the address; "切成半斤一袋": split).
STATED_WHEN_ASKED = ((RESTING_ASKED, AT_ITS_BEST_SAID), (COOKING_TIME_ASKED, TIME_STATED), (COST_ASKED, COST_STATED),
                     (SOLD_IN_PART, SOLD_IN_PART), (FREEBIE_ASKED, FREEBIE_STATED), (RETURN_ADDRESS_ASKED, ADDRESS_STATED),
                     (SPLIT_ASKED, SPLIT_STATED))
# A way to brew it asked ("这款可以冷泡吗 就是放冰箱泡一整晚"): an entry on keeping it names the fridge, not the brew.
BREWING_ASKED = re.compile(r"冷泡|冲泡|泡法|煮着喝|煮来喝|煮茶|\b(?:cold[- ]brew|brew|steep)\w*", re.I)
# Boiling it asked ("熟饼能煮着喝不"): a brewing entry says it of the kinds its sentences on boiling name ("老白茶还可以
# 煮着喝"), not of every tea.
# Not the water boiled ("泡茶的水要煮开吗", "do i boil the water first").
BOILED = re.compile(r"(?<!水)(?<!水要)(?<!水得)煮(?![开沸])(?![^，,。]{0,3}水)|\bboil(?!ing water|ed water| the water| water)|\bsimmer", re.I)
SENTENCES, CLAUSES = re.compile(r"[。；;.!?？！]"), re.compile(r"[，,]")
# How long it keeps in the freezer, or out of the fridge ("腊肉冷冻的话能放多久", "香肠不放冰箱能放几天"): only a time said
# for that way of keeping answers it; "6个月（真空包装冷藏）" is the fridge's, "开封后分装冷冻" gives no time.
HOW_LONG = re.compile(r"多久|多长时间|几天|几个月|几年|放多|放几|搁多|存多|撑|还能(?:吃|喝)|\bhow long\b|\blast\b",
                      re.I)
UNCHILLED = re.compile(r"不放冰箱|没放冰箱|不进冰箱|不冷藏|没冷藏|没有冷藏|放外面|\bout(?:side)? (?:of )?the fridge\b|"
                       r"\bnot (?:in the fridge|refrigerated)\b|\bunrefrigerated\b|\bwithout (?:a )?fridge\b", re.I)
_DURATION = r"[\d一两三四五六七八九十半]+\s*个?(?:月|年|天|周|星期)|\d+\s*(?:months?|years?|days?|weeks?)"
FROZEN_FOR = re.compile(rf"(?:冷冻|冻)[^。；;]{{0,12}}?(?:{_DURATION})|(?:{_DURATION})[^。；;]{{0,6}}?(?:冷冻|冻)|"
                        rf"\b(?:frozen|freezer)\b[^.;]{{0,20}}?(?:{_DURATION})|(?:{_DURATION})[^.;]{{0,20}}?\b(?:frozen|freezer)\b", re.I)
UNCHILLED_FOR = re.compile(rf"(?:常温|室温|阴凉)[^。；;]{{0,12}}?(?:{_DURATION})|(?:{_DURATION})[^。；;]{{0,6}}?(?:常温|室温|阴凉)|"
                           rf"\b(?:room temperature|cool,? dry)\b[^.;]{{0,20}}?(?:{_DURATION})|"
                           rf"(?:{_DURATION})[^.;]{{0,20}}?\b(?:room temperature|cool,? dry)\b", re.I)
# Once opened ("豆瓣酱开封以后还能放多久"): "24个月（未开封）" is the sealed jar's time; an entry answers when it gives
# one after opening, or says to finish it soon.
_OPENING = "开封|开袋|开罐|开盖|打开"
OPENED = re.compile(rf"(?<![没未不])(?:{_OPENING}|开了封|开了(?:袋|包|罐|盖|瓶)|拆开|拆封)|\bonce (?:i |you |it'?s |it is )?open|"
                    r"\bafter (?:i )?open|(?<!not )(?<!been )\bopened\b", re.I)
OPENED_FOR = re.compile(rf"(?:{_OPENING})(?:后|以后|之后)[^。；;]{{0,12}}?(?:{_DURATION}|尽快|当天|当日)|"
                        rf"\b(?:once|after) open(?:ed|ing)?\b[^.;]{{0,30}}?(?:{_DURATION}|\bsoon\b|\bsame day\b)|(?:{_DURATION}) of opening", re.I)
MAY_IT = re.compile(r"能|可以|可不可以|行不行|行不|行吗|行么|行嘛|\b(?:can|could|may|ok|okay|fine|alright|safe)\b", re.I)  # whether it is allowed
NEEDS_IT = re.compile(r"要不要|需要|需不需要|要放|得放|必须|\b(?:need|needs|have to|has to|must|should)\b", re.I)
EITHER_OR = re.compile(r"还是|或者|\bor\b", re.I)
CLAUSE_END = re.compile(r"(?:\s|[吗呢啊呀吧么嘛啦？?!！。，,]|卖|$)")  # "有啥火腿卖吗", "有哪些火腿 想送人"
POINTING = re.compile(r"[这那该]")  # "这茶", "那饼": the product under discussion
BREWED = re.compile(r"(?:泡|沏|冲|煮|装)[过了点]?|\b(?:brew|make)(?:ing)?\b", re.I)  # "泡普洱", "泡过岩茶": a pot's use
BREWED_NAME = 12  # the characters after 泡 where what it brews is named
OTHERS = re.compile(r"别的|其他|其它|还有|都|所有|哪些|\bother\b|\bany\b", re.I)  # "还有别的茶吗": the family
# "是A还是B", "湖南的还是四川的"
CHOICE = re.compile(r"(?:是|^|(?<=[\s，,。]))([\u4e00-\u9fff]{1,6}?)的?还是([\u4e00-\u9fff]{1,6}?)的?(?=[吗呢啊呀？?，,。\s]|$)")
# Whom it suits ("我平时不怎么喝茶 这个适合我吗", "ok for a beginner?"): the summary answers when its description says whom
# the product suits (白牡丹: 适合不太喝茶的年轻人入门), not otherwise ("这款送领导合适吗" of a tea whose description is silent).
SUITS_ASKED = re.compile(r"适合|合适|适不适合|\bsuit|\bbeginner|\b(?:ok|okay|fine|right) for\b", re.I)
SUITS_SAID = re.compile(r"适合|合适|入门")
ENGLISH_CHOICE = re.compile(r"\b(?!not\b)([a-z]{3,}) or (?!not\b)([a-z]{3,})\b", re.I)  # "is the matsutake wild or farmed"
# Shop-wide matters: a product under discussion says nothing about them ("可以开发票吗" after the jerky).
SHOP_WIDE_WORDS = re.compile(
    r"发票|开票|报销|积分|会员|代购|付款|支付|付钱|货到付款|分期|优惠|打折|折扣|优惠券|退货|退款|换货|售后|地址|在哪|门店|实体店|营业|几点|开门|关门|"
    r"能退|可以退|退吗|退不|退得|退掉|[想要把][^，,。]{0,12}退了|(?:能|可以|想)换(?:成|个|一)|"
    rf"{WRONG_ITEM}|"
    r"停车|运费|邮费|包邮|快递|物流|发货|顺丰|冷链|样品|小样|样茶|试喝装|试吃装|invoice|pay|refund|return|exchange|address|"
    r"\bsamples?\b|\bsend (?:it|them) back\b|\b(?:visit|go(?: to)?|come(?: to)?|drop by|where is) (?:ur|your|the) (?:shop|store)\b|"
    r"\bopen\b(?! (?:it|the|them|a|an|this|these|my|your|up)\b)|\bhours\b|parking|"
    rf"shipping|courier|delivery|{ARRIVAL}", re.I)
# Money back, a swap or a payment: a product's own keeping entry answers none of them unless it names it.
MONEY_MATTERS = re.compile(r"退|换|发票|开票|报销|付款|支付|分期|优惠|折扣|打折|\b(?:refund|return|exchange|invoice|pay|discount)",
                           re.I)
# "有没有卖X", "卖X吗", "X卖不卖", "能买X不", "do you sell X": what a customer asks for by name.
ASKED_FOR = re.compile(r"(?:有没有|有木有|有无|有卖|卖不卖|有没|(?<![店铺摊来去])卖|有(?![个個只隻]|一[个個只隻块塊]))(?:卖|得卖)?((?:(?![吗呢么嘛啊吧])[\u4e00-\u9fff]){1,8}?)"
                       r"(?:吗|卖吗|呢|么|嘛|啊|吧|卖|？|\?|$|(?=[\s，,。!！]))"
                       r"|(?:(?:\bdo (?:you|u)|\bdoes (?:ur|your) (?:shop|store)|^(?:hi |hey |hello )?(?:you|u))(?: guys)? (?:sell|have|carry) (?:any )?|^got (?:any )?(?!(?:people|someone|somebody|anyone|anybody|staff|humans?|persons?)\b))([a-z][a-z ]{2,30}?)(?:\?|$| at all| or not)"
                       r"|((?:(?![吗呢么嘛啊吧有])[\u4e00-\u9fff]){2,8})(?:(?:有没有|有)(?:卖|得卖|货)(?:吗|么|嘛|不|没|$)"
                       r"|有卖的吗|有吗|有么|(?:卖不卖|有没有?)(?=[\s，,。!！？?]|$))"
                       r"|能买到?((?:(?![吗呢么嘛啊吧不])[\u4e00-\u9fff]){1,8}?)(?:吗|不|么|嘛|？|\?|$|(?=[\s，,。!！]))", re.I)
MAX_CJK_NAME = 5  # a thing asked for by a name of several words: 宁夏枸杞, 熊猫玩偶
MAX_UNKNOWN_NAME = 4  # a name of single characters this long is one word jieba does not know (车厘子), not a clause
# A change since it was bought ("喝着味道跟刚买时不一样了 正常吗"): the summary's taste is how it was, not why it changed.
CHANGED = re.compile(r"(?:跟|和|与|比)(?:刚买|刚到|以前|之前|原来|当初|上次)[^，,。？?]{0,6}?(?:不一样|不同|变)|变味|味道变|"
                     r"\b(?:tastes?|smells?) (?:different|changed)\b|\bnot the same as (?:before|when)\b", re.I)
JUDGEMENT = re.compile(r"最好|哪个好|哪款好|哪种好|哪样好|更好|哪(?:个|款|种|样)更|还是.{0,8}?(?:好吃|好喝|好|划算|合适|实惠)|"
                       rf"\bbest\b|\bbetter\b|\bwhich (?:one )?(?:is )?more\b|{PREFERRED}",
                       re.I)
# An entry that itself weighs things up ("生普和熟普有什么区别"): the only kind that answers "X跟Y哪个好".
COMPARING = re.compile(JUDGEMENT.pattern + r"|区别|差别|差在哪|(?:什么|啥)不一样|(?:什么|啥)不同|不同在哪|怎么选|\bdifferen|\bvs\b|"
                       r"\bcompar", re.I)
# "是野生的吗", "是不是纯手工的", "有没有手提袋": whether the product is or has something, which its catalog facts may say.
# "陈皮可以煲汤吗": a use, which the summary itself states ("泡水煲汤都可以"); not "能便宜点吗" (a price word, not said).
USE_ASKED = re.compile(r"(?:可以|可不可以|能不能|能)[\u4e00-\u9fff]{1,3}?(?:吗|不|么|嘛|[?？]|$)")
ATTRIBUTE = re.compile(r"是(?:不是)?[\u4e00-\u9fff]{1,6}?的(?:吗|不|么|嘛|吧|呀|啊|[?？]|$)|有没有|带不带|带没带|配不配")
PACK_SIZE = re.compile(r"[一两二三四五六七八九十几每单整]\s*[罐盒包袋瓶斤]|\b(?:per|a|one|each|every)\s+(?:jar|box|pack|bag|bottle|tin)s?\b",
                       re.I)  # "一罐多少钱" asks a size, not storage
YEAR = re.compile(r"(?:19|20)\d\d\s*年|\b(?:19|20)\d\d\b")
SERVICES = re.compile(r"福利|活动|赠品|盒子|袋子|箱子|包装|手提袋|礼品袋|礼袋|贺卡|礼品卡|样品|小样|样茶|试饮|试用|体验装|尝鲜装|试吃|试喝|车位|座位|厕所|洗手间|wifi|服务|客服|真人|人工|店员|电话|微信|联系方式|手机号|邮箱|货|店|仓库|小程序|公众号|网站|官网|网页|(?<![a-z])apps?(?![a-z])|"
                      r"淘宝|京东|拼多多|视频|图|色|辣|口味|味道|尺寸|大小|防腐剂|添加剂|"
                      r"\b(?:caffeine|sugar|salt|msg|gluten|alcohol|preservatives?|additives?|gift cards?|samples?|stock|sizes?|phone(?: number)?|wechat|whatsapp|email|cheaper|coupons?|codes?|stores?|shops?|photos?|videos?|websites?|web ?pages?|"
                      r"pictures?|discounts?|loyalty|programm?e?s?|membership|points|rewards?|vip|"
                      r"this|that|it|one|ones|anything|something)\b", re.I)
# The place found (short name), with its province before it and its unit after it.
PLACE_SPAN = r"(?:{1}(?:省|市|自治区)?)?{0}(?:[\u4e00-\u9fff]{{0,5}}?(?:自治州|自治县|地区|市|县|区|盟|旗))?"
# The place it comes from, asked ("腊肉是湖南的吗", "湖南的还是四川的"); not where the customer is ("我是北京的").
ORIGIN_FORM = r"(?<![我们家人])是(?:不是)?{0}|{0}(?:产|出产|的吗|的吧|的么|的嘛|的不|的还是)"
# With a place named: "常州能到吗", "拉萨几天", "how long to get to beijing"
PLACE_ASKED = re.compile(r"到|几天|多久|多少天|要多长|\bhow long\b|\bhow many days\b|\bget (?:it )?to\b|\bsend\b", re.I)
# Sent to the place a story named ("我妈在北京。寄过去几天？"), not only shipped ("……是当天发货还是第二天发？").
SENT_THERE = re.compile(rf"{PLACE_ASKED.pattern}|过去|过来|这边|那边|寄|运费|邮费|包邮|"
                        r"\b(?:there|here|postage|shipping (?:fee|cost)s?|how much (?:is )?shipping)\b", re.I)
# How it keeps, said in so many words: not the bare "几天" of how long a parcel takes.
KEEPING_SAID = re.compile(r"放|存|搁|保质|保存|坏|变质|过期|\b(?:keep|last|go bad|expire)", re.I)
# A shop to visit in a place is no shipping quote ("a physical store in Shanghai?", "店在昆明哪 怎么到").
STORE_WORDS = re.compile(r"门店|实体店|店面|店在|到店|线下|自提|\b(?:store|shop|pick (?:it )?up)\b", re.I)
# What a quote says: days, fee, cold chain to a place ("寄到常州要几天", "发新疆运费多少").
QUOTE_VOCABULARY = ("寄 寄到 发 发到 发货 运 运费 邮费 快递 送 送到 到 到货 几天 多久 天 时间 多少钱 钱 费 冷链 冷 链 冷藏 包邮 走 加多少 热 "
                    "能 可以 赶得上 赶上 来得及 油费 包油 ship shipping deliver delivery day long cost fee cold chain arrive")
UNTRANSLATED_NOTE = "(Our answer to this one is in Chinese for now; tap \"Ask staff\" for help in English.)\n"
FAMILY_TEXT = Say("我们有这几款{word}：{names}。您想了解哪一款？", "We have these ({word}): {names}. Which one would you like to know about?")


def without_place(question: str) -> tuple[str, tuple[str, str] | None]:
    """``question`` without the place it names (with its province and unit), and the place (short name, province)."""
    place = part = find_place(question)
    for _ in range(3):  # and the prefecture and province around a county ("安徽阜阳临泉县")
        if not part or part[1] != place[1]:
            break
        if not (span := re.search(PLACE_SPAN.format(re.escape(part[0]), re.escape(part[1])), question)):
            break
        end = span.end() + district_length(question, span.end(), part[1])  # "重庆万州的": the district too
        question = f"{question[:span.start()]} {question[end:]}"
        part = find_place(question)
    # nor where the customer is or where it comes from, besides ("我在昆明 寄到上海几天", "从云南寄到江苏要几天")
    if place and (span := place_not_sent_to(question)):
        question = f"{question[:span[0]]} {question[span[1]:]}"
    return question, place


def _named_in(place: str, text: str) -> bool:
    """Whether ``text`` names ``place`` (as written, or by its Chinese name: "Guangzhou", 广州)."""
    found = find_place(place)
    return place.lower() in text.lower() or bool(found and found[0] in text)


def product_summary(product: ProductRecord, language: str = "zh", weighed: bool = False) -> str:
    """What the catalog says of a product: origin, price and pack (with its weight when ``weighed`` asks it), and
    its description."""
    fields = product.fields(language)
    if language == "en":
        return (f"{fields['name']} ({product.name}), from {place_in_english(product.origin)}: "
                f"¥{fields['price']} ({product.pack('en', weighed)}). {fields['description']}")
    return f"{product.name}，产自{product.region}，{fields['price']}元（{product.pack('zh', weighed)}）。{product.description}"


@dataclass(frozen=True)
class Snapshot:
    entries: list[KBRecord]
    catalog: Catalog
    shipping: dict[tuple[str, str], ShippingRateIn]


def product_text(product: ProductRecord) -> str:
    """What a product's vector is made of (a customer's wish is scored against it)."""
    return f"{product.name} {product.name_en} {' '.join(product.tags)} {product.description}"


def read_snapshot(session: Session) -> Snapshot:
    return Snapshot(kb_records(session), catalog_snapshot(session), shipping_snapshot(session))


class Outcome(StrEnum):
    """What the bot did with a question (the answer-quality set labels the same outcomes)."""

    KB = "kb"  # a knowledge-base entry answered it
    CATALOG = "catalog"  # a product's catalog summary, or the products a family word stands for
    SHIPPING = "shipping"  # a quote from the shipping table
    NOT_SOLD = "not_sold"  # the shop does not sell what was asked for
    UNSURE = "unsure"  # nothing the shop wrote answers it: the bot says so and offers a person


@dataclass(frozen=True)
class Subject:
    """What a question is about, as far as the message and the conversation tell."""

    product: str | None = None  # a catalog id
    family: tuple[str, list[str]] | None = None  # a family word and its products
    name: str = ""  # how to name it in a search ("普洱茶", the product's name)
    name_en: str = ""  # the same for a question in English: the English phrasings meet an English name
    words: str = ""  # its names, which say which product, not what is asked (see Knowledge._missing)
    names: tuple[str, ...] = ()  # the same names as written, longest first
    asked: bool = False  # asked for by name: "有没有红茶"
    not_sold: str | None = None  # a thing asked for that the shop does not have

    @property
    def members(self) -> list[str]:
        """The products it stands for: its family's, or the one product."""
        return self.family[1] if self.family else [self.product] if self.product else []

    def strip(self, question: str) -> str:
        """The question without the subject's names: what a shop-wide entry must match ("买个紫砂壶能分期不")."""
        for name in self.names:
            question = re.sub(re.escape(name) if not name.isascii() else rf"(?i)\b{re.escape(name)}\b", " ", question)
        return question.strip() or question


@dataclass(frozen=True)
class Answer:
    outcome: Outcome
    text: str
    hits: list[Hit]
    product: str | None = None  # the product the answer is about (the conversation's context next)
    destination: str | None = None  # province, when the answer is a shipping quote
    products: tuple[str, ...] = ()  # product cards to show: the one summarised, a family's, the closest to one not sold
    not_sold: str = ""  # the name asked for, when the shop does not sell it
    family: str = ""  # the family word, when the answer lists a family's products
    missing: tuple[str, ...] = ()  # the question's words no answer covered, when unsure

    @property
    def confident(self) -> bool:
        return self.outcome != Outcome.UNSURE

    @property
    def answered_by(self) -> str:
        """The outcome as the answer-quality set writes it: ``kb:ID``, ``catalog:PRODUCT``, ``shipping:PROVINCE``..."""
        if self.outcome == Outcome.KB:
            return f"kb:{self.hits[0].id}"
        if self.outcome == Outcome.CATALOG:
            return f"catalog:{self.product or self.family}"
        if self.outcome == Outcome.SHIPPING:
            return f"shipping:{self.destination}"
        return "defer" if self.outcome == Outcome.UNSURE else str(self.outcome)


@dataclass(frozen=True)
class Suggestion:
    """Something staff may send in reply, ready in the customer's language."""

    source: str  # as Answer.answered_by writes it: kb:ID, catalog:PRODUCT, shipping:PROVINCE
    title: str  # what it answers: the entry's first phrasing, the product's name, the place
    text: str
    bot_answer: bool  # what the bot itself answers to the question


SUGGESTED_ENTRIES = 3
SUGGESTED_PRODUCTS = 3
PRODUCT_VECTORS = "products.npz"  # beside the KB's vectors


class Knowledge:
    """Embedder plus the current snapshot; ``apply`` is the only way the snapshot changes."""

    def __init__(self, embedder: Embedder, cache_path: Path | None = None) -> None:
        self.embedder = embedder
        self.cache = VectorCache(cache_path, embedder.name)
        # the catalog's vectors, kept apart: each cache keeps only the texts of its last snapshot
        self.product_cache = VectorCache(cache_path.with_name(PRODUCT_VECTORS) if cache_path else None, embedder.name)
        self.index = KBIndex([], embedder, self.cache)
        self.catalog = Catalog()
        self.shipping: dict[tuple[str, str], ShippingRateIn] = {}
        self._product_vectors: tuple[list[str], np.ndarray] = ([], np.zeros((0, embedder.dim), dtype=np.float32))
        self.coverage = Coverage({})
        # (entry id, revision) -> the text its coverage is checked against; keyed by revision, so an
        # answer still running on the previous snapshot cannot leave an edited entry's old text behind
        self._coverage_texts: dict[tuple[str, int], str] = {}
        self._said_texts: dict[tuple[str, int], str] = {}  # what its answers say, checked by several rules per hit
        self._entry_aspects: dict[tuple[str, int], frozenset[str]] = {}
        self._entry_products: dict[tuple[str, int], frozenset[str]] = {}  # the products a family entry is about
        self._entry_troubles: dict[tuple[str, int], str | None] = {}  # the trouble an after-sales entry is on
        self._entry_cores: dict[tuple[str, int], frozenset[str]] = {}  # the words an entry is asked with

    @classmethod
    def from_settings(cls, settings: Settings, progress=log.info) -> Knowledge:
        model_path = provision(settings.embedding_model, settings.models_path, progress)
        embedder = Embedder(model_path, settings.embedding_model, settings.embedding_threads)
        return cls(embedder, settings.data_path / "index" / "vectors.npz")

    @property
    def model_name(self) -> str:
        return self.embedder.name

    def apply(self, snapshot: Snapshot) -> None:
        """Rebuild the index and the catalog's vectors for ``snapshot`` (embedding only text not seen before).

        The catalog is embedded here, off the customers' path: embedded on the first gift request instead,
        a busy moment had every request at once embed the whole catalog (a quarter of the app's CPU under 8
        customers, in a profile)."""
        started = time.perf_counter()
        index = KBIndex(snapshot.entries, self.embedder, self.cache)
        products = snapshot.catalog.products
        vectors = self.product_cache.embed(self.embedder, [product_text(p) for p in products.values()])
        self.index, self.catalog, self.shipping, self._product_vectors = (
            index, snapshot.catalog, snapshot.shipping, (list(products), vectors))
        by_topic: dict[str, list[list[str]]] = {}
        for entry in snapshot.entries:
            by_topic.setdefault(entry.topic, []).append(list(entry.questions))
        (self.coverage, self._coverage_texts, self._said_texts, self._entry_aspects, self._entry_products,
         self._entry_troubles, self._entry_cores) = (Coverage(by_topic), {}, {}, {}, {}, {}, {})
        log.info("knowledge index: %d entries, %d phrasings in %.2fs",
                 len(index), len(index.phrasings), time.perf_counter() - started)

    def product_similarity(self, text: str) -> dict[str, float]:
        """How close each product (name, tags, description) is to the customer's words, centred on the mean.

        Centring keeps the signal relative: a wish moves some products up and others down.
        """
        ids, vectors = self._product_vectors
        if not ids or not text.strip():
            return {}
        scores = vectors @ self.embedder.encode([text])[0]
        return dict(zip(ids, (scores - scores.mean()).tolist()))

    def closest_products(self, text: str, k: int = 3) -> list[str]:
        """Products most like ``text`` (a product the shop does not sell, say), best first."""
        scores = self.product_similarity(text)
        return sorted(scores, key=scores.get, reverse=True)[:k]

    def search(self, query: str, k: int = 5, **filters) -> list[Hit]:
        return self.index.search(query, k=k, **filters)

    def answer(self, question: str, intent: str | None = None, mentioned: str | None = None,
               context: str | None = None, destination: str | None = None, language: str = "zh") -> Answer:
        """What the bot answers to ``question``: the one answer path of the actions, the CLI and the evaluation.

        ``mentioned``: the product the NLU found in this message (a name the shop may not sell);
        ``context``: the product (catalog id) or family word under discussion before it;
        ``destination``: a place named earlier. The answer is a shipping quote, a KB entry, a catalog
        summary, a family's products, "not sold", or — when nothing the shop wrote covers what is
        asked — unsure.
        """
        question, story = asked_part(as_abroad(to_simplified(question).strip()))
        if story:  # "同事带回来过鸡仔饼……这个到底是用什么做的？": the product the story names is under discussion
            context = self.catalog.find_in_text(story) or context
            if not SENT_THERE.search(question):  # "我儿子去北京上大学……是当天发货还是第二天发？": nowhere it is sent
                destination = None if destination and _named_in(destination, story) else destination
            elif told := find_place(story):  # "我妈在乌鲁木齐。寄过去运费多少？": this message's place, not one named
                destination = told[0]  # before ("…a trip to Japan…", then "I live in Lhasa. Do you ship here?")
        subject = self._subject(question, mentioned, context)
        aspect = asked_aspect(question)
        prefer_topic = aspect if aspect in RANKED_TOPICS else None
        name = subject.name_en if subject.name_en and not CJK.search(question) else subject.name
        query = question if name.lower() in question.lower() else f"{name} {question}".strip()
        hits = self.index.search(query, k=5, prefer_topic=prefer_topic, prefer_product=subject.product,
                                 prefer_shop_wide=subject.family is not None)

        unplaced, named_place = without_place(question)  # where, not what is asked: 江苏常州市, 延边朝鲜族自治州
        origin_asked = self._origin_asked(question, subject, named_place)
        question = unplaced
        place = named_place or find_place(destination)
        visit = STORE_WORDS.search(question)
        # A place read as where it goes, unless the question is how to keep it there ("live in guangzhou, will the
        # walnuts go rancid in summer", read as ask_shipping) and says nothing of sending it.
        # Nor is harm feared on the way ("寄到哈尔滨 路上会不会碎啊" after the tea set, "寄腊肉去广州 路上会不会臭掉") a quote:
        # the packing or the cold chain says.
        feared = bool((TROUBLES["damaged"].search(question) or TROUBLES["spoiled"].search(question)) and WILL_IT.search(question))
        # Nor is where a parcel is stuck ("快递5天了还显示在昆明没动", "stuck in guangzhou for 4 days"), nor a place compared
        # by the NLU's word alone ("better than what they sell at hangzhou airport"); a cold chain to a place named is.
        dispatch = bool(DISPATCH_ASKED.search(question)) and not named_place and not ARRIVAL_ASKED.search(question)
        if place and not feared and not dispatch and not STUCK.search(question) and (
                intent == "ask_shipping" and not visit and aspect != "storage" and not JUDGEMENT.search(question)
                or SHIPPING_WORDS.search(question) or (named_place and COLD_CHAIN.search(question) and aspect != "storage")
                or (named_place and PLACE_ASKED.search(question) and not visit)):
            # The product under discussion decides the warehouse, even when the question is shop-wide.
            product = self.catalog.get(subject.product or self.catalog.resolve(context))
            quoted = quote(self.shipping, *place, product, language,
                           asked_cold_chain=bool(COLD_CHAIN_WORDS.search(question)))
            unquoted = without_people(self.coverage.missing(question, searchable([QUOTE_VOCABULARY, subject.words]), "shipping"),
                                      question)
            # where one was or bought before is no matter a quote leaves out ("我之前在昆明和广州都买过茶…寄到成都要几天"),
            # nor the destination said again; another place sent to is ("寄到北京和天津分别多少钱")
            if quoted and not any((noun or for_the_shop_to_say(word)) and not self._not_sent_to(word, question, place)
                                  for word, noun in unquoted):
                return Answer(Outcome.SHIPPING, quoted, hits, subject.product, place[1])
            if named_place and aspect in HOME_PLACE_TOPICS and not KEEPING_SAID.search(question):
                aspect = None  # a quote asked that says too little ("想买牛肝菌自己炖汤 寄到江苏要几天"): "几天" is no shelf life

        if origin_asked and (summary := self._summary(question, subject, None, language, origin=True)):
            return Answer(Outcome.CATALOG, summary, hits, subject.product, products=(subject.product,))
        if subject.family and subject.asked:  # "你家有红茶吗": the products, not an entry about red tea
            return self._family_answer(subject.family, hits, language)
        product_aspects = aspects([question]) if subject.product else frozenset()  # read once, used twice below
        if product_aspects == {"price"}:
            # "生普多少钱": its price is in the catalog; the shipping fee's entry also says 多少钱 (the summary
            # itself declines shipping and shop-wide matters: "寄过来多少钱")
            if summary := self._summary(question, subject, None, language):
                return Answer(Outcome.CATALOG, summary, hits, subject.product, products=(subject.product,))
        # "买个紫砂壶能分期不" is about paying, not the pot: a shop-wide matter looks at shop-wide entries first.
        shop_wide_first = bool(SHOP_WIDE_WORDS.search(question)) and bool(subject.product or subject.family)
        # A trouble told as having happened ("收到的茶饼碎成渣了 😭") is the after-sales entry's on it, before an entry on
        # keeping that names it too ("收到的茶叶有一股霉味" is no question whether old tea is still good).
        # Goods the shop does not sell have no trouble to report ("螺蛳粉有吗 柳州那种臭臭的" asks for them).
        trouble = None if subject.not_sold else reported_trouble(question)
        hit = self._on_trouble(question, trouble, subject) if trouble else None
        if hit is None and not shop_wide_first:
            hit = self._answering(question, hits, subject, aspect)
        if hit is None and (subject.product or subject.family):  # maybe a shop-wide entry answers it
            query = subject.strip(question) if shop_wide_first else question
            shop_wide = self.index.search(query, k=5, product="", prefer_topic=prefer_topic)
            hit = self._answering(question, shop_wide, subject, aspect)
            if (hit is not None and subject.product and not shop_wide_first and not product_aspects - {"price"}
                    and not REMEDY_ASKED.search(question) and not self._asks_about(question, hit.entry)
                    and (summary := self._summary(question, subject, None, language))):
                # what the product is, asked after it ("啥口味" after the gift box), is its summary's, not a shop-wide
                # entry's near for a word it says (口味, in swapping a flavour one did not like) but asking none of its
                # own; what to do about it ("拍错口味了怎么办") or an aspect of keeping may be the shop's
                return Answer(Outcome.CATALOG, summary, hits, subject.product, products=(subject.product,))
        if hit is None and shop_wide_first:  # the product's own entry may speak of it ("牛肉干快递会压碎吗": its packing);
            # a shop-wide one that failed the matter asked does not ("茶叶喝了一泡不喜欢 能退吗" is not whether old tea keeps),
            # nor one that never names the matter ("鲜花饼太甜了 剩下的能退不" is not how to keep what is left)
            matters = [m.lower() for m in MONEY_MATTERS.findall(question)]
            own = [h for h in hits if h.entry.product and all(m in self._own_text(h.entry) for m in matters)]
            hit = self._answering(question, own, subject, aspect)
        summary = self._summary(question, subject, hit, language)
        if summary:
            return Answer(Outcome.CATALOG, summary, hits, subject.product, products=(subject.product,))
        if hit is not None:
            record = self.catalog.get(hit.entry.product) or self.catalog.get(subject.product)
            text = self._entry_text(hit.entry, record, language)
            return Answer(Outcome.KB, text, [hit, *[h for h in hits if h.id != hit.id]],
                          hit.entry.product or subject.product)
        family_words = searchable([subject.family[0], SUMMARY_VOCABULARY]) if subject.family else ""
        if subject.family and not SHOP_WIDE_WORDS.search(question) and not self.coverage.misses_a_thing(
                question, family_words) and not JUDGEMENT.search(question) and not COUNT_ASKED.search(question) and (
                self._asks_summary(question) or not self.coverage.missing(question, searchable([subject.family[0]]))):
            # the products of a family, unless a thing is asked that no summary says ("does pu'er help you lose
            # weight"), a judgement no list makes ("普洱哪一年的最好") or a shop-wide matter ("茶叶喝了两泡 能退吗")
            return self._family_answer(subject.family, hits, language)
        if subject.not_sold:
            closest = tuple(self.closest_products(subject.not_sold, 3))
            return Answer(Outcome.NOT_SOLD, "", hits, None, products=closest, not_sold=subject.not_sold)
        missing = tuple(w for w, _noun in self._missing(question, hits[0], subject.words)) if hits else ()
        return Answer(Outcome.UNSURE, "", hits, subject.product, missing=missing)

    def suggest(self, question: str, context: str | None = None, language: str = "zh"
                ) -> tuple[list[Suggestion], list[str]]:
        """For staff talking to a customer: what the bot answers to ``question`` (when it is sure), the closest
        entries beside it, and the products nearest to it (catalog ids), through the bot's own answer path."""
        answer = self.answer(question, context=context, language=language)
        suggestions = []
        if answer.confident and answer.text:
            if answer.outcome == Outcome.KB:
                title = answer.hits[0].entry.questions[0]
            elif answer.outcome == Outcome.SHIPPING:
                title = f"运费和时效 · {answer.destination}"
            else:
                title = self.catalog.get(answer.product).name if answer.product else answer.family
            suggestions.append(Suggestion(answer.answered_by, title, answer.text, bot_answer=True))
        for hit in answer.hits:
            if len(suggestions) == SUGGESTED_ENTRIES:
                break
            if any(s.source == f"kb:{hit.id}" for s in suggestions):
                continue  # the bot's own answer, already first
            record = self.catalog.get(hit.entry.product) or self.catalog.get(answer.product)
            suggestions.append(Suggestion(f"kb:{hit.id}", hit.entry.questions[0],
                                          self._entry_text(hit.entry, record, language), bot_answer=False))
        discussed = [answer.product] if answer.product else []  # the product a KB answer was about
        products = list(dict.fromkeys([*discussed, *answer.products,
                                       *self.closest_products(question, SUGGESTED_PRODUCTS)]))
        return suggestions, products[:SUGGESTED_PRODUCTS]

    @staticmethod
    def _not_sent_to(word: str, question: str, place: tuple[str, str]) -> bool:
        """Whether ``word`` is the destination said again or a place where the customer is or was ("在昆明和广州")."""
        if not find_place(word):
            return False
        return word in place[0] or place[0] in word or bool(re.search(rf"[在从][^，,。？?寄发送]{{0,5}}{re.escape(word)}", question))

    def _subject(self, question: str, mentioned: str | None, context: str | None) -> Subject:
        """What the question is about: a product, a family, something the shop does not sell, or nothing.

        What is asked for by name ("有没有卖X", "do you sell X") is read from the words, with or without the
        NLU: its product entity may be a misreading (DIET tags "per jar", "label", "wrapper" as products), so
        one the catalog does not know never counts on its own. "有停车位吗" asks for no goods: not a product.
        """
        by_name = self._asked_name(question)
        # a family the NLU tags must be one customers name ("普洱", "ham"), not any piece of a name ("鲜花" of 鲜花饼)
        tagged_family = self.catalog.family_in_text(mentioned or "")  # "新茶": the tea family, not "we don't sell 新茶"
        known = mentioned if self.catalog.resolve(mentioned) else None
        asked = known or by_name or (tagged_family[0] if tagged_family else None)  # "有卖茉莉花茶吗": not sold
        if self._brewed_in_context(question, context):
            return self._about_product(self.catalog.resolve(context))  # "能拿来泡绿茶不" after a pot: the pot's use
        named = self.catalog.find_in_text(question) or self.catalog.resolve(mentioned)
        if named:  # "有月饼吗": the product asked for by name
            return self._about_product(named, asked=bool(by_name) and self.catalog.resolve(by_name) == named)
        if asked and (members := self.catalog.family(asked)):
            if pointed := self._pointed_at(question, context, members):
                return self._about_product(pointed)  # "這個茶餅可以放雪櫃嗎" (茶饼 tagged) after the raw cake
            if len(members) == 1:  # "玲珑": part of one product's name; "do you sell bowls?": yes, these
                return self._about_product(members[0], asked=asked == by_name)
            return self._about_family(asked, members, asked=asked == by_name or bool(FAMILY_RANGE.search(question)))
        if asked and not (self.catalog.family_in_text(question.replace(asked, " ")) or self.catalog.resolve(context)):
            # not "火腿里面有没有亚硝酸盐", about what is in the ham; after a product, "有没有沙" and "有没有收藏证书" are
            # about it too, so "有没有燕窝" then is unsure rather than "not sold" (a wrong "we don't sell 沙" is worse)
            return Subject(not_sold=asked)
        if found := self.catalog.family_in_text(question):
            if pointed := self._pointed_at(question, context, found[1]):
                return self._about_product(pointed)  # "这饼是哪年的茶" after the shou mei cake is about it
            at = question.find(found[0])  # "有哪些火腿", not "有什么茶能降血脂"
            kinds_asked = at >= 0 and KINDS_BEFORE.search(question[:at]) and CLAUSE_END.match(question, at + len(found[0]))
            return self._about_family(*found, asked=bool(FAMILY_RANGE.search(question) or kinds_asked))
        if context and not SHOP_WIDE_WORDS.search(question):
            # "那能放多久" after the jerky is about the jerky; "可以开发票吗" is not about any product.
            if context_id := self.catalog.resolve(context):
                return self._about_product(context_id)
            if members := self.catalog.family(context):
                return self._about_family(context, members, asked=False)
        return Subject()

    def _pointed_at(self, question: str, context: str | None, members: list[str]) -> str | None:
        """The product under discussion, when the question points at it by its family's word ("这饼", "这个茶饼")."""
        context_id = self.catalog.resolve(context)
        if context_id in members and POINTING.search(question) and not OTHERS.search(question):
            return context_id
        return None

    def _brewed_in_context(self, question: str, context: str | None) -> bool:
        """Whether the question names goods brewed in the teaware under discussion ("泡过岩茶了 还能拿来泡普洱吗" after a
        pot asks what the pot may brew, not how to brew pu'er)."""
        record = self.catalog.get(self.catalog.resolve(context))
        return bool(record and record.category == "teaware" and any(
            self.catalog.find_in_text(what) or self.catalog.family_in_text(what)
            for what in (question[m.end():m.end() + BREWED_NAME] for m in BREWED.finditer(question))))

    def _about_product(self, product_id: str, asked: bool = False) -> Subject:
        product = self.catalog.get(product_id)
        names = [product.name, product.name_en, *product.aliases, *english_aliases(product.name_en)]
        return Subject(product=product_id, name=product.name, name_en=product.name_en, asked=asked, words=searchable(names),
                       names=tuple(sorted({n for n in names if n}, key=len, reverse=True)))

    def _about_family(self, word: str, members: list[str], asked: bool) -> Subject:
        return Subject(family=(word, members), name=word, words=searchable([word]), asked=asked, names=(word,))

    @staticmethod
    def _origin_asked(question: str, subject: Subject, place: tuple[str, str] | None) -> bool:
        """Whether ``place``, named in ``question``, is where the product comes from ("腊肉是湖南的吗", "是不是云南产的")."""
        return bool(subject.product and place and not aspects([question])  # "我是广东的，腊肠过期了还能吃吗"
                    and re.search(ORIGIN_FORM.format(re.escape(place[0])), question))

    def _summary(self, question: str, subject: Subject, hit: Hit | None, language: str,
                 origin: bool = False) -> str | None:
        """The catalog summary, for a question about a product's price, origin, taste, size or what it is.

        It answers unless a product-information entry does, or the question is about a shop-wide
        matter; another aspect's entry of the product (its storage, say) does not answer "甜不甜".
        """
        if not subject.product or SHOP_WIDE_WORDS.search(question) or SHIPPING_WORDS.search(question):
            return None  # "大红袍寄过来多少钱" is what shipping costs
        if hit is not None and self._aspects(hit.entry) & (aspects([PACK_SIZE.sub(" ", question)]) - {"price"}):
            return None  # the entry answers what it is asked ("真空包装多少钱", "放多久才到最好喝", "spicy… fridge or freezer?")
        weighed = self._weight_asked(question)
        if subject.asked:  # "有月饼吗": yes, this one
            return product_summary(self.catalog.get(subject.product), language, weighed)
        product = self.catalog.get(subject.product)
        covered = searchable([*self._product_texts(product), SUMMARY_VOCABULARY])
        # "是野生的不": an attribute the catalog's own words state, every word of it; "可以煲汤吗": a use the summary states
        attribute_stated = bool(ATTRIBUTE.search(question)) and not self.coverage.missing(question, covered)
        use_stated = bool(USE_ASKED.search(question)) and not self.coverage.missing(
            question, f"{self._summary_words(product)} {subject.words}")
        stated = attribute_stated or use_stated
        asks = origin or stated or self._asks_summary(question) or bool(
            SUITS_ASKED.search(question) and SUITS_SAID.search(product.description))
        # "wild or farmed" asks the summary when it settles the choice, as "还是" (below)
        if not (asks or ENGLISH_CHOICE.search(question)) or JUDGEMENT.search(question) or CHANGED.search(question):
            return None  # "跟大红袍比哪个好喝": one product's facts judge nothing, nor say why it changed
        if "made" in aspects([question]) and not YEAR.search(self._summary_words(product)):
            return None  # "熟普是哪年的茶": a summary with no year gives none
        asked, _other_place = without_place(question)  # "湖南的还是四川的": the origin the summary gives answers it
        if DIMENSION_ASKED.search(asked):  # "花瓶多高 柜子放得下吗": the size the summary gives; whether it fits is the customer's
            asked = re.sub(FITS, " ", asked, flags=re.I)
        settled = False  # "是牦牛肉还是黄牛肉": a summary that names one of them answers, whatever entry is near
        if choice := CHOICE.search(asked) or ENGLISH_CHOICE.search(asked):
            either, other = choice.groups()
            shown = self._summary_words(product)
            if settled := self._settles(other, either, subject, shown):
                asked = asked.replace(either, " ")
            elif settled := self._settles(either, other, subject, shown):
                asked = asked.replace(other, " ")
        if not (asks or settled):
            return None
        if not self._states_count(question, lambda: " ".join(self._product_texts(product))) or (
                not self._one_piece_weighed(question, product.unit)):
            return None  # "小沱茶一盒有多少颗": the catalog's words give no count; "月饼一个多重": 740克 is four
        if own_words := OWN_WORDS.findall(asked.lower()):  # "榨菜辣不辣": a summary silent on heat does not answer
            said = self._summary_words(product)  # (but "咸的还是原味的")
            if any(word not in said and OWN_WORDS_ZH.get(word, word) not in said for word in own_words):
                return None
        if hit is not None and not settled and (hit.entry.topic not in PRODUCT_TOPICS and not stated or (
                hit.entry.topic == "product_info" and not self._missing(question, hit, subject.words))):
            return None  # a shop-wide comparison ("生普和熟普哪个好") is not the price of one cake
        missing = self.coverage.missing(asked, covered)
        if any(noun for _word, noun in missing) or len(missing) >= max(3, UNSAID_SHARE * len(content_words(asked))):
            return None  # a thing no summary says, or most of what is asked ("can you supply a cafe at a wholesale price")
        return product_summary(product, language, weighed)

    @staticmethod
    def _summary_words(product: ProductRecord) -> str:
        """What the summary says of ``product``, in both languages, for words to be looked up in."""
        return searchable([product_summary(product, "zh"), product_summary(product, "en")])

    @staticmethod
    def _weight_asked(question: str) -> bool:
        """"月饼一盒多重", "how heavy is the tea set": the summary gives the weight; "一次泡几克" asks a dose."""
        weight = any(asked.group(1) in (None, "克", "斤", "公斤") for asked in COUNT_ASKED.finditer(question))
        return (weight or bool(WEIGHED.search(question))) and not DOSE_ASKED.search(question)

    @staticmethod
    def _one_piece_weighed(question: str, unit: str) -> bool:
        """Whether ``unit`` gives the weight of the one piece ``question`` may ask of ("一个月饼多重"): a unit per that
        piece ("1公斤/块", "500克/袋") or of a single thing ("容量220毫升"), not a pack of several."""
        if not (asked := PIECE_WEIGHT_ASKED.search(question)):
            return True
        kind = next(kind for kind in PIECE_KINDS if asked.group(1) in kind)
        if kind in GENERIC_PIECES:  # "火腿一个多重", "一个茶饼多少克": 1公斤/块, 357克/饼 are one piece each
            kind += WHOLE_PIECES
        per_piece = re.search(rf"[/／每]\s*[{kind}]", unit)
        a_pack = re.search("[/／每]", unit) or SEVERAL_PIECES.search(unit)
        return bool(per_piece or not a_pack)

    @staticmethod
    def _states_count(question: str, said: Callable[[], str]) -> bool:
        """Whether what is ``said`` (built only when a count is asked) gives the count or weight ``question``
        asks: a figure with its unit."""
        if not (asked := COUNT_ASKED.search(question)):
            return True
        units = COUNT_UNITS[asked.group(1) or "克"]  # 多重, 几斤: a weight
        per_pack = PER_PACK if DOSE_ASKED.search(question) else ""
        return bool(re.search(f"(?:{FIGURE.format(units=units)}){per_pack}", said(), re.I))

    def _settles(self, side: str, alternative: str, subject: Subject, covered: str) -> bool:
        """Whether the summary, naming ``side``, settles "是side还是alternative": ``side`` names a thing (not
        "新烧的") that ``covered`` has in every word (not 火腿尖: the summary names 火腿, no cut), or is an English
        word it has ("wild or farmed"), and ``alternative`` is no other product ("大红袍还是肉桂好喝" compares two)."""
        others = set() if self.catalog.family_in_text(alternative) else (  # "白茶还是绿茶": kinds, not products
            set(self.catalog.names_in_text(alternative)) - {subject.product})
        if side.isascii():
            return not others and not self.coverage.missing(side, covered)
        return (not others and any(noun for _word, noun in content_words(side))
                and not self.coverage.missing(side, covered))

    @staticmethod
    def _asks_summary(question: str) -> bool:
        """Price, origin, taste, size or what it is; "火腿怎么炖好吃" asks how to cook it, and "便宜点呗" a better price,
        which no summary says."""
        return (bool(SUMMARY_WORDS.search(question)) and not ASPECT_CUES["cooking"].search(question)
                and not HAGGLED.search(question))

    def _asked_name(self, question: str) -> str | None:
        """The name in "有没有卖X", "有X吗", "do you sell X", when it is one thing (not "加防腐剂", "积分")."""
        match = ASKED_FOR.search(question)
        said = match and next((name for name in match.groups() if name), "").strip()
        name = said
        if name and not name.isascii():  # "请问燕窝有卖吗": the thing, without the asking
            name = "".join(word for word, _thing in content_words(name))
        place = find_place(name)  # a place that is all the name ("新疆的"), not 长白山人参 (白山 is in Jilin)
        if not name or SHOP_WIDE_WORDS.search(name) or SERVICES.search(said) or (
                place and len(name) <= len(place[0]) + 1):
            return None  # "有停车位吗", "有生日福利没", "北京有卖吗": what the shop does or where, not goods
        return name if self._a_thing(name) or (name.isascii() and self.catalog.family(name)) else None

    @staticmethod
    def _a_thing(name: str) -> bool:
        """A short name that starts with a thing (榴莲干, 宁夏枸杞; matcha powder), or a longer one of things only
        (阳澄湖大闸蟹): not a doing (加防腐剂), nor a clause ("有糖尿病能吃红枣吗")."""
        words = content_words(name)
        long_clause = len(name) > MAX_CJK_NAME and not name.isascii() and not all(thing for _word, thing in words)
        if len(words) > 1 and (HEALTH.search(name) or long_clause):
            return False
        # a thing's name ends with the thing (土蜂蜜, 野生菌), after what says which one
        headed = len(words) == 2 and words[1][1] and a_quality(words[0][0])
        # a short name jieba does not know falls into single characters (车厘子, 花胶), one of them a thing
        unknown = len(name) <= MAX_UNKNOWN_NAME and all(len(word) == 1 for word, _thing in words) and any(
            thing for _word, thing in words)
        return 0 < len(words) <= 3 and (words[0][1] or headed or unknown or name.isascii())

    def _answering(self, question: str, hits: list[Hit], subject: Subject, aspect: str | None) -> Hit | None:
        """The best of the top hits that answers the question, or None.

        An entry about keeping a product answers only the aspect asked ("能搁多久", not "能减肥不"); one
        that leaves a thing the question names uncovered (a noun: 猫, 消毒柜) needs a high score; one
        that covers every word, a fair score; one that misses only how it was said (搁, 坏), a confident score.
        """
        english = not CJK.search(question)
        # Already past its date, or when it was made: only an entry that asks so answers, whatever aspect ends last.
        dated = aspects([question]) & {"expired", "made"}
        compared = self._compared(question)
        # "fridge or freezer?" is a choice an entry that names the fridge settles
        freezing = FREEZING.search(question) and not (EITHER_OR.search(question) and FRIDGE.search(question))
        brewing = BREWING_ASKED.search(question)
        must_say = [said for asked, said in STATED_WHEN_ASKED if asked.search(question)]
        # "能放冰箱吗" is a yes or no an entry must say; "要放冰箱吗" and "fridge or freezer?" one that says room
        # temperature settles
        chilling = (FRIDGE.search(question) and MAY_IT.search(question) and not NEEDS_IT.search(question)
                    and not (freezing or EITHER_OR.search(question)))
        kept_how = HOW_LONG.search(question) and ("unchilled" if UNCHILLED.search(question) else
                                                  "frozen" if FREEZING.search(question) else
                                                  "opened" if OPENED.search(question) else None)
        answering: list[tuple[Hit, int]] = []  # each hit that answers, with how many words it leaves unsaid
        # goods named: what a near entry that speaks of them too may be close to without answering
        goods_named = bool(subject.names) or any(word in PRODUCT_KINDS for word, _noun in content_words(question))
        for hit in hits[:3]:
            if hit.score < COVERED_CONFIDENT:
                break
            if subject.product and hit.entry.product not in ("", subject.product):
                continue  # another product's entry: right words, wrong product ("那能放多久" after the jerky)
            if subject.family and hit.entry.product and hit.entry.product not in subject.family[1]:
                continue  # a product outside the family ("这个熟茶可以放冰箱吗": not the 大红袍's)
            if not hit.entry.product and not self._for_subject(hit.entry, subject):
                continue  # a family's entry (岩茶怎么保存) says nothing of another family's product (熟茶饼)
            if not (subject.product or subject.family) and hit.entry.topic in ASPECT_TOPICS and (
                    hit.entry.product or self._family_products(hit.entry)):
                continue  # "开了要冷藏吗" names nothing: how rock tea keeps is no answer for whatever they have
            if not hit.entry.product and (subject.names or subject.not_sold) and not self._speaks_to(
                    question, hit.entry, subject):  # "有茶杯吗" asks for cups, not about tea in pregnancy
                continue  # "火腿好吃吗" is not the cold chain's, though ham is named in it and 好吃 in its topic
            if subject.family and hit.entry.product and any(
                    not h.entry.product and h.entry.topic == hit.entry.topic and self._for_subject(h.entry, subject)
                    for h in hits[:3]):
                continue  # "普洱茶" then "那怎么保存": the family's own entry, not one member's beside it
            if freezing and hit.entry.topic in ASPECT_TOPICS and not (
                    FREEZING.search(self._own_text(hit.entry)) or FRIDGE_REFUSED.search(self._said(hit.entry))):
                continue  # "鲜花饼能冷冻吗": an entry that never names the freezer (nor says no to the fridge) does not say
            if not self._states_count(question, lambda: self._said(hit.entry)):
                continue  # "一饼茶能泡多少次": how to brew it gives no count
            if brewing and hit.entry.topic in ASPECT_TOPICS and not BREWING_ASKED.search(self._said(hit.entry)):
                continue  # "可以冷泡吗": how to keep it in the fridge is no way to brew it
            if BOILED.search(question) and not hit.entry.product and not self._boils(hit.entry, subject):
                continue  # "熟饼能煮着喝不": "老白茶还可以煮着喝" is said of aged white tea
            if chilling and hit.entry.topic in ASPECT_TOPICS and not FRIDGE.search(self._said(hit.entry)):
                continue  # "月饼可以放冰箱吗": "阴凉干燥处常温保存" does not say whether the fridge harms it
            if any(not said.search(self._said(hit.entry)) for said in must_say):
                continue  # "试喝装要钱吗": that there are samples is not what they cost (STATED_WHEN_ASKED)
            if kept_how and not self._keeps_so_long(hit.entry, kept_how):
                continue  # "冻冰箱里能放多久": the fridge's six months is not the freezer's time
            if (trouble := self._trouble(hit.entry)) and (not TROUBLES[trouble].search(question) or WILL_IT.search(question)):
                continue  # "这个是红茶还是绿茶" is no wrong item sent ("发成绿茶了"), "快递丢了" nothing broken, "会不会压扁" no harm done yet
            if (any(p.search(question) for p in (RETURNING, BULK, A_GROUP))
                    or HAGGLED.search(question) and not FIRST_ORDER.search(question)) and FOR_NEW_ONLY.search(self._said(hit.entry)):
                continue  # a first order's offer says nothing of a returning customer's, a company's or a group's, nor of a haggle
            if not BULK.search(question) and FOR_BULK_ONLY.search(self._said(hit.entry)):
                continue  # "能便宜一點嗎": a company's discount is no answer to one customer
            if compared and not self._weighs_up(hit.entry, compared):
                continue  # "大红袍跟肉桂哪个好喝": what rock tea is names both and judges neither
            covers = self._aspects(hit.entry)
            # The words that ask the aspect the entry answers are covered however they are said ("保存期限多久").
            asked = ASPECT_CUES[aspect].sub(" ", question) if aspect in covers else question
            missing = self._missing(asked, hit, subject.words)
            # who keeps it, or who it is sent to ("直接寄去我奶奶家"), unless whether they may eat it is asked;
            # and in which city it is kept ("陈皮在广州回南天会不会长霉"): the damp is the entry's, not the city
            kept = aspect in covers and aspect in HOME_PLACE_TOPICS
            if kept or hit.entry.topic == "shipping":
                missing = without_people(missing, question)
            if kept:
                missing = [(word, noun) for word, noun in missing if not find_place(word)]
            said_so = aspect is None and hit.dense >= SAME_QUESTION and not any(noun for _word, noun in missing)
            if covers and aspect not in covers and not said_so:
                continue  # an entry answers its aspects: "熟普能减肥不" is not about vacuum packing
            if dated - covers:  # how long the jerky keeps says nothing of one a month past its date, nor of its roast date,
                continue  # and an entry on no aspect nothing of a thing past its date ("优惠券过期了还能用吗")
            if any(noun for _word, noun in missing) and hit.score < NOUN_TOLERANT:
                continue
            if hit.entry.product and any(self.catalog.resolve(word) not in (None, hit.entry.product) for word, _n in missing):
                continue  # "安吉白茶和龙井能放一个冰箱里吗": one tea's own entry, however near, says nothing of the other
            if hit.score < ASKED_ABOUT and goods_named and not self._asks_about(question, hit.entry):
                continue  # "这把壶能泡咖啡吗" says nothing of a video call, though the video entry names pots and brewing
            if self._left_to_the_shop(question, hit, missing):
                continue
            if len(missing) >= max(2, UNSAID_SHARE * len(content_words(asked))) and hit.score < UNSAID_CONFIDENT:
                continue
            if not missing or hit.score >= CONFIDENT - (ENGLISH_EASING if english else 0.0):
                answering.append((hit, len(missing)))
        if not answering:
            return None
        # Of entries about as near, the one that says more of what is asked, then the one on fewer aspects: "the vase is
        # fragile, how do you pack it?" is its packing entry's, not the care entry's that also says it fears knocks.
        first, unsaid = min((c for c in answering if c[0].score >= answering[0][0].score - TIED),
                            key=lambda c: (c[1], len(self._aspects(c[0].entry))))
        # The product's own entry wins by its bonus only when it says as much as a shop-wide one beside it:
        # "腊肉想分成几袋 能分开真空吗" is the shop's entry on splitting, not the bacon's on vacuum packing.
        return next((hit for hit, n in answering[1:] if first.entry.product and not hit.entry.product
                     and n < unsaid and hit.score >= first.score - PRODUCT_BONUS), first)

    def _boils(self, entry: KBRecord, subject: Subject) -> bool:
        """Whether a shop-wide ``entry`` says boiling of the ``subject`` (any product, when none): a phrasing, or a
        clause of its answer, on boiling names the subject's kind or none (a clause that names none speaks of what its
        sentence names: "红茶、普洱，都可以煮着喝")."""
        if not subject.members:
            return True
        sentences = [to_simplified(q) for q in entry.questions] + SENTENCES.split(f"{entry.answer}。{entry.answer_en}")
        for sentence in sentences:
            for clause in CLAUSES.split(sentence):
                if BOILED.search(clause):
                    named = self._products_named(clause) or self._products_named(sentence)
                    if not named or not named.isdisjoint(subject.members):
                        return True
        return False

    def _products_named(self, text: str) -> set[str]:
        """The products ``text`` names, by name or by family."""
        named = {p for _word, found, _at in self.catalog.families_in_text(text) for p in found}
        return named | {p for name in self.catalog.names_in_text(text) if (p := self.catalog.resolve(name))}

    def _keeps_so_long(self, entry: KBRecord, kept_how: str) -> bool:
        """Whether ``entry`` says how long a product keeps ``kept_how`` (frozen; once opened; or out of the fridge:
        only when what it says is for the fridge, "36个月" of a tea kept out of it is that time)."""
        said = self._said(entry)
        if kept_how == "frozen":
            return bool(FROZEN_FOR.search(said))
        if kept_how == "opened":
            return bool(OPENED_FOR.search(said))
        return bool(UNCHILLED_FOR.search(said)) or not FRIDGE.search(said) or bool(FRIDGE_REFUSED.search(said))

    def _on_trouble(self, question: str, trouble: str, subject: Subject) -> Hit | None:
        """The after-sales entry on the ``trouble`` the customer reports, unless they ask what only the shop may
        say ("壶盖磕了 能修吗") or a way the entry does not name."""
        for hit in self.index.search(subject.strip(question), k=5, topic="after_sales", product=""):
            if self._trouble(hit.entry) != trouble:
                continue
            return None if self._left_to_the_shop(question, hit, self._missing(question, hit, subject.words)) else hit
        return None

    def _left_to_the_shop(self, question: str, hit: Hit, missing: list[tuple[str, bool]]) -> bool:
        """Whether the question asks what only the shop may say and the entry does not ("腊肉胀袋了 还能吃吗", "熟普能减肥不",
        "寄德国包邮吗", "壶盖磕了 能修吗"), or a way the entry never names ("丝巾能送干洗店吗": hand-wash is no yes to
        the dry cleaner's, Visa none to Apple Pay)."""
        return any(for_the_shop_to_say(word) for word, _noun in missing) or unsaid_ways(question, self._own_text(hit.entry))

    def _trouble(self, entry: KBRecord) -> str | None:
        """The trouble an after-sales entry is on (broken, spoiled, the wrong item), if one."""
        if entry.topic != "after_sales":
            return None
        return self._per_entry(self._entry_troubles, entry,
                               lambda: entry_trouble([to_simplified(q) for q in entry.questions]))

    def _compared(self, question: str) -> list[str]:
        """The products and kinds a judgement or a comparison weighs against each other ("寿眉跟白牡丹哪个好",
        "乌龙茶跟红茶差在哪"), if two or more."""
        if not COMPARING.search(question):
            return []
        names = [*self.catalog.names_in_text(question), *(word for word, _m, _s in self.catalog.families_in_text(question))]
        named = {self.catalog.resolve(name) or name for name in names}
        return names if len(named) > 1 else []

    def _weighs_up(self, entry: KBRecord, compared: list[str]) -> bool:
        """Whether ``entry`` compares things (one of its phrasings does) and names every one of ``compared``."""
        text = self._own_text(entry)
        return (any(COMPARING.search(to_simplified(q)) for q in entry.questions)
                and all(name.lower() in text for name in compared))

    def _family_answer(self, family: tuple[str, list[str]], hits: list[Hit], language: str) -> Answer:
        """The products a family word stands for: a line naming them, and the first three as cards."""
        separator = ", " if language == "en" else "、"
        names = separator.join(self.catalog.get(p).fields(language)["name"] for p in family[1][:6])
        text = FAMILY_TEXT.to(language).format(word=family[0], names=names)
        return Answer(Outcome.CATALOG, text, hits, None, products=tuple(family[1][:3]), family=family[0])

    def _speaks_to(self, question: str, entry: KBRecord, subject: Subject) -> bool:
        """Whether a shop-wide entry's own text has a word the question asks beyond naming its product or its kind."""
        text = self._own_text(entry)  # another kind than the subject's counts: "岩茶是红茶的一种吗"
        return any(word in text for word, _noun in content_words(subject.strip(question))
                   if word not in PRODUCT_KINDS or word not in subject.words)

    def _own_text(self, entry: KBRecord) -> str:
        """What ``searchable`` makes of an entry's phrasings, answers, tags and its product's catalog facts."""
        product = self.catalog.get(entry.product)
        return self._per_entry(self._coverage_texts, entry, lambda: searchable(
            [*entry.questions, entry.answer, entry.answer_en, *entry.tags,
             *(self._product_texts(product) if product else ())]))

    def _said(self, entry: KBRecord) -> str:
        """What an entry's answers say (its product's facts filled in), without its phrasings: "要不要放冰箱" is asked."""
        record = self.catalog.get(entry.product)
        return self._per_entry(self._said_texts, entry, lambda: " ".join(
            self._entry_text(entry, record, language) for language in LANGUAGES))

    def _missing(self, question: str, hit: Hit, subject_words: str) -> list[tuple[str, bool]]:
        """The question's words that ``hit``'s entry does not cover (its product's names count when it is theirs)."""
        entry = hit.entry
        text = self._own_text(entry)
        if not entry.product:  # a shop-wide entry answers for every product, whichever the question names,
            # unless it is on one family: then for its own ("紫砂壶能泡咖啡吗" is not how a new pot is opened)
            kinds = [word for word, _noun in content_words(question) if word in PRODUCT_KINDS]
            named = self.catalog.names_in_text(question)
            if about := self._family_products(entry):
                # its category speaks of kinds asked together ("岩茶绿茶换着泡 一把壶行吗": one kind of tea to a pot),
                # not of one asked alone ("西施壶泡普洱合适吗": which tea suits the pot, which it never says)
                families = {word: self.catalog.family(word) for word in kinds}
                products = {name: self.catalog.resolve(name) for name in named}
                others = {frozenset(found) for found in families.values() if found and about.isdisjoint(found)}
                others |= {frozenset([p]) for p in products.values()
                           if p and p not in about and not any(p in kind for kind in others)}  # 绿茶: a name and a family
                together = len(others) > 1
                kinds = [word for word in kinds if self._spoken_of(families[word], about, text, together)]
                named = [name for name in named if self._spoken_of([products[name]], about, text, together)]
            text += " ".join(["", subject_words, *kinds, searchable(named)])
        return self.coverage.missing(question, text, entry.topic)

    def _spoken_of(self, products: list[str | None], about: frozenset[str], text: str, by_category: bool) -> bool:
        """Whether an entry on the products ``about`` speaks of ``products`` (none: a word of no family, 壶): they
        are among its own or, ``by_category``, of a category its ``text`` names (普洱 is a tea, and a new pot's entry
        says 茶; 咖啡 is not)."""
        records = [record for product in products if (record := self.catalog.get(product))]
        return not records or any(record.id in about or by_category and any(
            word in text for word in CATEGORY_WORDS.get(record.category, ())) for record in records)

    def _for_subject(self, entry: KBRecord, subject: Subject) -> bool:
        """Whether a shop-wide entry can speak of the subject: it names no family, or the subject's."""
        if not subject.members:
            return True
        found = self._family_products(entry)
        return not found or not found.isdisjoint(subject.members)

    def _family_products(self, entry: KBRecord) -> frozenset[str]:
        """``_families_named`` of a shop-wide entry, worked out once per entry revision."""
        return self._per_entry(self._entry_products, entry, lambda: self._families_named(entry))

    def _families_named(self, entry: KBRecord) -> frozenset[str]:
        """The products of the families an entry speaks of: a keeping entry's, named in any phrasing (岩茶怎么保存),
        any other entry's, named in most of its phrasings ("孕妇能喝茶吗" is about tea, not the sausage;
        "想视频看一下瓷器" is only an example), each named by a fair share of them. Tea in general stands for every
        tea only when most phrasings say so ("茶叶过期了还能喝吗", though 绿茶 and 白茶 are named too; not "大红袍算什么茶"
        among many on rock tea). One family however spelt (普洱, 普洱茶, pu'er) counts once."""
        named = [self.catalog.family_in_text(to_simplified(q)) for q in entry.questions]
        found = [f for f in named if f]
        if entry.topic not in ASPECT_TOPICS and 2 * len(found) < len(named):
            return frozenset()
        specific = [f for f in found if f[0] not in GENERIC_FAMILIES]
        if entry.topic in ASPECT_TOPICS and self._kinds(specific) >= FAMILIES_OF_A_GENERAL_ENTRY:
            return frozenset()  # "哪些能抽真空": ham, jerky, tea… as examples (腊肉、香肠、火腿 are one kind: cured meats)
        if 2 * len(specific) < len(found):  # mostly tea in general: every tea, not the teapots named 茶壶
            return frozenset(p for word, members in found for p in members
                             if word not in GENERIC_FAMILIES or word in CATEGORY_WORDS.get(self.catalog.get(p).category, ()))
        if entry.topic not in ASPECT_TOPICS:  # what it is about, not a kind named once to set it apart ("不是红茶")
            times = Counter(frozenset(members) for _word, members in specific)
            specific = [f for f in specific if times[frozenset(f[1])] >= NAMED_BY_SHARE * len(specific)]
        return frozenset(p for f in specific for p in f[1])

    def _kinds(self, families: list[tuple[str, list[str]]]) -> int:
        """How many kinds of goods ``families`` span: families whose products share a catalog category are one kind
        (零食, 坚果 and 干果 all hold nuts)."""
        kinds: list[set[str]] = []
        for _word, members in families:
            categories = {self.catalog.get(p).category for p in members}
            joined = [kind for kind in kinds if kind & categories]
            kinds = [kind for kind in kinds if not kind & categories] + [categories.union(*joined)]
        return len(kinds)

    def _aspects(self, entry: KBRecord) -> frozenset[str]:
        """What a product-care entry's phrasings ask about (none for shipping, payment…: "多久能到" is not shelf life)."""
        if entry.topic not in ASPECT_TOPICS:
            return frozenset()
        return self._per_entry(self._entry_aspects, entry, lambda: aspects([to_simplified(q) for q in entry.questions]))

    def _asks_about(self, question: str, entry: KBRecord) -> bool:
        """Whether a Chinese ``question`` has a word many of the entry's Chinese phrasings ask with (视频 for the video
        entry): what the entry is about. An entry whose phrasings share no such word asks nothing of it. Only a question
        that names goods is held to it (a near entry may be near for the goods alone; "你们在啥地方" has no 店 and is
        where the shop is), and no English one (an entry has a few English phrasings, each worded its own way: on the dev halves
        the check lost three right English answers and kept no wrong one)."""
        def core() -> frozenset[str]:
            phrasings = [to_simplified(q) for q in entry.questions if CJK.search(q)]
            counts = Counter(w for p in phrasings for w in {w for w, _noun in content_words(p)})
            return frozenset(w for w, n in counts.items() if n >= CORE_SHARE * len(phrasings))
        if not CJK.search(question):
            return True
        words = self._per_entry(self._entry_cores, entry, core)
        return not words or any(word in question for word in words)

    @staticmethod
    def _per_entry(table: dict, entry: KBRecord, compute):
        """``compute()`` once per entry revision (the tables are emptied with each new snapshot)."""
        key = (entry.id, entry.revision)
        if key not in table:
            table[key] = compute()
        return table[key]

    @staticmethod
    def _product_texts(product: ProductRecord) -> list[str]:
        return [product.name, product.name_en, *product.aliases, *product.tags, product.region, product.description,
                product.description_en, product.shelf_life, product.shelf_life_en, product.storage, product.storage_en,
                product.pack("zh", True), product.pack("en", True), *CATEGORY_WORDS.get(product.category, ())]

    @staticmethod
    def _entry_text(entry: KBRecord, record: ProductRecord | None, language: str) -> str:
        """The entry's answer in the customer's language, filled from the catalog; Chinese with a note if none."""
        if language == "en" and entry.answer_en:
            template, values = entry.answer_en, record.fields("en") if record else {}
        else:
            template, values = entry.answer, record.fields() if record else {}
            if language == "en":
                template = UNTRANSLATED_NOTE + template
        return fill(template, values)
