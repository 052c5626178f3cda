"""The catalog as the bot sees it: products by id, product names found in text, answer templates."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

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

    def card(self, reason: str | None = None, language: str = "zh") -> dict[str, Any]:
        """The product as a card in a chat (web chat, Telegram photo); the reason defaults to its first sentence.

        English readers get the English name first, with the Chinese one they will see on the package,
        and the first sentence of the English description (the Chinese one when there is none).
        """
        name = f"{self.name_en} · {self.name}" if language == "en" and self.name_en else self.name
        if reason is None:
            if language == "en" and self.description_en:
                reason = re.split(r"(?<=[.!?])\s", self.description_en, maxsplit=1)[0].rstrip(".")
            else:
                reason = self.description.split("。")[0]
        return {"id": self.id, "name": name, "price": float(self.price), "image": self.image, "reason": reason}

    def fields(self, language: str = "zh") -> dict[str, str]:
        """Values for ``{placeholders}`` in KB answers; English ones fall back to the Chinese text."""
        values = {
            "name": self.name, "name_en": self.name_en, "region": self.region,
            "price": f"{self.price:.0f}" if self.price == int(self.price) else f"{self.price:.2f}",
            "unit": self.unit, "shelf_life": self.shelf_life, "storage": self.storage,
            "weight": f"{self.weight_g}克", "category": self.category, "description": self.description,
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


@dataclass
class Catalog:
    products: dict[str, ProductRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names: list[tuple[str, str]] = []
        for product in self.products.values():
            for alias in {product.name, product.name_en, *product.aliases}:
                if alias:
                    names.append((alias.lower(), product.id))
        # Longest name first, so 普洱熟茶 wins over 普洱.
        self._names = sorted(names, key=lambda item: -len(item[0]))

    def __len__(self) -> int:
        return len(self.products)

    def get(self, product_id: str | None) -> ProductRecord | None:
        return self.products.get(product_id) if product_id else None

    def find_in_text(self, text: str) -> str | None:
        """The catalog id of the product named in ``text`` (longest name wins), if any."""
        lowered = text.lower()
        for alias, product_id in self._names:
            if alias in lowered:
                return product_id
        return None

    def resolve(self, mention: str | None) -> str | None:
        """Normalise an entity value or id to a catalog id."""
        if not mention:
            return None
        if mention in self.products:
            return mention
        return self.find_in_text(mention)
