"""The abuse-limit policy of the customer channels, in one place: which limits a message counts against,
what the customer is told when one is spent, and how many chats one address may have waiting for staff.

A channel asks ``admit`` before routing a message; over a limit it still routes it, with the verdict
(``Router.handle(..., limited=over)``): the message is stored, the bot never sees it, and the customer
gets one polite notice per window (``Over.notify``), so a flood does not become a flood of notices.
The counting itself is the app's ``core.limits.Limiter`` (one process's memory now, a shared store later).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Conversation, Customer, Message, aware, utcnow
from core.language import Say
from core.limits import Limiter
from core.settings import Settings
from handoff.pending import LIMITED
from handoff.states import State

log = logging.getLogger(__name__)

ADDRESS = "address"  # messages from one client address per minute
CUSTOMER = "customer"  # messages from one customer per minute
NEW_CUSTOMERS = "new_customers"  # new customers (first messages of new sender ids) from one address per hour
# The limits of a whole network: when one is spent, that address's chats still waiting for staff are set aside
# (Desk.set_aside), so a flood's first requests for staff, made before any limit tripped, leave the queue.
NETWORK_LIMITS = (ADDRESS, NEW_CUSTOMERS)
WINDOWS_S = {ADDRESS: 60.0, NEW_CUSTOMERS: 3600.0, CUSTOMER: 60.0}  # what each limit counts over

TOO_FAST_TEXT = Say("您发得有点快，请{wait}后再发。这条消息已经记下了。",
                    "You're sending messages a little fast. Please wait {wait} before sending more; "
                    "we've kept this message.")
NETWORK_BUSY_TEXT = Say("您所在的网络现在发来的消息太多，请{wait}后再发。这条消息已经记下了。",
                        "Too many messages are coming from your network right now. Please wait {wait} "
                        "before sending more; we've kept this message.")
# The first message of a new chat over its address's hourly count: the chat's later messages are not new, so
# "wait N minutes" would not be true of them; the customer is asked to send it again.
NEW_CHATS_TEXT = Say("您所在的网络刚才新开的对话太多，机器人没有回答这条消息（消息已经记下了）。请再发一次您的问题。",
                     "Too many new chats have started from your network just now, so the assistant didn't answer "
                     "this message (we've kept it). Please send your question again.")
HANDOFFS_FULL_TEXT = Say("现在从您所在的网络发来的转人工请求较多，暂时不能再排队。请稍后再点“找店员”，机器人可以先为您解答。",
                         "Many requests for our staff are coming from your network right now, so we can't queue "
                         "another one yet. Please ask for staff again a little later; the bot can help meanwhile.")


@dataclass(frozen=True)
class Over:
    """A spent limit: which one, seconds until a message gets through, whether to tell the customer (the
    first time in the limit's window for them) and whether this is the first refusal of its subject (the
    address or customer) in the window."""

    limit: str
    wait_s: float
    notify: bool
    first: bool = False

    def notice(self, language: str) -> str:
        text = {CUSTOMER: TOO_FAST_TEXT, NEW_CUSTOMERS: NEW_CHATS_TEXT}.get(self.limit, NETWORK_BUSY_TEXT)
        return text.to(language).format(wait=say_wait(self.wait_s, language))

    @property
    def retry_after(self) -> int:
        """Whole seconds, for a ``Retry-After`` header (at least 1)."""
        return max(1, math.ceil(self.wait_s))


def say_wait(seconds: float, language: str) -> str:
    """「30 秒」, 「3 分钟」, "30 seconds", "3 minutes": rounded up, never zero."""
    if seconds <= 90:
        count, zh, en = max(1, math.ceil(seconds)), "秒", "second"
    else:
        count, zh, en = math.ceil(seconds / 60), "分钟", "minute"
    return f" {count} {zh}" if language != "en" else f"{count} {en}{'s' if count != 1 else ''}"


async def admit(limiter: Limiter, settings: Settings, channel: str, customer: str, address: str | None, *,
                new_customer: bool = False) -> Over | None:
    """Count one customer message against the limits that apply; None: go, else the first limit spent.

    ``address``: the client address (None where the channel has none, as on Telegram); ``new_customer``:
    this is the first message of a sender id the shop had not seen (the web chat's identity check knows,
    having just made the customer). A refused message is not counted against the limits after the one it
    spent, so a customer who waits gets through.
    """
    checks = []
    if address is not None:
        checks.append((ADDRESS, f"address:{address}", settings.limit_address_per_minute, WINDOWS_S[ADDRESS]))
        checks.append((NEW_CUSTOMERS, f"new:{address}", settings.limit_new_customers_per_hour,
                       WINDOWS_S[NEW_CUSTOMERS]))
    checks.append((CUSTOMER, f"customer:{channel}:{customer}", settings.limit_customer_per_minute,
                   WINDOWS_S[CUSTOMER]))
    for limit, key, count, window_s in checks:
        if limit == NEW_CUSTOMERS and not new_customer:
            continue
        wait = await limiter.hit(key, count, window_s)
        if wait:
            first = not await limiter.hit(f"logged:{key}", 1, window_s)  # per limit, subject and window
            if first:
                log.warning("limit %s spent by %s (%d per %.0f s); further messages wait %.0f s, stored unanswered",
                            limit, address if limit != CUSTOMER else f"{channel} customer {customer}", count,
                            window_s, wait)
            notify = not await limiter.hit(f"noticed:{limit}:{channel}:{customer}", 1, window_s)  # once per limit
            return Over(limit, wait, notify, first)
    return None


async def handoffs_full(session: AsyncSession, address: str | None, limit: int) -> bool:
    """Whether customers from ``address`` already have ``limit`` chats waiting for staff."""
    if address is None:
        return False
    waiting = await session.scalar(
        select(func.count(func.distinct(Customer.id))).join(Conversation, Conversation.customer_id == Customer.id)
        .where(Customer.client_address == address, Conversation.state == State.WAITING))
    return waiting >= limit


async def network_limit_spent(session: AsyncSession, address: str | None) -> str | None:
    """The network limit ``address`` has spent within that limit's window, read from the messages it kept over
    it: a chat from there that asks for staff meanwhile is set aside like those waiting when it tripped."""
    if address is None:
        return None
    now = utcnow()
    kept = (await session.execute(
        select(Message.payload, Message.created_at).join(Conversation, Message.conversation_id == Conversation.id)
        .join(Customer, Conversation.customer_id == Customer.id)
        .where(Customer.client_address == address, Message.delivery_status == LIMITED,
               Message.created_at >= now - timedelta(seconds=max(WINDOWS_S[limit] for limit in NETWORK_LIMITS)))
        .order_by(Message.id.desc()).limit(50))).all()
    return next((limit for payload, at in kept if (limit := (payload or {}).get("limit")) in NETWORK_LIMITS
                 and aware(at) >= now - timedelta(seconds=WINDOWS_S[limit])), None)
