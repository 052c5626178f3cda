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
from core.db import CannedReply, KBEntry, KBRevision, Product, ShippingRate, utcnow

DEMO_DIR = Path(__file__).with_name("demo")


def _entry_item(row: KBEntry) -> KBEntryIn:
    return KBEntryIn(id=row.id, topic=row.topic, product=row.product, questions=list(row.questions),
                     answer=row.answer, answer_en=row.answer_en, tags=list(row.tags))


def _entry_data(row: KBEntry) -> dict:
    return _entry_item(row).model_dump()


def save_entry(session: Session, item: KBEntryIn, author: str, action: str | None = None) -> KBEntry | None:
    """Create or update one entry, keeping a revision; returns the row, or None when nothing changed.

    An item that does not give ``answer_en`` at all (an older CSV, a script that predates it) keeps
    the stored English answer; an empty one clears it.
    """
    row = session.get(KBEntry, item.id)
    data = item.model_dump()
    if row is not None and "answer_en" not in item.model_fields_set:
        data["answer_en"] = row.answer_en
    if row is None:
        row = KBEntry(**data, revision=1)
        session.add(row)
        before = None
    elif _entry_data(row) == data:
        return None
    else:
        before = {**_entry_data(row), "revision": row.revision}
        for key, value in data.items():
            setattr(row, key, value)
        row.revision += 1
        row.updated_at = utcnow()
    session.add(KBRevision(entry_id=item.id, revision=row.revision, author=author,
                           action=action or ("create" if before is None else "update"),
                           before=before, after={**data, "revision": row.revision}))
    session.flush()
    return row


def delete_entry(session: Session, entry_id: str, author: str) -> bool:
    row = session.get(KBEntry, entry_id)
    if row is None:
        return False
    session.add(KBRevision(entry_id=entry_id, revision=row.revision + 1, action="delete", author=author,
                           before={**_entry_data(row), "revision": row.revision}, after=None))
    session.delete(row)
    session.flush()
    return True


def entry_history(session: Session, entry_id: str) -> list[KBRevision]:
    return list(session.scalars(select(KBRevision).where(KBRevision.entry_id == entry_id).order_by(KBRevision.id)))


def rollback_entry(session: Session, entry_id: str, revision: int, author: str) -> KBEntry | None:
    """Make the entry what it was at ``revision`` again (as a new revision; history is kept)."""
    target = session.scalar(select(KBRevision).where(
        KBRevision.entry_id == entry_id, KBRevision.revision == revision, KBRevision.after.is_not(None)))
    if target is None:
        raise LookupError(f"entry {entry_id!r} has no revision {revision}")
    data = {"answer_en": "", **{k: v for k, v in target.after.items() if k != "revision"}}  # older: none
    return save_entry(session, KBEntryIn(**data), author, action="rollback")


def upsert_kb(session: Session, entries: list[KBEntryIn], author: str = "import") -> tuple[int, int]:
    """Insert new entries, update changed ones (each a new revision); returns (created, updated)."""
    existing = set(session.scalars(select(KBEntry.id).where(KBEntry.id.in_([e.id for e in entries]))))
    created = updated = 0
    for item in entries:
        if save_entry(session, item, author) is not None:
            created += item.id not in existing
            updated += item.id in existing
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
    return [_entry_item(e) for e in session.scalars(select(KBEntry).order_by(KBEntry.id))]


def catalog_snapshot(session: Session) -> Catalog:
    return Catalog({p.id: ProductRecord.from_row(p) for p in session.scalars(select(Product))})


def shipping_snapshot(session: Session) -> dict[tuple[str, str], ShippingRateIn]:
    return {
        (r.origin, r.destination): ShippingRateIn(
            origin=r.origin, destination=r.destination, days_min=r.days_min, days_max=r.days_max,
            fee=r.fee, cold_chain=r.cold_chain, cold_chain_fee=r.cold_chain_fee)
        for r in session.scalars(select(ShippingRate))
    }
