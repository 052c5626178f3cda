"""Database side of the knowledge module: imports (atomic upserts), exports and snapshots.

All functions take a synchronous ``Session``; the app calls them through
``AsyncSession.run_sync`` so there is one implementation for CLI and server.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.catalog import Catalog, ProductRecord
from knowledge.files import (
    KBEntryIn, ProductIn, ShippingRateIn, read_catalog_file, read_kb_file, read_shipping_file,
)
from knowledge.index import KBRecord
from techan.db import KBEntry, Product, ShippingRate, utcnow

DEMO_DIR = Path(__file__).with_name("demo")


def upsert_kb(session: Session, entries: list[KBEntryIn]) -> tuple[int, int]:
    """Insert new entries, update changed ones (revision + 1); returns (created, updated)."""
    existing = {e.id: e for e in session.scalars(select(KBEntry).where(KBEntry.id.in_([x.id for x in entries])))}
    created = updated = 0
    for item in entries:
        data = item.model_dump()
        row = existing.get(item.id)
        if row is None:
            session.add(KBEntry(**data))
            created += 1
        elif any(getattr(row, k) != v for k, v in data.items()):
            for key, value in data.items():
                setattr(row, key, value)
            row.revision += 1
            row.updated_at = utcnow()
            updated += 1
    return created, updated


def _upsert(session: Session, items: list, model: type, find) -> tuple[int, int]:
    """Insert items ``find`` does not locate, overwrite the ones it does; returns (created, updated)."""
    created = updated = 0
    for item in items:
        data = item.model_dump()
        row = find(item)
        if row is None:
            session.add(model(**data))
            created += 1
        else:
            for key, value in data.items():
                setattr(row, key, value)
            updated += 1
    return created, updated


def upsert_products(session: Session, products: list[ProductIn]) -> tuple[int, int]:
    return _upsert(session, products, Product, lambda item: session.get(Product, item.id))


def upsert_shipping(session: Session, rates: list[ShippingRateIn]) -> tuple[int, int]:
    return _upsert(session, rates, ShippingRate, lambda item: session.scalar(select(ShippingRate).where(
        ShippingRate.origin == item.origin, ShippingRate.destination == item.destination)))


def import_kb_file(session: Session, path: Path) -> tuple[int, int]:
    """Validate the whole file first, then upsert in the caller's transaction."""
    return upsert_kb(session, read_kb_file(path))


def import_catalog_file(session: Session, path: Path) -> tuple[int, int]:
    return upsert_products(session, read_catalog_file(path))


def import_shipping_file(session: Session, path: Path) -> tuple[int, int]:
    return upsert_shipping(session, read_shipping_file(path))


def shop_is_empty(session: Session) -> bool:
    return not any(session.scalar(select(func.count()).select_from(model)) for model in (Product, KBEntry))


def load_demo(session: Session, progress=print) -> None:
    """Load the demo shop's catalog, shipping table and knowledge base."""
    for label, importer, name in (
        ("catalog", import_catalog_file, "catalog.yml"),
        ("shipping table", import_shipping_file, "shipping.yml"),
        ("knowledge base", import_kb_file, "kb.yml"),
    ):
        created, updated = importer(session, DEMO_DIR / name)
        progress(f"demo shop: {label}: {created} added, {updated} updated")


def kb_records(session: Session) -> list[KBRecord]:
    return [
        KBRecord(e.id, e.topic, e.product, tuple(e.questions), e.answer, tuple(e.tags), e.revision)
        for e in session.scalars(select(KBEntry).order_by(KBEntry.id))
    ]


def kb_export_items(session: Session) -> list[KBEntryIn]:
    return [
        KBEntryIn(id=e.id, topic=e.topic, product=e.product, questions=list(e.questions),
                  answer=e.answer, tags=list(e.tags))
        for e in session.scalars(select(KBEntry).order_by(KBEntry.id))
    ]


def catalog_snapshot(session: Session) -> Catalog:
    return Catalog({p.id: ProductRecord.from_row(p) for p in session.scalars(select(Product))})


def shipping_snapshot(session: Session) -> dict[tuple[str, str], ShippingRateIn]:
    return {
        (r.origin, r.destination): ShippingRateIn(
            origin=r.origin, destination=r.destination, days_min=r.days_min, days_max=r.days_max,
            fee=r.fee, cold_chain=r.cold_chain, cold_chain_fee=r.cold_chain_fee)
        for r in session.scalars(select(ShippingRate))
    }
