"""What the Telegram handlers share: the router, the desk, the database, the staff group, a rate limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import ContextTypes

from handoff.desk import Desk
from handoff.router import Router

CHANNEL = "telegram"
RATE_WINDOW_S = 10
RATE_MAX_MESSAGES = 8


@dataclass
class TelegramChannel:
    """What the handlers share: the router, the database, where attachments go, the staff group."""

    router: Router
    desk: Desk
    sessions: async_sessionmaker[AsyncSession]
    media_dir: Path
    knows_product: Callable[[str], bool] = lambda _product_id: False
    staff_chat: str = ""
    recent: dict[int, list[float]] = field(default_factory=dict)  # user id -> message times, for rate limiting
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)

    def too_fast(self, user_id: int) -> bool:
        now = time.monotonic()
        times = [t for t in self.recent.get(user_id, []) if now - t < RATE_WINDOW_S]
        times.append(now)
        self.recent[user_id] = times
        return len(times) > RATE_MAX_MESSAGES


def channel_of(context: ContextTypes.DEFAULT_TYPE) -> TelegramChannel:
    return context.application.bot_data["channel"]
