"""Database side of the knowledge module: imports (atomic upserts), exports and snapshots.

All functions take a synchronous ``Session``; the app calls them through
``AsyncSession.run_sync`` so there is one implementation for CLI and server.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.catalog import Catalog, ProductRecord
from knowledge.files import (
    KBEntryIn, ProductIn, ShippingRateIn, read_catalog_file, read_kb_file, read_shipping_file,
)
from knowledge.index import KBRecord
from core.db import CannedReply, KBEntry, KBRevision, Product, ProductRevision, ShippingRate
from knowledge.revisions import Revisions

DEMO_DIR = Path(__file__).with_name("demo")


KB_ENTRIES = Revisions(KBEntry, KBRevision, "entry_id", KBEntryIn, kept_when_absent=("answer_en",))
PRODUCTS = Revisions(Product, ProductRevision, "product_id", ProductIn)
save_entry, delete_entry, entry_history, rollback_entry, upsert_kb = (
    KB_ENTRIES.save, KB_ENTRIES.delete, KB_ENTRIES.history, KB_ENTRIES.rollback, KB_ENTRIES.upsert)
product_history, upsert_products = PRODUCTS.history, PRODUCTS.upsert


def upsert_shipping(session: Session, rates: list[ShippingRateIn]) -> tuple[int, int]:
    """Insert new routes, overwrite known ones (origin and destination name a route); returns (created, updated)."""
    created = updated = 0
    for rate in rates:
        row = session.scalar(select(ShippingRate).where(
            ShippingRate.origin == rate.origin, ShippingRate.destination == rate.destination))
        if row is None:
            session.add(ShippingRate(**rate.model_dump()))
            created += 1
        else:
            for key, value in rate.model_dump().items():
                setattr(row, key, value)
            updated += 1
    return created, updated


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
    added = load_demo_canned(session)
    progress(f"demo shop: canned replies: {added} added")


def load_demo_canned(session: Session) -> int:
    """The demo staff's canned replies; shortcuts the shop already has are left as the owner made them."""
    items = yaml.safe_load((DEMO_DIR / "canned.yml").read_text(encoding="utf-8"))["canned"]
    taken = set(session.scalars(select(CannedReply.shortcut)))
    fresh = [item for item in items if item["shortcut"] not in taken]
    session.add_all(CannedReply(shortcut=item["shortcut"], text=item["text"], updated_by="demo") for item in fresh)
    return len(fresh)


def kb_records(session: Session) -> list[KBRecord]:
    return [
        KBRecord(e.id, e.topic, e.product, tuple(e.questions), e.answer, tuple(e.tags), e.revision,
                 answer_en=e.answer_en)
        for e in session.scalars(select(KBEntry).order_by(KBEntry.id))
    ]


def kb_export_items(session: Session) -> list[KBEntryIn]:
    return [KB_ENTRIES.form_of(e) for e in session.scalars(select(KBEntry).order_by(KBEntry.id))]


def catalog_snapshot(session: Session) -> Catalog:
    return Catalog({p.id: ProductRecord.from_row(p) for p in session.scalars(select(Product))})


def shipping_snapshot(session: Session) -> dict[tuple[str, str], ShippingRateIn]:
    return {
        (r.origin, r.destination): ShippingRateIn(
            origin=r.origin, destination=r.destination, days_min=r.days_min, days_max=r.days_max,
            fee=r.fee, cold_chain=r.cold_chain, cold_chain_fee=r.cold_chain_fee)
        for r in session.scalars(select(ShippingRate))
    }
