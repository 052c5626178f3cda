"""The owner's numbers by day (shop time zone): how much the bot handles alone, how long customers wait.

Resolved by the bot, honestly: a conversation with no handoff, no 没用 on any answer, and no question
asked twice (the same text once punctuation and spaces are gone) — a repeat means the answer missed.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from statistics import mean, median
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bot_payload import REASON_LABELS, HandoffReason
from handoff.feedback import NOT_HELPFUL, answering_entry
from core.db import aware
from web.i18n import render_page
from web.keys import SESSIONS, SETTINGS
from web.auth import CSRF, require, require_page
from core.db import Call, Conversation, Handoff, KBEntry, Message, UnansweredQuestion, utcnow
from core.language import to_simplified

MAX_DAYS = 366
DEFAULT_DAYS = 14
MOST_NOT_HELPFUL = 10


def same_question_key(text: str) -> str:
    """A customer message with case, punctuation, symbols and spaces gone: equal keys ask the same thing."""
    text = unicodedata.normalize("NFKC", to_simplified(text)).casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


@dataclass
class Day:
    day: date
    conversations: int = 0
    with_handoff: int = 0
    with_not_helpful: int = 0
    with_repeat: int = 0
    resolved_by_bot: int = 0
    handoffs: Counter = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    handle_times: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    unanswered: int = 0
    calls: int = 0
    connect_ms: list[int] = field(default_factory=list)
    call_loss: list[float] = field(default_factory=list)

    @classmethod
    def combined(cls, days: list[Day]) -> Day:
        """The days as one: counts added, the samples behind medians and means pooled."""
        whole = cls(min((d.day for d in days), default=date.min))
        for day in days:
            for name, value in vars(day).items():
                if name != "day":
                    setattr(whole, name, getattr(whole, name) + value)
        return whole

    def as_json(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "conversations": self.conversations,
            "with_handoff": self.with_handoff,
            "bot_only_rate": round(1 - self.with_handoff / self.conversations, 3) if self.conversations else None,
            "resolved_by_bot": self.resolved_by_bot,
            "resolved_by_bot_rate": rate(self.resolved_by_bot, self.conversations),
            "with_not_helpful": self.with_not_helpful,
            "with_repeat": self.with_repeat,
            "handoff_rate": {reason: round(self.handoffs[reason] / self.conversations, 3) if self.conversations
                             else None for reason in HandoffReason},
            "handoffs": {reason: self.handoffs[reason] for reason in HandoffReason},
            "median_wait_s": round(median(self.waits)) if self.waits else None,
            "median_handle_s": round(median(self.handle_times)) if self.handle_times else None,
            "satisfaction": round(mean(self.ratings), 2) if self.ratings else None,
            "ratings": len(self.ratings),
            "unanswered": self.unanswered,
            "calls": self.calls,
            "calls_connected": len(self.connect_ms),
            "median_connect_ms": round(median(self.connect_ms)) if self.connect_ms else None,
            "call_loss": round(mean(self.call_loss), 4) if self.call_loss else None,
        }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


@dataclass
class Period:
    """The whole window: its totals, the honest resolved-by-bot rate, and the KB entries customers said 没用 to
    most. Medians and the mean rating are over every handoff in the window, not an average of the days'."""

    days: list[Day] = field(default_factory=list)
    not_helpful: int = 0
    most_not_helpful: list[dict] = field(default_factory=list)  # {"id", "question", "count"}, most first

    def as_json(self) -> dict:
        totals = Day.combined(self.days).as_json()
        return {**{key: totals[key] for key in ("conversations", "resolved_by_bot", "resolved_by_bot_rate")},
                "not_helpful": self.not_helpful, "most_not_helpful": self.most_not_helpful,
                **{key: totals[key] for key in ("handoffs", "median_wait_s", "median_handle_s", "satisfaction",
                                                "ratings", "unanswered", "calls", "calls_connected",
                                                "median_connect_ms")}}


def window_start(zone: ZoneInfo, days: int, now: datetime | None = None) -> tuple[date, datetime]:
    """The window's first shop day, and its start in UTC."""
    first = (now or utcnow()).astimezone(zone).date() - timedelta(days=days - 1)
    # In UTC, as everything is stored: SQLite compares wall-clock text, so a +08:00 bound would be off by 8 hours.
    return first, datetime.combine(first, datetime.min.time(), zone).astimezone(timezone.utc)


def not_helpful_answers(since: datetime):
    """Bot answers in conversations begun since ``since`` that the customer marked 没用."""
    return (select(Message.conversation_id, Message.payload)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.created_at >= since, Message.author == "bot",
                   Message.payload[("meta", "feedback")].as_string() == NOT_HELPFUL))


async def repeated_conversations(session: AsyncSession, since: datetime) -> set[int]:
    """Conversations begun since ``since`` where the customer typed the same question twice."""
    seen: defaultdict[int, set[str]] = defaultdict(set)
    repeated: set[int] = set()
    for conversation_id, text, payload in (await session.execute(
            select(Message.conversation_id, Message.text, Message.payload)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.created_at >= since, Message.direction == "in", ~Message.text.startswith("/"))
            .order_by(Message.id))).all():
        if (payload or {}).get("media"):  # two pictures are not a question asked twice
            continue
        key = same_question_key(text)
        if key and key in seen[conversation_id]:
            repeated.add(conversation_id)
        seen[conversation_id].add(key)
    return repeated


async def period_metrics(session: AsyncSession, zone: ZoneInfo, days: int, rows: list[Day],
                         now: datetime | None = None) -> Period:
    _first, since = window_start(zone, days, now)
    entries: Counter = Counter()
    answers = (await session.execute(not_helpful_answers(since))).all()
    for _conversation_id, payload in answers:
        if entry_id := answering_entry((payload or {}).get("meta")):
            entries[entry_id] += 1
    top = entries.most_common(MOST_NOT_HELPFUL)
    phrasings = {entry.id: entry.questions for entry in (await session.scalars(
        select(KBEntry).where(KBEntry.id.in_([entry_id for entry_id, _ in top])))).all()}
    return Period(
        days=rows, not_helpful=len(answers),
        most_not_helpful=[{"id": entry_id, "question": (phrasings.get(entry_id) or [""])[0], "count": count}
                          for entry_id, count in top])


async def daily_metrics(session: AsyncSession, zone: ZoneInfo, days: int, now: datetime | None = None) -> list[Day]:
    """One row per day, newest first; a conversation counts on the day it began, a handoff on the day it was asked."""
    first, since = window_start(zone, days, now)
    rows = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(days)}

    def row(moment: datetime) -> Day | None:
        return rows.get(aware(moment).astimezone(zone).date())

    handed_off: defaultdict[int, bool] = defaultdict(bool)
    for handoff in (await session.scalars(select(Handoff).where(Handoff.created_at >= since))).all():
        handed_off[handoff.conversation_id] = True
        if (day := row(handoff.created_at)) is None:
            continue
        day.handoffs[handoff.reason] += 1
        if handoff.claimed_at and handoff.reason != HandoffReason.STAFF_TAKEOVER:  # a takeover never waited
            day.waits.append((aware(handoff.claimed_at) - aware(handoff.created_at)).total_seconds())
        if handoff.claimed_at and handoff.ended_at and handoff.ended_by == "staff":
            day.handle_times.append((aware(handoff.ended_at) - aware(handoff.claimed_at)).total_seconds())
        if handoff.rating is not None:
            day.ratings.append(handoff.rating)
    not_helpful = {conversation_id for conversation_id, _ in (await session.execute(not_helpful_answers(since))).all()}
    repeated = await repeated_conversations(session, since)
    for conversation in (await session.scalars(select(Conversation).where(Conversation.created_at >= since))).all():
        if (day := row(conversation.created_at)) is not None:
            day.conversations += 1
            day.with_handoff += handed_off[conversation.id]
            day.with_not_helpful += conversation.id in not_helpful
            day.with_repeat += conversation.id in repeated
            day.resolved_by_bot += not (handed_off[conversation.id] or conversation.id in not_helpful
                                        or conversation.id in repeated)
    for (created,) in (await session.execute(
            select(UnansweredQuestion.created_at).where(UnansweredQuestion.created_at >= since))).all():
        if (day := row(created)) is not None:
            day.unanswered += 1
    for call in (await session.scalars(select(Call).where(Call.created_at >= since))).all():
        if (day := row(call.created_at)) is not None:
            day.calls += 1
            if call.connect_ms is not None:
                day.connect_ms.append(call.connect_ms)
            losses = [side.get("avg_loss") for side in (call.quality or {}).values() if isinstance(side, dict)]
            day.call_loss += [loss for loss in losses if isinstance(loss, (int, float))]
    return sorted(rows.values(), key=lambda d: d.day, reverse=True)


def _days(request: web.Request) -> int:
    try:
        days = int(request.query.get("days", DEFAULT_DAYS))
    except ValueError:
        raise web.HTTPBadRequest(text="days must be a whole number") from None
    if not 1 <= days <= MAX_DAYS:
        raise web.HTTPBadRequest(text=f"days must be between 1 and {MAX_DAYS}")
    return days


async def _rows(request: web.Request) -> tuple[list[Day], Period]:
    zone, days, now = request.app[SETTINGS].hours.zone, _days(request), utcnow()
    async with request.app[SESSIONS]() as session:
        rows = await daily_metrics(session, zone, days, now)
        return rows, await period_metrics(session, zone, days, rows, now)


async def metrics_api(request: web.Request) -> web.Response:
    await require(request, "owner")
    rows, period = await _rows(request)
    return web.json_response({"days": [d.as_json() for d in rows], "period": period.as_json()})


async def metrics_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "owner")
    rows, period = await _rows(request)
    days = [d.as_json() for d in rows]
    chart = {"days": days[::-1], "reasons": [[reason, REASON_LABELS[reason]] for reason in HandoffReason]}
    return render_page(request, "metrics.html", user=principal.name, role=principal.role, csrf=request.get(CSRF, ""),
                       days=days, period=period.as_json(), reasons=list(HandoffReason), labels=REASON_LABELS,
                       chart=chart)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/metrics", metrics_api)
    app.router.add_get("/admin/metrics", metrics_page)
