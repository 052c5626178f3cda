"""Data retention: what customers said, sent and showed is kept ``TECHAN_RETENTION_DAYS``, then purged.

Purged: messages (with the owner-inbox questions quoting them), the attachments only those messages
used, and call recordings. Kept: chats waiting for or being served by staff (their whole transcript, however
old, until they are resolved), the catalog, the knowledge base, accounts, and the bare conversation and
call rows that hold the shop's metrics (no customer words are in them).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Text, and_, cast, delete, func, select, update
from sqlalchemy.orm import Session

from core.db import Call, Conversation, Message, UnansweredQuestion, utcnow

log = logging.getLogger(__name__)
OPEN_STATES = ("waiting", "assigned")
DAY_S = 24 * 3600
BATCH = 500  # messages per statement, so a first purge of years of chats holds no long lock


@dataclass
class Purge:
    """What a purge removed, or would remove (a dry run)."""

    cutoff: datetime
    dry_run: bool
    messages: int = 0
    questions: int = 0
    media: list[Path] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)

    def remove_files(self) -> None:
        """Delete the files, once the rows that pointed at them are committed away (a failed commit loses none)."""
        if not self.dry_run:
            for path in self.media + self.recordings:
                path.unlink(missing_ok=True)

    def summary(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (f"{verb}: {self.messages} messages, {self.questions} inbox questions, {len(self.media)} attachments, "
                f"{len(self.recordings)} call recordings (older than {self.cutoff:%Y-%m-%d %H:%M} UTC)")


def media_paths(payload: dict | None, media_dir: Path) -> set[Path]:
    """The files under ``media_dir`` a stored message shows (a customer's attachment, a staff picture)."""
    payload = payload or {}
    urls = [(payload.get("media") or {}).get("url"), payload.get("image")]
    return {media_dir / url.removeprefix("/media/") for url in urls
            if isinstance(url, str) and url.startswith("/media/") and "/" not in url.removeprefix("/media/")}


def _still_shown(session: Session, name: str, purged) -> bool:
    """A kept message shows this attachment too (names are random, so a text match is exact enough)."""
    return session.scalar(select(Message.id).join(Conversation, Message.conversation_id == Conversation.id)
                          .where(~purged, cast(Message.payload, Text).contains(name)).limit(1)) is not None


def purge(session: Session, data_dir: Path, days: int, *, dry_run: bool = False, now: datetime | None = None) -> Purge:
    """Delete the rows older than ``days`` (see the module's docstring); with ``dry_run`` only count them.

    The caller commits, then calls ``remove_files`` on the result.
    """
    report = Purge(cutoff=(now or utcnow()) - timedelta(days=days), dry_run=dry_run)
    media_dir = data_dir / "media"
    purged = and_(Message.created_at < report.cutoff, Conversation.state.not_in(OPEN_STATES))
    old = (select(Message.id, Message.payload).join(Conversation, Message.conversation_id == Conversation.id)
           .where(purged).order_by(Message.id))
    attachments: set[Path] = set()
    after = 0
    while True:  # bounded: each round takes the next BATCH ids above the last
        rows = session.execute(old.where(Message.id > after).limit(BATCH)).all()
        if not rows:
            break
        ids = [row.id for row in rows]
        after = ids[-1]
        for row in rows:
            attachments |= media_paths(row.payload, media_dir)
        report.messages += len(ids)
        quoting = UnansweredQuestion.message_id.in_(ids)
        if dry_run:
            report.questions += session.scalar(select(func.count(UnansweredQuestion.id)).where(quoting))
        else:
            report.questions += session.execute(delete(UnansweredQuestion).where(quoting)).rowcount
            session.execute(delete(Message).where(Message.id.in_(ids)))
    report.media = sorted(path for path in attachments if path.is_file() and not _still_shown(session, path.name, purged))
    recordings_dir = (data_dir / "recordings").resolve()
    calls = session.execute(select(Call.id, Call.recording).where(
        Call.created_at < report.cutoff, Call.recording.is_not(None))).all()
    report.recordings = sorted(path for path in (Path(call.recording).resolve() for call in calls)
                               if path.parent == recordings_dir and path.is_file())
    if not dry_run:
        session.execute(update(Call).where(Call.id.in_([call.id for call in calls])).values(recording=None))
    if report.messages or report.media or report.recordings:
        log.info("retention: %s", report.summary())
    return report


async def purge_daily(sessions, settings) -> None:
    """Apply ``settings.retention_days`` at start and then once a day, for the app's life."""
    while True:
        try:
            async with sessions() as session:
                report = await session.run_sync(lambda sync: purge(sync, settings.data_path, settings.retention_days))
                await session.commit()
            await asyncio.to_thread(report.remove_files)
        except asyncio.CancelledError:
            raise
        except Exception:  # tried again tomorrow; nothing is half-deleted (one transaction, files after it)
            log.exception("the daily retention purge failed")
        await asyncio.sleep(DAY_S)
