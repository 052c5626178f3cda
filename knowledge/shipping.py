"""Shipping quotes from the shipping table: where a customer's place is, and what it costs to get there."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from knowledge.catalog import ProductRecord
from knowledge.coverage import ABROAD_EN, ABROAD_ZH, WHERE_ONE_IS
from knowledge.files import ShippingRateIn
from core.language import to_simplified

PROVINCES = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏", "陕西",
    "甘肃", "青海", "宁夏", "新疆",
)
# Every province, prefecture-level and county-level division of the mainland: name, short name, province, level
# (where it comes from: data/README.md).
PLACES_FILE = Path(__file__).with_name("data") / "places.csv"
LEVELS = ("province", "prefecture", "county", "former")  # a name two places share goes to the earlier level
# Short names that are also everyday words ("开封了能放多久", "延长保质期", "比如", "光泽"), teas by themselves
# ("西湖龙井"), or better known as a district elsewhere (Beijing's 朝阳, Shanghai's 长宁): a place only right after
# 寄到/发往... ("寄到龙井"). Their full names (龙井市, 开封市) are places wherever they stand.
WORD_LIKE = frozenset("""
    比如 资源 合作 和平 武功 南部 东方 公安 通道 共和 友谊 中方 凤凰 延长 新兴 万年 光泽 会同 富裕 清水 长子 洞口
    太和 温泉 石门 大方 互助 莲花 平和 龙泉 桃源 永和 九龙 无为 同心 白玉 灯塔 博爱 方正 黑水 大通 白杨 清流 紫金
    惠民 新星 和顺 天台 开化 阳春 铜鼓 兴业 大厂 磐石 玉环 樟树 康乐 玉树 天长 五常 乐业 会理 大英 仙游 平乐 四会
    正安 城步 沿河 河口 开封 安康 白银 来宾 阿里 江山 安宁 普洱 龙井 朝阳 长宁 滨海 栖霞
""".split())
# What comes right after a place named as a destination ("常州几天到", "延边大概多久", "大理州包邮吗"); anything
# else after a short name reads as what it qualifies ("普洱茶", "和田大枣", "四川腊肉") unless 寄到/发往... stands
# before it or another place after it ("北京海淀区").
_AFTER_PLACE = re.compile(
    r"[^\u3400-\u9fff]|的|呢|吗|嘛|吧|啊|呀|哦|哈|么|啦|了|要|几|多|包|能|可|运|快|邮|寄|发|送|到|收|需|得|走|用|有|没|不|也"
    r"|都|还|是|就|会|一|两|和|跟|与|或|及|哪|怎|什|今|明|现|人|市|县|州|区|省|地区|附近|周边|这|那|方向|一带|本地|当地"
    r"|等|岛|顺丰|冷链|物流|大概|大约|最快|具体|同城|偏远|境内|家|老家|朋友|同学|亲戚|公司|学校"
)
# 寄到龙井; 我在日喀则 (where the customer is is where a parcel goes: "现在在日喀则上班 能寄过来吗")
_SENT_TO = re.compile(r"(?:^|寄|发|送|运|邮|递|货|件|能|可以|要|直接)到$|(?:^|寄|发|送|运|邮)(?:往|至|去)$")
_TO = re.compile(r"(?:到|往|至|去|寄|发|送|运|在|是|回|地址)[:：]?$")  # "发义乌", "地址是常州": where it goes
_FROM = re.compile(r"(?:从|自|由|产自|产地是?)$")  # where it comes from: no destination


@dataclass(frozen=True)
class _Place:
    shown: str  # the name an answer shows: 常州 for 常州市, 延边 for 延边朝鲜族自治州, 海淀区 for 海淀区
    province: str | None  # None: a name of places in several provinces (朝阳区)
    level: int  # index in LEVELS
    short: bool  # a short name (常州), not a full one (常州市)


class _Gazetteer(NamedTuple):
    places: dict[str, _Place]  # by every full and short name
    lengths: tuple[int, ...]  # of the names, longest first
    starts: frozenset[str]  # first characters of the names
    districts: frozenset[tuple[str, str]]  # (province, 海淀): urban districts as written after their city


@cache
def _gazetteer() -> _Gazetteer:
    candidates: dict[str, list[_Place]] = {}
    districts = set()
    with PLACES_FILE.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            level = LEVELS.index(row["level"])
            shown = row["short"] or row["name"]
            candidates.setdefault(row["name"], []).append(_Place(shown, row["province"], level, False))
            if len(row["short"]) >= 2 and row["short"] != row["name"]:
                candidates.setdefault(row["short"], []).append(_Place(shown, row["province"], level, True))
            district = re.sub(r"新?区$", "", row["name"]) if row["name"].endswith("区") else ""
            if len(district) >= 2 and not row["short"]:
                districts.add((row["province"], district))
    places = {}
    for name, found in candidates.items():
        top = min(place.level for place in found)
        provinces = {place.province for place in found if place.level == top}
        best = next(place for place in found if place.level == top)
        # 吉林 (province and city), 海南 (province, and a prefecture of Qinghai): the higher level.
        # 朝阳区 (Beijing's and Changchun's): no province at all.
        places[name] = best if len(provinces) == 1 else _Place(name, None, top, best.short)
    lengths = tuple(sorted({len(name) for name in places}, reverse=True))
    return _Gazetteer(places, lengths, frozenset(name[0] for name in places), frozenset(districts))


def _mentions(text: str) -> list[tuple[int, int, str, _Place]]:
    """Place names in ``text``, left to right, each the longest name that starts where it starts."""
    places, lengths, starts, _ = _gazetteer()
    found, i = [], 0
    while i < len(text):
        if text[i] in starts:
            name = next((text[i:i + n] for n in lengths if text[i:i + n] in places), None)
            if name:
                found.append((i, i + len(name), name, places[name]))
                i += len(name)
                continue
        i += 1
    return found


def district_length(text: str, end: int, province: str) -> int:
    """How long the name of one of the province's urban districts, without its 区, right at ``end`` is
    ("北京海淀几天到", "广州天河", "重庆万州的"), or 0."""
    districts = _gazetteer().districts
    return next((n for n in (2, 3, 4) if end + n <= len(text) and (province, text[end:end + n]) in districts), 0)


# English spellings customers type, to the Chinese name an answer shows ("寄到北京", not "寄到beijing").
ENGLISH_PLACES = {
    "beijing": "北京", "tianjin": "天津", "shanghai": "上海", "chongqing": "重庆", "guangzhou": "广州",
    "shenzhen": "深圳", "chengdu": "成都", "hangzhou": "杭州", "nanjing": "南京", "suzhou": "苏州",
    "xiamen": "厦门", "qingdao": "青岛", "wuhan": "武汉", "changsha": "长沙", "kunming": "昆明",
    "xi'an": "西安", "xian": "西安", "urumqi": "乌鲁木齐", "lhasa": "拉萨", "harbin": "哈尔滨",
    "shenyang": "沈阳", "dalian": "大连", "zhengzhou": "郑州", "jinan": "济南", "fuzhou": "福州",
    "nanning": "南宁", "guiyang": "贵阳", "lanzhou": "兰州", "xining": "西宁", "yinchuan": "银川",
    "hohhot": "呼和浩特", "haikou": "海口", "sanya": "三亚", "hebei": "河北", "shanxi": "山西",
    "inner mongolia": "内蒙古", "liaoning": "辽宁", "jilin": "吉林", "heilongjiang": "黑龙江",
    "jiangsu": "江苏", "zhejiang": "浙江", "anhui": "安徽", "fujian": "福建", "jiangxi": "江西",
    "shandong": "山东", "henan": "河南", "hubei": "湖北", "hunan": "湖南", "guangdong": "广东",
    "guangxi": "广西", "hainan": "海南", "sichuan": "四川", "guizhou": "贵州", "yunnan": "云南",
    "tibet": "西藏", "shaanxi": "陕西", "gansu": "甘肃", "qinghai": "青海", "ningxia": "宁夏", "xinjiang": "新疆",
}
PLACE_EN = {chinese: " ".join(word.capitalize() for word in english.split())
            for english, chinese in reversed(ENGLISH_PLACES.items())}  # the first spelling wins: xi'an, not xian
# Not "shui xian", a rock tea the shop sells ("is the rougui roasted heavier than the shui xian?"), read as Xi'an.
_ENGLISH_PLACE = re.compile(r"(?<!shui )\b(" + "|".join(sorted(map(re.escape, ENGLISH_PLACES), key=len, reverse=True)) + r")\b")
# Countries abroad by their Chinese and English names (CLDR's, through Babel): "寄到德国", "ship to Canada". Left out:
# the mainland itself, Hong Kong, Macau and Taiwan (places of the shipping table), CLDR's groupings, names that are
# places or peoples of the mainland too (黑山, 巴林左旗, 朝鲜族, 内蒙古) and English words mostly meant otherwise.
NOT_ABROAD = frozenset({"CN", "HK", "MO", "TW", "EU", "EZ", "UN", "XA", "XB", "ZZ", "QO",  # regions and groupings
                        "ME", "BH", "KP", "MN",  # 黑山, 巴林, 朝鲜, 蒙古
                        "TD", "JO", "JE", "GN", "CL"})  # Chad, Jordan, Jersey, Guinea, Chile (chile sauce)
ABROAD_ALSO = ("澳洲", "欧洲", "北美", "东南亚", "南韩", "america", "usa", "us", "uk", "britain", "england", "scotland",
               "korea", "holland", "europe", "dubai", "turkey")  # what customers call them besides
# A country is where a parcel goes only where a destination stands: after 寄/发到/去…, at a clause's start ("美国多久能到"),
# after "to"/"in" ("ship to the US"); not inside a place (上海地区 is no 海地, 湖南非常 no 南非, 江苏丹阳 no 苏丹) nor
# before a product (有美国大杏仁吗, 有韩国泡菜吗, brazil nuts).
_BEFORE_ZH = r"(?:(?<=^)|(?<=[\s，,。？?！!：:；;寄发运邮送到往去至在]))"
_AFTER_ZH = r"(?=[\s，,。？?！!：:；;吗呢啊呀吧么嘛哈的了几多要能可包寄发运邮送到去朋亲人客那这大一最怎得]|$)"
_BEFORE_EN = r"(\b(?:to|in|into)\s+(?:the\s+)?|(?<=[寄发运邮送到往去至在])\s*)"  # also "香肠能寄去Singapore吗"
LIVES_IN = re.compile(r"(?:我|人|住|定居|生活)(?=在)|\b(?:i'?m|i am|we'?re|we are|i live|we live|living|based)(?= in\b)", re.I)
SHIPPING_CUE = re.compile(r"寄|发货|发到|发往|能发|可以发|运费|邮费|快递|物流|包邮|到货|多久能到|几天能到|能到吗|冷链|"
                          r"\bship|\bsend|\bdeliver|\bpost(?:age|ed)?\b|\bmail\b|\barriv", re.I)


@cache
def _abroad() -> tuple[re.Pattern, re.Pattern]:
    from babel import Locale  # CLDR's names, read once

    names = {name.lower() for language in ("zh", "en") for code, name in Locale(language).territories.items()
             if len(code) == 2 and code.isalpha() and code not in NOT_ABROAD} | set(ABROAD_ALSO)
    longest_first = sorted(names, key=len, reverse=True)
    chinese = "|".join(map(re.escape, (n for n in longest_first if not n.isascii())))
    english = "|".join(map(re.escape, (n for n in longest_first if n.isascii())))
    return (re.compile(f"{_BEFORE_ZH}(?:{chinese}){_AFTER_ZH}"),
            re.compile(rf"{_BEFORE_EN}({english})(?![a-z])", re.I))


# Taiwan's cities, which the place data (the mainland's) does not know: "寄到台中運費多少" is the shop's question on Taiwan.
TAIWAN_CITIES = re.compile(r"(?<![^\s，,。！!？?:：到往至去寄发發在住])(?:台北|臺北|新北|台中|臺中|台南|臺南|高雄|基隆|新竹|桃园|桃園|嘉义|嘉義|花莲|花蓮|台东|臺東|宜兰|宜蘭)(?:市|县|縣)?(?![区區路街镇鎮])")


def as_abroad(text: str) -> str:
    """``text`` with the country abroad it sends a parcel to said as 海外 (overseas): "能寄德国吗" is the shop's
    overseas question, whichever country. Only a shipping question names a destination ("美国人能喝普洱吗" does not).
    A city of Taiwan it is sent to is said as 台湾."""
    if SHIPPING_CUE.search(text):
        text = TAIWAN_CITIES.sub("台湾", text)
        start, count = 0, 0  # every destination
    elif lives := LIVES_IN.search(text):
        start, count = lives.end(), 1  # only where the customer lives: "I'm in Singapore, can I pay with Visa"
    else:
        return text
    chinese, english = _abroad()
    return text[:start] + english.sub(_overseas, chinese.sub(ABROAD_ZH, text[start:], count=count), count=count)


def _overseas(match: re.Match) -> str:
    """"to Canada" said as "to overseas", "寄去Singapore" as "寄去海外"; "send it to us": us is the country only as US."""
    before, name = match.groups()
    return match.group(0) if name.lower() == "us" and name != "US" else before + (ABROAD_EN if before.strip() else ABROAD_ZH)


FREE_SHIPPING_FROM = 199
REMOTE = ("新疆", "西藏", "青海")


def find_place(text: str | None) -> tuple[str, str] | None:
    """(place in Chinese, province) for the place ``text`` names as where something goes, else None.

    The place is named as the shop writes it: 常州 for 常州 or 常州市, 内蒙古 for 内蒙古自治区, 北京 for Beijing.
    Traditional characters read like simplified ("發到廣州"). Every prefecture and county of the mainland is
    known, so a short name must stand like a destination to count: "普洱茶保质期多久", "和田枣甜不甜" and
    "四川腊肉运费多少" name products, "从杭州发" names where it comes from, "北京朝阳" is Beijing's 朝阳 and not
    Liaoning's. Of several places the one after 寄/发/到... wins ("四川腊肉寄到广州"), then the more precise
    one ("江苏常州"), then the longer name, then the later one.
    """
    if not text:
        return None
    english = _ENGLISH_PLACE.search(text.lower())
    text = ENGLISH_PLACES[english.group(1)] if english else to_simplified(text)
    mentions = _mentions(text)
    adjacent = [k > 0 and mentions[k - 1][1] == mentions[k][0] for k in range(len(mentions))]
    accepted = [False] * len(mentions)
    for k in reversed(range(len(mentions))):  # right to left: "江苏常州" stands as well as 常州 does
        start, end, name, place = mentions[k]
        before = text[:start].rstrip()
        previous = mentions[k - 1][3] if adjacent[k] else None
        if place.province is None or _FROM.search(before):
            continue
        if previous and previous.province not in (None, place.province) and (
                place.level > previous.level or district_length(text, start, previous.province)):
            continue  # 北京朝阳, 天津河北: a part of the place before that shares its name with a place elsewhere
        within = bool(previous and previous.province == place.province)  # 江苏常州, 浙江义乌小商品城
        stands = (end == len(text) or bool(_AFTER_PLACE.match(text, end))
                  or (k + 1 < len(mentions) and adjacent[k + 1] and accepted[k + 1])
                  or district_length(text, end, place.province))
        sent_to = bool(_SENT_TO.search(before) or WHERE_ONE_IS.search(before))
        if name in WORD_LIKE:
            accepted[k] = sent_to
        else:
            accepted[k] = not place.short or stands or within or sent_to
    best, best_rank, to = None, None, False
    # where the customer is ("我在昆明 寄到上海") is where it goes unless another place is said to be
    sent_elsewhere = [bool(_SENT_TO.search(text[:start].rstrip())) for start, *_ in mentions]
    for k, (start, end, name, place) in enumerate(mentions):
        # "地址：江苏省常州市武进区": what stands before the first place stands before all of them
        before = text[:start].rstrip()
        here = WHERE_ONE_IS.search(before) and any(sent for j, sent in enumerate(sent_elsewhere) if j != k)
        to = bool(_TO.search(before) and not here) or (adjacent[k] and to)
        rank = (to, place.level, len(name), start)
        if accepted[k] and (best_rank is None or rank > best_rank):
            best, best_rank = (place.shown, place.province), rank
    return best


def place_not_sent_to(text: str) -> tuple[int, int] | None:
    """Where the first place named as where it comes from or where the customer is stands in ``text`` ("从云南",
    "我在昆明"): besides a destination, it is none of what is asked."""
    for start, end, _name, place in _mentions(text):
        before = text[:start].rstrip()
        if place.province and ((origin := _FROM.search(before)) or WHERE_ONE_IS.search(before)):
            return origin.start() if origin else start, end + len(re.match(r"[省市县区]?", text[end:]).group(0))
    return None


def _money(value) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def place_in_english(name: str) -> str:
    """北京 -> Beijing, 内蒙古 -> Inner Mongolia; a place without an English name stays as written."""
    return PLACE_EN.get(name, name)


def quote(rates: dict[tuple[str, str], ShippingRateIn], place: str, province: str,
          product: ProductRecord | None = None, language: str = "zh", asked_cold_chain: bool = False) -> str | None:
    """One sentence of days, fee and cold chain to ``province`` (for the product, else all warehouses).

    ``asked_cold_chain``: the customer asked about it, so a product that needs none is said to need none, and a place
    no cold route reaches is said so of chilled goods too.
    """
    origins = [product.origin] if product else sorted({origin for origin, _ in rates})
    routes = [rates[(origin, province)] for origin in origins if (origin, province) in rates]
    if not routes:
        return None
    days = f"{min(r.days_min for r in routes)}-{max(r.days_max for r in routes)}"
    fees = sorted({r.fee for r in routes})
    fee = _money(fees[0]) if len(fees) == 1 else f"{_money(fees[0])}-{_money(fees[-1])}"
    cold = [r for r in routes if r.cold_chain]
    room_temperature = asked_cold_chain and product is not None and not product.cold_chain
    # no cold route there, for a product that needs one or for chilled goods asked of ("寄拉萨 火腿能走冷链吗")
    cold_refused = not cold and (product.cold_chain if product else asked_cold_chain)
    if language == "en":
        return _quote_en(place, province, product, days, fee, cold, room_temperature, cold_refused)
    subject = f"{product.name}从{product.origin}发货，" if product else ""
    free = "（新疆、西藏、青海不参加满199包邮）" if province in REMOTE else f"，满{FREE_SHIPPING_FROM}元包邮"
    text = f"{subject}寄到{place}一般{days}天送达，运费{fee}元{free}。"
    if cold_refused:
        text += f"注意：{place}暂不支持冷链，夏季寄送{'这款' if product else '需要冷链的商品'}请先咨询店员。"
    elif product and product.cold_chain:
        text += f"这款需要冷链，冷链费{_money(cold[0].cold_chain_fee)}元。"
    elif cold and not product:
        text += "腊味等需要冷链的商品可以走顺丰冷链，另收冷链费。"
    elif room_temperature:
        text += "这款常温发货就可以，不需要冷链。"
    return text


def _quote_en(place: str, province: str, product: ProductRecord | None, days: str, fee: str,
              cold: list[ShippingRateIn], room_temperature: bool, cold_refused: bool) -> str:
    where = place_in_english(place)
    subject = f"{product.name_en or product.name} ships from {place_in_english(product.origin)}; " if product else ""
    free = (" (Xinjiang, Tibet and Qinghai are not part of free shipping)" if province in REMOTE
            else f", free on orders over ¥{FREE_SHIPPING_FROM}")
    text = f"{subject}delivery to {where} takes {days} days, shipping ¥{fee}{free}."
    text = text[0].upper() + text[1:]
    if cold_refused:
        goods = "" if product else " about chilled goods"
        text += f" Note: cold-chain delivery does not reach {where} yet; in summer please ask our staff first{goods}."
    elif product and product.cold_chain:
        text += f" This one travels cold-chain, ¥{_money(cold[0].cold_chain_fee)} extra."
    elif cold and not product:
        text += " Cured meats and other chilled goods can go by SF cold chain for an extra fee."
    elif room_temperature:
        text += " It ships at room temperature; no cold chain needed."
    return text
