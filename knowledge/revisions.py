"""Records owners edit live (KB entries, catalog products): every change is a numbered revision that says who
made it and what the record was before and after, so any revision can be looked at and restored.

One implementation serves both kinds; a ``Revisions`` names the row, its log and the validated form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import aware, utcnow


@dataclass(frozen=True)
class Revisions:
    model: type  # the stored record (KBEntry, Product), with ``id`` and ``revision`` columns
    log: type  # its revisions (KBRevision, ProductRevision)
    key: str  # the log's column naming the record ("entry_id", "product_id")
    form: type[BaseModel]  # the record as validated at the edge (KBEntryIn, ProductIn)
    # Fields an older file or script may not give at all: then the stored value stays (an empty one clears it).
    kept_when_absent: tuple[str, ...] = ()

    def form_of(self, row: Any) -> BaseModel:
        values = {name: getattr(row, name) for name in self.form.model_fields}
        try:
            return self.form.model_validate(values)
        except ValidationError:  # stored before a rule it breaks (a picture from elsewhere): shown as it is
            return self.form.model_construct(**values)

    def data(self, row: Any) -> dict:
        """The record as stored in a revision (JSON: a price is a string of cents)."""
        return self.form_of(row).model_dump(mode="json")

    def save(self, session: Session, item: BaseModel, author: str, action: str | None = None,
             restored_from: int | None = None) -> Any | None:
        """Create or update one record, keeping a revision; returns the row, or None when nothing changed.
        A rollback's revision names the one it restored (``restored_from``, kept in its ``after``)."""
        row = session.get(self.model, item.id)
        values, data = item.model_dump(), item.model_dump(mode="json")
        if row is not None:
            for name in self.kept_when_absent:
                if name not in item.model_fields_set:
                    values[name] = data[name] = getattr(row, name)
        if row is None:
            row = self.model(**values, revision=1)
            session.add(row)
            before = None
        elif self.data(row) == data:
            return None
        else:
            before = {**self.data(row), "revision": row.revision}
            for name, value in values.items():
                setattr(row, name, value)
            row.revision += 1
            row.updated_at = utcnow()
        session.add(self.log(**{self.key: item.id}, revision=row.revision, author=author,
                             action=action or ("create" if before is None else "update"),
                             before=before, after={**data, "revision": row.revision,
                                                   **({"restored_from": restored_from} if restored_from else {})}))
        session.flush()
        return row

    def upsert(self, session: Session, items: list[BaseModel], author: str = "import") -> tuple[int, int]:
        """Insert new records, update changed ones (each a new revision); returns (created, updated)."""
        existing = set(session.scalars(select(self.model.id).where(self.model.id.in_([i.id for i in items]))))
        created = updated = 0
        for item in items:
            if self.save(session, item, author) is not None:
                created += item.id not in existing
                updated += item.id in existing
        return created, updated

    def delete(self, session: Session, record_id: str, author: str) -> bool:
        row = session.get(self.model, record_id)
        if row is None:
            return False
        session.add(self.log(**{self.key: record_id}, revision=row.revision + 1, action="delete", author=author,
                             before={**self.data(row), "revision": row.revision}, after=None))
        session.delete(row)
        session.flush()
        return True

    def free_id(self, session: Session, stem: str) -> str:
        """``stem``, or ``stem-2``, ``stem-3`` … whichever is not taken: readable ids the shop makes for owners."""
        taken = set(session.scalars(select(self.model.id).where(self.model.id.like(f"{stem}%"))))
        return next(candidate for candidate in (stem, *(f"{stem}-{n}" for n in range(2, len(taken) + 3)))
                    if candidate not in taken)

    def history(self, session: Session, record_id: str) -> list:
        column = getattr(self.log, self.key)
        return list(session.scalars(select(self.log).where(column == record_id).order_by(self.log.id)))

    def rollback(self, session: Session, record_id: str, revision: int, author: str) -> Any | None:
        """Make the record what it was at ``revision`` again (as a new revision; history is kept)."""
        target = session.scalar(select(self.log).where(
            getattr(self.log, self.key) == record_id, self.log.revision == revision, self.log.after.is_not(None)))
        if target is None:
            raise LookupError(f"{record_id!r} has no revision {revision}")
        restored = self.form.model_validate({k: v for k, v in target.after.items() if k in self.form.model_fields})
        # Every field counts as given: a field the old revision predates takes its default, not today's value.
        return self.save(session, self.form.model_validate(restored.model_dump()), author, action="rollback",
                         restored_from=revision)


def change_json(change: Any) -> dict:
    """A revision as the owner pages show it (who, when, what before and after)."""
    return {"revision": change.revision, "action": change.action, "author": change.author,
            "at": aware(change.created_at).isoformat(), "before": change.before, "after": change.after,
            "restored_from": (change.after or {}).get("restored_from")}
