"""What the Telegram handlers share: the router, the desk, the database, the limits, the staff group, the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import ContextTypes

from core.db import Conversation, Customer, Message
from core.limits import Limiter
from core.settings import Settings
from handoff.desk import Desk
from handoff.router import Router

if TYPE_CHECKING:
    from handoff.channels.telegram.outbox import Outbox

CHANNEL = "telegram"


@dataclass
class TelegramChannel:
    """What the handlers share; ``outbox`` is set once the bot exists (every call to Telegram goes through it)."""

    router: Router
    desk: Desk
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    limits: Limiter
    knows_product: Callable[[str], bool] = lambda _product_id: False
    outbox: Outbox | None = None

    @property
    def media_dir(self) -> Path:
        return self.settings.data_path / "media"

    @property
    def staff_chat(self) -> str:
        return self.settings.telegram_staff_chat.strip()

    async def seen(self, update_id: int) -> bool:
        """Whether this update's message is stored already (Telegram delivers again after a restart)."""
        async with self.sessions() as session:
            return await session.scalar(select(Message.id).where(
                Message.channel == CHANNEL, Message.channel_message_id == str(update_id))) is not None

    async def original_of(self, external_id: str, telegram_message_id: int) -> int | None:
        """The stored message a customer's edit changes (None: sent before it was kept, or never stored)."""
        async with self.sessions() as session:
            return await session.scalar(
                select(Message.id).join(Conversation, Message.conversation_id == Conversation.id)
                .join(Customer, Conversation.customer_id == Customer.id)
                .where(Customer.channel == CHANNEL, Customer.external_id == external_id, Message.direction == "in",
                       Message.payload["telegram_message_id"].as_integer() == telegram_message_id)
                .order_by(Message.id).limit(1))


def channel_of(context: ContextTypes.DEFAULT_TYPE) -> TelegramChannel:
    return context.application.bot_data["channel"]


def show(update: Update, context: ContextTypes.DEFAULT_TYPE, send: Callable[[], Awaitable[object]], what: str,
         *, posts: bool = True) -> None:
    """Hand a call for this update's chat to the outbox: the handler goes on at once, the outbox waits if
    Telegram asks it to. ``posts=False``: a call that shows nothing in the chat (a button press's answer),
    outside the chat's pace."""
    outbox = channel_of(context).outbox
    assert outbox is not None, "the outbox starts with the application"
    outbox.send(update.effective_chat.id if update.effective_chat else update.effective_user.id, send, what,
                posts=posts)
