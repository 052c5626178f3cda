"""Customer messages the shop has stored but not acted on yet ("pending"), and the sweep that finishes them.

Every customer message is stored ``pending`` before anything acts on it, and becomes ``received`` in the
same commit as what it got: the bot's answer, a handoff, or being kept for staff. A message still
pending is one the bot could not answer yet (the Rasa server loading its model, restarting, a turn that
timed out) or one whose handling was cut short (the app killed, the database locked). The router
answers pending messages once the bot is back, in order per customer; one pending longer than the grace
goes to staff (`bot_unavailable`) and the owner's inbox. A message over an abuse limit is stored ``limited``
instead: the sweep never picks it up (the bot does not answer a flood later, in a burst); staff who open
the chat see it in the transcript. The sweep runs at start-up, on a schedule
(``SWEEP_IDLE_S``), and every ``SWEEP_BUSY_S`` while something is pending or the bot is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Conversation, Customer, Message, utcnow
from core.settings import Settings
from core.status import read_status
from core.waiting import event_set_within

if TYPE_CHECKING:
    from handoff.router import Router

log = logging.getLogger(__name__)

PENDING = "pending"  # an inbound message nothing has acted on yet
HANDLED = "received"  # answered, handed to staff, or kept for staff (what every inbound message was before)
LIMITED = "limited"  # over an abuse limit (handoff.limits): kept for the transcript, never answered by the bot
SWEEP_BUSY_S = 1.0
SWEEP_IDLE_S = 30.0
SWEEP_MIN_PAUSE_S = 0.2
SWEEP_CUSTOMERS = 100  # customers per round, oldest first
PER_CUSTOMER = 50  # pending messages of one customer taken per round
HORIZON = timedelta(days=7)  # pending messages older than this are not looked for (created_at is indexed)
LOADING_STATES = ("starting", "restarting")  # the supervisor's words for a Rasa process on its way up


@dataclass(frozen=True)
class Waiting:
    """A customer with pending messages, and when the oldest of them came in."""

    channel: str
    external_id: str
    since: datetime


def grace(settings: Settings) -> Callable[[], float]:
    """How long a pending message may wait for the bot: longer while `techan run` reports Rasa loading."""
    def seconds() -> float:
        rasa = read_status(settings).get("rasa") or {}
        loading = isinstance(rasa, dict) and rasa.get("state") in LOADING_STATES
        return max(settings.bot_grace_s, settings.bot_loading_grace_s) if loading else settings.bot_grace_s
    return seconds


async def of_conversation(session: AsyncSession, conversation_id: int) -> list[Message]:
    """The conversation's pending messages, oldest first."""
    return list((await session.scalars(select(Message).where(
        Message.conversation_id == conversation_id, Message.direction == "in", Message.delivery_status == PENDING)
        .order_by(Message.id).limit(PER_CUSTOMER))).all())


async def first_of_customer(session: AsyncSession, channel: str, external_id: str) -> Message | None:
    return await session.scalar(
        select(Message).join(Conversation, Message.conversation_id == Conversation.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(Customer.channel == channel, Customer.external_id == external_id, Message.direction == "in",
               Message.delivery_status == PENDING).order_by(Message.id).limit(1))


async def customer_has_pending(session: AsyncSession, customer_id: int) -> bool:
    return await session.scalar(
        select(func.count(Message.id)).join(Conversation, Message.conversation_id == Conversation.id)
        .where(Conversation.customer_id == customer_id, Message.direction == "in",
               Message.delivery_status == PENDING)) > 0


async def waiting_customers(session: AsyncSession, limit: int = SWEEP_CUSTOMERS) -> list[Waiting]:
    """Customers with pending messages, the longest-waiting first."""
    rows = (await session.execute(
        select(Customer.channel, Customer.external_id, func.min(Message.created_at))
        .join(Conversation, Conversation.customer_id == Customer.id)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Message.created_at >= utcnow() - HORIZON, Message.direction == "in",
               Message.delivery_status == PENDING)
        .group_by(Customer.id, Customer.channel, Customer.external_id)
        .order_by(func.min(Message.created_at)).limit(limit))).all()
    return [Waiting(channel, external_id, since) for channel, external_id, since in rows]


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count(Message.id)).where(
        Message.created_at >= utcnow() - HORIZON, Message.direction == "in", Message.delivery_status == PENDING))


async def sweep_forever(router: Router) -> None:
    """The background sweep (runs for the app's life, in its cleanup context; one bounded round at a time)."""
    while True:
        router.wake.clear()
        try:
            busy = await router.sweep()
        except asyncio.CancelledError:
            raise
        except Exception:  # the next round tries again; a message is never dropped here
            log.exception("the sweep of pending messages failed; trying again")
            busy = True
        await asyncio.sleep(SWEEP_MIN_PAUSE_S)
        await event_set_within(router.wake, SWEEP_BUSY_S if busy else SWEEP_IDLE_S)
