"""Shipping quotes from the shipping table: where a customer's place is, and what it costs to get there."""

from __future__ import annotations

import re

from knowledge.catalog import ProductRecord
from knowledge.files import ShippingRateIn

PROVINCES = (
    "北京", "天津", "河北", "山西", "内蒙古", "辽宁", "吉林", "黑龙江", "上海", "江苏", "浙江", "安徽", "福建",
    "江西", "山东", "河南", "湖北", "湖南", "广东", "广西", "海南", "重庆", "四川", "贵州", "云南", "西藏", "陕西",
    "甘肃", "青海", "宁夏", "新疆",
)
CITIES = {
    "石家庄": "河北", "太原": "山西", "呼和浩特": "内蒙古", "包头": "内蒙古", "沈阳": "辽宁", "大连": "辽宁",
    "长春": "吉林", "哈尔滨": "黑龙江", "南京": "江苏", "苏州": "江苏", "无锡": "江苏", "宜兴": "江苏",
    "杭州": "浙江", "宁波": "浙江", "温州": "浙江", "合肥": "安徽", "福州": "福建", "厦门": "福建", "泉州": "福建",
    "南昌": "江西", "景德镇": "江西", "济南": "山东", "青岛": "山东", "烟台": "山东", "郑州": "河南", "洛阳": "河南",
    "武汉": "湖北", "长沙": "湖南", "广州": "广东", "深圳": "广东", "东莞": "广东", "佛山": "广东", "珠海": "广东",
    "南宁": "广西", "桂林": "广西", "海口": "海南", "三亚": "海南", "成都": "四川", "绵阳": "四川", "贵阳": "贵州",
    "昆明": "云南", "大理": "云南", "丽江": "云南", "拉萨": "西藏", "西安": "陕西", "兰州": "甘肃", "西宁": "青海",
    "银川": "宁夏", "乌鲁木齐": "新疆", "喀什": "新疆", "伊犁": "新疆",
}
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
_ENGLISH_PLACE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ENGLISH_PLACES), key=len, reverse=True)) + r")\b")
FREE_SHIPPING_FROM = 199
REMOTE = ("新疆", "西藏", "青海")


def find_place(text: str | None) -> tuple[str, str] | None:
    """(place in Chinese, province) for the first city or province named in ``text``."""
    if not text:
        return None
    english = _ENGLISH_PLACE.search(text.lower())
    if english:
        text = ENGLISH_PLACES[english.group(1)]
    for place, province in sorted(CITIES.items(), key=lambda item: -len(item[0])):
        if place in text:
            return place, province
    for province in PROVINCES:
        if province in text:
            return province, province
    return None


def _money(value) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def place_in_english(name: str) -> str:
    """北京 -> Beijing, 内蒙古 -> Inner Mongolia; a place without an English name stays as written."""
    return PLACE_EN.get(name, name)


def quote(rates: dict[tuple[str, str], ShippingRateIn], place: str, province: str,
          product: ProductRecord | None = None, language: str = "zh", asked_cold_chain: bool = False) -> str | None:
    """One sentence of days, fee and cold chain to ``province`` (for the product, else all warehouses).

    ``asked_cold_chain``: the customer asked about it, so a product that needs none is said to need none.
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
    if language == "en":
        return _quote_en(place, province, product, days, fee, cold, room_temperature)
    subject = f"{product.name}从{product.origin}发货，" if product else ""
    free = "（新疆、西藏、青海不参加满199包邮）" if province in REMOTE else f"，满{FREE_SHIPPING_FROM}元包邮"
    text = f"{subject}寄到{place}一般{days}天送达，运费{fee}元{free}。"
    if product and product.cold_chain:
        text += (f"这款需要冷链，冷链费{_money(cold[0].cold_chain_fee)}元。" if cold
                 else f"注意：{place}暂不支持冷链，夏季寄送这款请先咨询店员。")
    elif cold and not product:
        text += "腊味等需要冷链的商品可以走顺丰冷链，另收冷链费。"
    elif room_temperature:
        text += "这款常温发货就可以，不需要冷链。"
    return text


def _quote_en(place: str, province: str, product: ProductRecord | None, days: str, fee: str,
              cold: list[ShippingRateIn], room_temperature: bool) -> str:
    where = place_in_english(place)
    subject = f"{product.name_en or product.name} ships from {place_in_english(product.origin)}; " if product else ""
    free = (" (Xinjiang, Tibet and Qinghai are not part of free shipping)" if province in REMOTE
            else f", free on orders over ¥{FREE_SHIPPING_FROM}")
    text = f"{subject}delivery to {where} takes {days} days, shipping ¥{fee}{free}."
    text = text[0].upper() + text[1:]
    if product and product.cold_chain:
        text += (f" This one travels cold-chain, ¥{_money(cold[0].cold_chain_fee)} extra." if cold
                 else f" Note: cold-chain delivery does not reach {where} yet; in summer please ask our staff first.")
    elif cold and not product:
        text += " Cured meats and other chilled goods can go by SF cold chain for an extra fee."
    elif room_temperature:
        text += " It ships at room temperature; no cold chain needed."
    return text
