"""The catalog as the bot sees it: products by id, product names found in text, answer templates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.bot_payload import ask_product_button

# A unit that says its weight ("250克/盒", "500g"): nothing to add.
WEIGHT_GIVEN = re.compile(r"\d\s*(?:克|斤|公斤|千克|g\b|kg\b)", re.I)


@dataclass(frozen=True)
class ProductRecord:
    id: str
    name: str
    name_en: str
    aliases: tuple[str, ...]
    region: str
    origin: str
    category: str
    price: Decimal
    unit: str
    weight_g: int
    shelf_life_days: int | None
    shelf_life: str
    storage: str
    vacuum_packing: bool
    cold_chain: bool
    stock: int
    recipients: tuple[str, ...]
    occasions: tuple[str, ...]
    tags: tuple[str, ...]
    description: str
    image: str
    unit_en: str = ""
    shelf_life_en: str = ""
    storage_en: str = ""
    description_en: str = ""

    @classmethod
    def from_row(cls, row: Any) -> ProductRecord:
        return cls(**{
            name: tuple(getattr(row, name)) if isinstance(getattr(row, name), list) else getattr(row, name)
            for name in cls.__dataclass_fields__
        })

    def first_sentence(self, language: str = "zh") -> str:
        """What the product is, in one sentence without its full stop: the English description's for English
        readers (the Chinese one when there is none)."""
        if language == "en" and self.description_en:
            return re.split(r"(?<=[.!?])\s", self.description_en, maxsplit=1)[0].rstrip(".")
        return self.description.split("。")[0]

    def card(self, reason: str | None = None, language: str = "zh") -> dict[str, Any]:
        """The product as a card in a chat (web chat, Telegram photo); the reason defaults to its first sentence.

        English readers get the English name first, with the Chinese one they will see on the package,
        and the first sentence of the English description (the Chinese one when there is none).
        """
        name = f"{self.name_en} · {self.name}" if language == "en" and self.name_en else self.name
        if reason is None:
            reason = self.first_sentence(language)
        price_text = f"¥{self.price_number}" if language == "en" else f"{self.price_number}元"  # as answers write it
        return {"id": self.id, "name": name, "price": float(self.price), "price_text": price_text,
                "image": self.image, "reason": reason, "ask": ask_product_button(self.id, language)}

    @property
    def price_number(self) -> str:
        """The price as the shop writes it: 458, or 45.50 when it has fen."""
        return f"{self.price:.0f}" if self.price == int(self.price) else f"{self.price:.2f}"

    def weight(self, language: str = "zh") -> str:
        """The catalog's weight (weight_g, as the owner enters it): "740克", "1.8 kg"."""
        kilos = f"{self.weight_g / 1000:g}"
        if language == "en":
            return f"{kilos} kg" if self.weight_g >= 1000 else f"{self.weight_g} g"
        return f"{kilos}公斤" if self.weight_g >= 1000 else f"{self.weight_g}克"

    def pack(self, language: str = "zh", weighed: bool = False) -> str:
        """The unit it is sold by, with its weight when ``weighed`` asks it and the unit gives none ("4个/盒，约740克"):
        "月饼一盒多重" is answered by the summary."""
        unit = (self.unit_en or self.unit) if language == "en" else self.unit
        if not (weighed and self.weight_g) or WEIGHT_GIVEN.search(unit):
            return unit
        return f"{unit}, about {self.weight('en')}" if language == "en" else f"{unit}，约{self.weight()}"

    def fields(self, language: str = "zh") -> dict[str, str]:
        """Values for ``{placeholders}`` in KB answers; English ones fall back to the Chinese text."""
        values = {
            "name": self.name, "name_en": self.name_en, "region": self.region,
            "price": self.price_number,
            "unit": self.unit, "shelf_life": self.shelf_life, "storage": self.storage,
            "weight": self.weight(language), "category": self.category, "description": self.description,
            "vacuum_packing": "可以免费真空包装" if self.vacuum_packing else "不提供真空包装",
        }
        if language == "en":
            values.update(
                name=self.name_en or self.name, unit=self.unit_en or self.unit,
                shelf_life=self.shelf_life_en or self.shelf_life, storage=self.storage_en or self.storage,
                description=self.description_en or self.description,
            )
        return values


def fill(template: str, values: dict[str, str]) -> str:
    """Fill known placeholders; leave unknown ones (and stray braces) exactly as written."""
    def replace(match: re.Match) -> str:
        return values.get(match.group(1), match.group(0))
    return re.sub(r"\{([a-z_]+)\}", replace, template)


GENERIC_ENGLISH = frozenset("""tea teas cake cakes gift box white black green rock dried old set spicy sichuan
    yunnan wuyi fuding jingdezhen yixing suzhou xinjiang cantonese mountain golden tip shell bush year aged pattern
    double sided zisha silk the and of with mini air inner""".split())


def english_form(text: str) -> str:
    """Lower case, apostrophes dropped and hyphens spaced, so "Pu'er", "puer" and "pu-er" meet."""
    lowered = text.lower().replace("'", "").replace("’", "")
    return re.sub(r"[-()/,]+", " ", lowered).strip()


def contains(text: str, name: str) -> bool:
    """``name`` in ``text`` (both in ``english_form``): English names as whole words ("tea" is not in "instead")."""
    if not name.isascii():
        return name in text
    return f" {name} " in " " + re.sub(r"[^a-z0-9]+", " ", text) + " "


def english_aliases(name_en: str) -> set[str]:
    """The ways an English customer names a product: its runs of two or more words, written apart or together
    (pinyin: "Da Hong Pao" is also "dahongpao"), and its distinctive words."""
    words = english_form(name_en).split()
    runs = {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1)}
    return runs | {run.replace(" ", "") for run in runs} | {
        w for w in words if len(w) >= 5 and w not in GENERIC_ENGLISH and not w.isdigit()}


# What customers call a category of the shop, and other generic product names they ask for.
CATEGORY_WORDS = {
    "tea": ("茶", "茶叶", "tea"), "coffee": ("咖啡", "coffee"), "condiment": ("调料", "酱", "sauce"),
    "cured_meat": ("腊味", "腊肉", "肉", "meat"), "dried_fruit": ("干果", "果干", "dried fruit"),
    "mushroom": ("菌菇", "菌子", "蘑菇", "mushroom"), "nuts": ("坚果", "干果", "nut"),
    "pastry": ("糕点", "点心", "饼", "pastry", "cake"), "pickle": ("泡菜", "咸菜", "pickle"),
    "porcelain": ("瓷器", "瓷", "porcelain"), "silk": ("丝绸", "丝", "silk"), "snack": ("零食", "小吃", "snack"),
    "teaware": ("茶具", "茶壶", "壶", "teapot", "teaware"),
}
FAMILY_WORDS = frozenset({
    "茶", "茶叶", "红茶", "绿茶", "白茶", "乌龙茶", "乌龙", "岩茶", "黑茶", "普洱", "普洱茶", "生茶", "熟茶", "生普", "熟普",
    "花茶", "火腿", "腊味", "腊肉",
    "香肠", "月饼", "糕点", "点心", "鲜花饼", "干果", "果干", "坚果", "枣", "红枣", "葡萄干", "菌菇", "菌子", "蘑菇",
    "瓷器", "茶具", "紫砂壶", "紫砂", "丝巾", "丝绸", "咖啡", "零食", "泡菜", "兔头", "牛肉", "陈皮",
    "tea", "ham", "mooncake", "dried fruit", "nuts", "porcelain", "teapot", "jujube", "mushroom", "coffee", "silk",
    "green tea", "black tea", "white tea", "oolong", "rock tea", "puer", "pu'er", "sausage", "bacon",
})
PACKAGING = frozenset("jar jars box boxes bag bags pack packs packet tin tins bottle bottles can cans set sets".split())
NAMES_KEPT = 256
FAMILY_WORDS_LONGEST_FIRST = sorted(FAMILY_WORDS, key=lambda word: (-len(word), word))  # the same order in every process
# Family words that are also the end of another word: 养生茶 and 野生茶 are no 生茶.
NOT_AFTER = {word: r"(?<![养野学花])" for word in ("生茶", "生普")}


@dataclass
class Catalog:
    products: dict[str, ProductRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names: list[tuple[str, str]] = []
        for product in self.products.values():
            for alias in {product.name, *product.aliases}:
                if alias:
                    names.append((english_form(alias), product.id))
        owners: dict[str, set[str]] = {}
        for product in self.products.values():
            for alias in english_aliases(product.name_en):
                owners.setdefault(alias, set()).add(product.id)
        # An English part of a name counts when it names one product ("lapsang souchong", not "puer cake").
        names += [(alias, ids.pop()) for alias, ids in owners.items() if len(ids) == 1]
        # Longest name first, so 普洱熟茶 wins over 普洱.
        self._names = sorted(names, key=lambda item: -len(item[0]))
        self._names_found: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str | None) -> ProductRecord | None:
        return self.products.get(product_id) if product_id else None

    def find_in_text(self, text: str) -> str | None:
        """The catalog id of the product named in ``text`` (longest name wins), if any."""
        lowered = english_form(text)
        for alias, product_id in self._names:
            if contains(lowered, alias):
                return product_id
        return None

    def names_in_text(self, text: str) -> list[str]:
        """Every product name or alias in ``text`` ("我买的灰枣 寄来的是骏枣": both dates); one answer asks it of
        several entries, so the latest questions' are kept."""
        if text not in self._names_found:
            if len(self._names_found) > NAMES_KEPT:
                self._names_found.clear()
            lowered = english_form(text)
            self._names_found[text] = [alias for alias, _product_id in self._names if contains(lowered, alias)]
        return self._names_found[text]

    def resolve(self, mention: str | None) -> str | None:
        """Normalise an entity value or id to a catalog id."""
        if not mention:
            return None
        if mention in self.products:
            return mention
        return self.find_in_text(mention)

    def family(self, word: str | None) -> list[str]:
        """The products a family word or generic name stands for ("火腿", "红茶", "月饼", "茶叶"), in catalog order.

        A family is a word found in products' names, aliases or tags, or the shop's word for a category.
        """
        word = english_form(word or "")
        if len(word) < 2 and word not in FAMILY_WORDS or word in PACKAGING:
            return []  # "how much per jar?" names no product, though one is called "Sichuan Old-jar Pickles"
        # "普洱茶" is every 普洱 product (普洱生茶, 普洱熟茶小沱茶), not only those written with 茶 after it.
        words = {word, word[:-1]} if len(word) >= 3 and word.endswith("茶") else {word}
        members = []
        for product in self.products.values():
            texts = (product.name, product.name_en, *product.aliases, *product.tags, *CATEGORY_WORDS.get(product.category, ()))
            if any(contains(english_form(text), w) for text in texts if text for w in words):
                members.append(product.id)
        if not members and word.isascii() and word.endswith("s") and len(word) > 3:  # "teapots", "bowls"
            return self.family(word[:-2] if word.endswith(("ches", "shes", "xes", "sses")) else word[:-1])
        return members

    def family_in_text(self, text: str) -> tuple[str, list[str]] | None:
        """The longest family word in ``text`` with products behind it, and those products."""
        return next(((word, members) for word, members, _starts in self.families_in_text(text)), None)

    def families_in_text(self, text: str) -> Iterator[tuple[str, list[str], list[int]]]:
        """Each family word in ``text`` with products behind it, longest first ("红茶和绿茶": both, and no 茶), with
        where it stands in ``english_form(text)``."""
        lowered = english_form(text)
        for word in FAMILY_WORDS_LONGEST_FIRST:
            form = english_form(word)
            pattern = rf"\b{re.escape(form)}\b" if form.isascii() else NOT_AFTER.get(form, "") + re.escape(form)
            starts = [match.start() for match in re.finditer(pattern, lowered)]
            if starts and (members := self.family(word)):
                yield word, members, starts
                lowered = re.sub(pattern, lambda match: " " * len(match.group()), lowered)  # places kept
