"""The knowledge service shared by the app, the Rasa actions and the CLI.

It holds one immutable snapshot (index + catalog + shipping table) and swaps it
whole when the database changes, so a search never sees half an update.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from knowledge.catalog import Catalog, ProductRecord, fill
from knowledge.files import ShippingRateIn
from knowledge.index import CONFIDENT, Embedder, Hit, KBIndex, KBRecord, VectorCache
from knowledge.provision import provision
from knowledge.shipping import find_place, place_in_english, quote
from knowledge.store import catalog_snapshot, kb_records, shipping_snapshot
from techan.settings import Settings

log = logging.getLogger(__name__)

INTENT_TOPICS = {
    "ask_shelf_life": "shelf_life",
    "ask_storage": "storage",
    "ask_vacuum_packing": "vacuum_packing",
    "ask_shipping": "shipping",
    "ask_product_info": "product_info",
}


PRODUCT_TOPICS = ("shelf_life", "storage", "vacuum_packing", "product_info")
SHIPPING_WORDS = re.compile(r"寄|发货|运费|邮费|快递|送到|到货|包邮|ship|deliver", re.I)
COLD_CHAIN_WORDS = re.compile(r"冷链|冷藏|冰袋|会不会化|cold[- ]chain|refrigerat", re.I)
PRICE_WORDS = re.compile(r"多少钱|价格|价钱|几块|几钱|怎么卖|什么价|贵不贵|how much|price|cost", re.I)


def product_summary(product: ProductRecord, language: str = "zh") -> str:
    """What the catalog says of a product: origin, price and pack, and its description."""
    price = product.fields()["price"]
    if language == "en":
        return (f"{product.name_en or product.name} ({product.name}), from {place_in_english(product.origin)}: "
                f"¥{price} ({product.unit}). {product.description}")
    return f"{product.name}，产自{product.region}，{price}元（{product.unit}）。{product.description}"


@dataclass(frozen=True)
class Snapshot:
    entries: list[KBRecord]
    catalog: Catalog
    shipping: dict[tuple[str, str], ShippingRateIn]


def read_snapshot(session: Session) -> Snapshot:
    return Snapshot(kb_records(session), catalog_snapshot(session), shipping_snapshot(session))


@dataclass(frozen=True)
class Answer:
    text: str
    hits: list[Hit]
    product: str | None
    destination: str | None = None  # province, when the answer is a shipping quote
    from_catalog: bool = False  # the product's own catalog facts (price, origin, description)

    @property
    def confident(self) -> bool:
        return self.from_catalog or (bool(self.hits) and self.hits[0].score >= CONFIDENT)


class Knowledge:
    """Embedder plus the current snapshot; ``apply`` is the only way the snapshot changes."""

    def __init__(self, embedder: Embedder, cache_path: Path | None = None) -> None:
        self.embedder = embedder
        self.cache = VectorCache(cache_path, embedder.name)
        self.index = KBIndex([], embedder, self.cache)
        self.catalog = Catalog()
        self.shipping: dict[tuple[str, str], ShippingRateIn] = {}
        self._product_vectors: tuple[list[str], np.ndarray] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, progress=log.info) -> Knowledge:
        model_path = provision(settings.embedding_model, settings.models_path, progress)
        embedder = Embedder(model_path, settings.embedding_model)
        return cls(embedder, settings.data_path / "index" / "vectors.npz")

    @property
    def model_name(self) -> str:
        return self.embedder.name

    def apply(self, snapshot: Snapshot) -> None:
        """Rebuild the index for ``snapshot`` (embedding only phrasings not seen before)."""
        started = time.perf_counter()
        index = KBIndex(snapshot.entries, self.embedder, self.cache)
        self.index, self.catalog, self.shipping = index, snapshot.catalog, snapshot.shipping
        self._product_vectors = None  # embedded on first use, for this catalog
        log.info("knowledge index: %d entries, %d phrasings in %.2fs",
                 len(index), len(index.phrasings), time.perf_counter() - started)

    def product_similarity(self, text: str) -> dict[str, float]:
        """How close each product (name, tags, description) is to the customer's words, centred on the mean.

        Centring keeps the signal relative: a wish moves some products up and others down.
        """
        catalog, cached = self.catalog, self._product_vectors
        if cached is None or cached[0] != list(catalog.products):
            ids = list(catalog.products)
            texts = [f"{p.name} {p.name_en} {' '.join(p.tags)} {p.description}" for p in catalog.products.values()]
            cached = self._product_vectors = (ids, self.embedder.encode(texts))
        if not cached[0] or not text.strip():
            return {}
        scores = cached[1] @ self.embedder.encode([text])[0]
        return dict(zip(cached[0], (scores - scores.mean()).tolist()))

    def closest_products(self, text: str, k: int = 3) -> list[str]:
        """Products most like ``text`` (a product the shop does not sell, say), best first."""
        scores = self.product_similarity(text)
        return sorted(scores, key=scores.get, reverse=True)[:k]

    def search(self, query: str, k: int = 5, **filters) -> list[Hit]:
        return self.index.search(query, k=k, **filters)

    def answer(self, question: str, intent: str | None = None, product: str | None = None,
               destination: str | None = None, language: str = "zh") -> Answer:
        """The best KB answer for ``question``, filled with the product's catalog fields.

        A shipping question with a place in it (or in the conversation) is answered
        from the shipping table instead: days, fee and cold chain to that province.
        """
        named = self.catalog.find_in_text(question)
        mention, product = product, named or self.catalog.resolve(product)
        prefer_topic = INTENT_TOPICS.get(intent or "")
        hits = self.index.search(question, k=3, prefer_topic=prefer_topic, prefer_product=product)
        # What "这个" refers to: the product under discussion, or a family named earlier ("普洱茶", "干果")
        # that is no single catalog product but still decides which answer fits.
        context = None if named else (self.catalog.get(product).name if product else mention)
        follow_up = context and context.lower() not in question.lower()
        if follow_up and (not hits or hits[0].entry.topic in PRODUCT_TOPICS):
            # "能抽真空吗" right after talking about beef jerky means beef jerky; "运费怎么算" does not.
            hits = self.index.search(f"{context} {question}", k=3, prefer_topic=prefer_topic,
                                     prefer_product=product, prefer_shop_wide=product is None)
        if not hits:
            return Answer("", [], product)
        top = hits[0].entry
        record = self.catalog.get(top.product) or self.catalog.get(product)
        place = find_place(question) or find_place(destination)
        if place and (intent in ("ask_shipping", "inform") or top.topic == "shipping"
                      or SHIPPING_WORDS.search(question)):
            text = quote(self.shipping, *place, self.catalog.get(product), language,
                         asked_cold_chain=bool(COLD_CHAIN_WORDS.search(question)))
            if text:
                return Answer(text, hits, product, place[1])
        known = self.catalog.get(product)
        if known and intent == "ask_product_info" and (PRICE_WORDS.search(question) or top.topic != "product_info"):
            # "大红袍多少钱", "红枣甜不甜": the catalog knows the price and what the product is like even where
            # no KB entry was written; another topic's entry about the product would answer something else.
            return Answer(product_summary(known, language), hits, product, from_catalog=True)
        text = fill(top.answer, record.fields()) if record else top.answer
        return Answer(text, hits, top.product or product)
