"""The owner's numbers by day (shop time zone): how much the bot handles alone, how long customers wait."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from statistics import mean, median
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.queue import aware
from handoff.states import HANDOFF_REASONS
from techan.appkeys import SESSIONS, SETTINGS, TEMPLATES
from techan.auth import CSRF, require, require_page
from techan.db import Call, Conversation, Handoff, UnansweredQuestion, utcnow

MAX_DAYS = 366
DEFAULT_DAYS = 14


@dataclass
class Day:
    day: date
    conversations: int = 0
    with_handoff: int = 0
    handoffs: Counter = field(default_factory=Counter)
    waits: list[float] = field(default_factory=list)
    handle_times: list[float] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    unanswered: int = 0
    calls: int = 0
    connect_ms: list[int] = field(default_factory=list)
    call_loss: list[float] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "day": self.day.isoformat(),
            "conversations": self.conversations,
            "bot_only_rate": round(1 - self.with_handoff / self.conversations, 3) if self.conversations else None,
            "handoff_rate": {reason: round(self.handoffs[reason] / self.conversations, 3) if self.conversations
                             else None for reason in HANDOFF_REASONS},
            "handoffs": {reason: self.handoffs[reason] for reason in HANDOFF_REASONS},
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


async def daily_metrics(session: AsyncSession, zone: ZoneInfo, days: int, now: datetime | None = None) -> list[Day]:
    """One row per day, newest first; a conversation counts on the day it began, a handoff on the day it was asked."""
    now = now or utcnow()
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    # In UTC, as everything is stored: SQLite compares wall-clock text, so a +08:00 bound would be off by 8 hours.
    since = datetime.combine(first, datetime.min.time(), zone).astimezone(timezone.utc)
    rows = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(days)}

    def row(moment: datetime) -> Day | None:
        return rows.get(aware(moment).astimezone(zone).date())

    handed_off: defaultdict[int, bool] = defaultdict(bool)
    for handoff in (await session.scalars(select(Handoff).where(Handoff.created_at >= since))).all():
        handed_off[handoff.conversation_id] = True
        if (day := row(handoff.created_at)) is None:
            continue
        day.handoffs[handoff.reason] += 1
        if handoff.claimed_at and handoff.reason != "staff_takeover":  # a takeover never waited
            day.waits.append((aware(handoff.claimed_at) - aware(handoff.created_at)).total_seconds())
        if handoff.claimed_at and handoff.ended_at and handoff.ended_by == "staff":
            day.handle_times.append((aware(handoff.ended_at) - aware(handoff.claimed_at)).total_seconds())
        if handoff.rating is not None:
            day.ratings.append(handoff.rating)
    for conversation in (await session.scalars(select(Conversation).where(Conversation.created_at >= since))).all():
        if (day := row(conversation.created_at)) is not None:
            day.conversations += 1
            day.with_handoff += handed_off[conversation.id]
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


async def _rows(request: web.Request) -> list[Day]:
    async with request.app[SESSIONS]() as session:
        return await daily_metrics(session, request.app[SETTINGS].hours.zone, _days(request))


async def metrics_api(request: web.Request) -> web.Response:
    await require(request, "owner")
    return web.json_response({"days": [d.as_json() for d in await _rows(request)]})


async def metrics_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "owner")
    html = request.app[TEMPLATES].get_template("metrics.html").render(
        user=principal.name, role=principal.role, csrf=request.get(CSRF, ""), days=[d.as_json() for d in await _rows(request)],
        reasons=HANDOFF_REASONS)
    return web.Response(text=html, content_type="text/html")


def setup(app: web.Application) -> None:
    app.router.add_get("/api/metrics", metrics_api)
    app.router.add_get("/admin/metrics", metrics_page)
