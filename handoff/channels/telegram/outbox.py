"""The Telegram outbox: every call that shows something on Telegram goes through it, one lane per chat.

Waits belong here, never in an update handler: flood control (``RetryAfter``) and network backoff hold
only the chat they concern while other chats' lanes go on, and Telegram's own limits (30 calls a second
for a bot, 20 a minute in a group, about one a second in a customer's chat) are kept before it has to
ask. Each stored message and each staff-group announcement is a delivery of its own: a failure is
retried with backoff on its own, and after ``DELIVERY_ATTEMPTS`` tries it is marked ``failed`` (the
console shows it) while the rest flow on.
Passing calls that are not stored (a notice, a menu, removing a pressed keyboard) ride the same lanes, in
the order they came among the chat's stored messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from telegram import Bot

from core.db import Conversation, Customer, Message, aware, utcnow
from core.waiting import event_set_within
from handoff.channels.telegram import staff_group
from handoff.channels.telegram.channel import CHANNEL, TelegramChannel
from handoff.channels.telegram.sending import Paced, Send, after_failure, chat_wait, is_due, reply_sends
from handoff.events import Bus, OutboundMessage, QueueChanged, TranscriptChanged

log = logging.getLogger(__name__)

SLEEP_IN_LANE_MAX_S = 1.0  # a shorter wait for a budget is slept in the lane; a longer one holds the chat
LANES_AT_ONCE = 8  # chats sent to at once
ROUND_RETRY_S = 2.0  # after a round that failed
SAFETY_SWEEP_S = 30.0  # the outbox is woken by events and by its own retry times; this catches the rest
OUTBOX_BATCH = 500
BOT_CALLS_PER_SECOND = 30  # Telegram's limits (core.telegram.org/bots/faq): the whole bot,
GROUP_CALLS = (20, 60.0)  # and one group: calls, seconds
GROUP_BURST = 5  # a group's calls at once; after them, a steady pace keeps any window within GROUP_CALLS
PRIVATE_CHAT_BURST = 3  # a customer's chat: a reply's few messages at once (Telegram: avoid more than one
PRIVATE_CHAT_INTERVAL_S = 1.0  # message a second in one chat, short bursts allowed), then one a second
HEALTH_HOURS = 24  # the messages /healthz counts: the recent ones (by an indexed column), not all time


def to_send(columns: tuple[Any, ...], *criteria: Any) -> Select:
    """``columns`` of the stored messages to Telegram customers not sent yet (meeting ``criteria``), oldest first."""
    return (select(*columns).join(Conversation, Message.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Message.channel == CHANNEL, Message.direction == "out", Message.delivery_status == "pending",
                   *criteria)
            .order_by(Message.id).limit(OUTBOX_BATCH))


async def delivery_state(channel: TelegramChannel) -> dict[str, Any]:
    """What /healthz shows of Telegram: whether the staff group takes the bot's cards, and the last
    ``HEALTH_HOURS``' messages to customers that failed for good or still wait to be sent."""
    async with channel.sessions() as session:
        counts = dict((await session.execute(
            select(Message.delivery_status, func.count()).where(
                Message.channel == CHANNEL, Message.direction == "out",
                Message.delivery_status.in_(("failed", "pending")),
                Message.created_at >= utcnow() - timedelta(hours=HEALTH_HOURS))
            .group_by(Message.delivery_status))).all())
        group, error = await staff_group.posting_state(session) if channel.staff_chat else ("off", None)
    return {"staff_group": group, **({"staff_group_error": error} if error else {}),
            "failed_messages": counts.get("failed", 0), "pending_messages": counts.get("pending", 0),
            "counted_hours": HEALTH_HOURS}


@dataclass
class Passing:
    """A call nobody stored (a notice, a menu, a callback answer): tried a few times, then let go."""

    send: Send
    what: str
    at: float  # when it was handed over (the lane keeps the chat's order with its stored messages)
    posts: bool = True  # shows something in the chat (a button press's answer does not: not in its pace)
    tries: int = 0


@dataclass(frozen=True)
class Stored:
    """A stored message due for delivery, as the lane needs it."""

    id: int
    at: float
    text: str
    payload: dict[str, Any]


class Outbox:
    """The lanes, the chats' holds, and the round that starts lanes for chats with something due."""

    def __init__(self, bot: Bot, channel: TelegramChannel, clock: Callable[[], float] = time.time,
                 delivers: Callable[[], bool] = lambda: True) -> None:
        """``delivers``: whether this instance sends what is stored (messages, staff-group cards). With several
        instances only one does at a time, or a customer would get a message twice; each sends its own
        passing calls."""
        self.bot, self.channel, self.clock, self.delivers = bot, channel, clock, delivers
        self.passing: defaultdict[str, deque[Passing]] = defaultdict(deque)
        self.held_until: dict[str, float] = {}  # chat -> when it may be sent to again
        self.lanes: dict[str, asyncio.Task[None]] = {}
        self.slots = asyncio.Semaphore(LANES_AT_ONCE)
        self.wake = asyncio.Event()
        self.staff_topics: tuple[bool, float] | None = None  # whether the staff group has topics, and when asked

    # ------------------------------------------------------------ what handlers and events do

    def send(self, chat_id: int | str, send: Send, what: str, *, posts: bool = True) -> None:
        """Hand a passing call to the chat's lane and return at once: the handler never waits for Telegram."""
        chat = str(chat_id)
        self.passing[chat].append(Passing(send, what, self.clock(), posts))
        self.start(chat)

    def start(self, chat: str) -> None:
        """Run the chat's lane unless it runs already or the chat is held (the round starts it later)."""
        if chat not in self.lanes and self.held_until.get(chat, 0.0) <= self.clock():
            self.lanes[chat] = asyncio.create_task(self._lane(chat))

    def subscribe(self, bus: Bus) -> None:
        """A message stored for a Telegram customer starts their lane; a change in the queue (a new handoff from
        any channel) or in a transcript (a customer with staff wrote) the staff group's."""
        async def message_stored(event: OutboundMessage) -> None:
            if event.channel == CHANNEL:
                self.start(event.external_id)

        async def for_the_staff_group(_event: QueueChanged | TranscriptChanged) -> None:
            if self.channel.staff_chat:
                self.start(self.channel.staff_chat)
        bus.subscribe(OutboundMessage, message_stored, every_instance=True)  # stored on any, sent by one
        bus.subscribe(QueueChanged, for_the_staff_group, every_instance=True)
        bus.subscribe(TranscriptChanged, for_the_staff_group, every_instance=True)

    # ------------------------------------------------------------ the round

    async def run(self) -> None:
        """Start the lanes of chats with something due, then sleep until the next retry falls due or a lane
        ends; a failing round (the database locked) is logged and tried again."""
        while True:
            self.wake.clear()
            try:
                pause = await self.plan()
            except Exception:
                log.exception("telegram outbox round failed; trying again")
                pause = ROUND_RETRY_S
            await event_set_within(self.wake, pause)

    async def plan(self) -> float:
        """Start lanes for chats with a delivery due; return the seconds until the next one falls due."""
        now = self.clock()
        next_due = now + SAFETY_SWEEP_S
        due: set[str] = {chat for chat, waiting in self.passing.items() if waiting}
        retry_times: list[float] = []
        if self.delivers():
            stored, retry_times = await self._stored_due(now)
            due |= stored
        next_due = min([next_due, *(at for at in retry_times if at > now)])
        self.held_until = {chat: until for chat, until in self.held_until.items() if until > now}  # bounded
        for chat in due:
            if (held := self.held_until.get(chat, 0.0)) > now:
                next_due = min(next_due, held)
            else:
                self.start(chat)
        return max(next_due - now, 0.01)

    async def _stored_due(self, now: float) -> tuple[set[str], list[float]]:
        """The chats with a stored delivery due now, and the times of every stored delivery's next try."""
        async with self.channel.sessions() as session:
            rows = (await session.execute(to_send((Message.payload, Customer.external_id)))).all()
            retry_times = [float((payload or {}).get("delivery", {}).get("retry_at", 0.0)) for payload, _chat in rows]
            due = {chat for (_payload, chat), at in zip(rows, retry_times) if at <= now}
            if self.channel.staff_chat:
                announcements = await staff_group.announcement_times(session)
                retry_times += announcements
                if any(at <= now for at in announcements):
                    due.add(self.channel.staff_chat)
        return due, retry_times

    async def close(self) -> None:
        for task in list(self.lanes.values()):
            task.cancel()
        await asyncio.gather(*self.lanes.values(), return_exceptions=True)

    # ------------------------------------------------------------ one chat's lane

    async def _lane(self, chat: str) -> None:
        """One chat's calls in order, one at a time, until nothing is due or the chat must wait."""
        try:
            async with self.slots:
                while self.held_until.get(chat, 0.0) <= self.clock() and await self._next(chat):
                    pass
        except Exception:  # a lane never takes the outbox down; the round starts it again, after a pause
            log.exception("telegram lane for a chat failed")
            self.hold(chat, ROUND_RETRY_S)
        finally:
            self.lanes.pop(chat, None)
            self.wake.set()  # the round plans the retries this lane left behind

    async def _next(self, chat: str) -> bool:
        """Make the chat's next due delivery, the older first of its passing calls and its stored messages
        (a menu asked for after an answer comes after it); False when there is none."""
        waiting = self.passing[chat]
        staff_group_chat = chat == self.channel.staff_chat  # there: claims answered first, cards can wait a moment
        delivers = self.delivers()
        message = None if staff_group_chat or not delivers else await self._due_message(chat)
        if message is not None and (not waiting or message.at < waiting[0].at):
            await self._deliver(chat, message)
            return True
        if waiting:
            await self._passing(chat)
            return True
        del self.passing[chat]
        return staff_group_chat and delivers and (await staff_group.announce_next(self, self.clock())
                                                  or await staff_group.refresh_next(self)
                                                  or await staff_group.relay_next(self))

    async def call(self, chat: str, send: Send, *, posts: bool = True) -> Any:
        """One Bot API call within the chat's budget (a group's, a customer's) and the bot's: Telegram's limits
        kept before it has to ask. The chat's first, so a call that waits for it spends none of the bot's. A
        short wait is slept here, in the lane; a longer one holds the chat. A call that ``posts`` nothing in
        the chat (a button press's answer) spends only the bot's budget."""
        # GCRA lets a burst of ``limit`` through and then one call per window/limit.
        if chat.startswith("-"):  # groups and channels have negative ids
            calls, seconds = GROUP_CALLS
            # A burst of GROUP_BURST and the rest of GROUP_CALLS spread over the window never put more than
            # GROUP_CALLS in any window.
            chat_budget = (f"telegram:group:{chat}", GROUP_BURST, GROUP_BURST * seconds / (calls - GROUP_BURST))
        else:
            chat_budget = (f"telegram:chat:{chat}", PRIVATE_CHAT_BURST, PRIVATE_CHAT_BURST * PRIVATE_CHAT_INTERVAL_S)
        budgets = (chat_budget,) if posts else ()
        for key, limit, window in (*budgets, ("telegram:bot", BOT_CALLS_PER_SECOND, 1.0)):
            for _ in range(3):
                wait = await self.channel.limits.hit(key, limit, window)
                if not wait:
                    break
                if wait > SLEEP_IN_LANE_MAX_S:
                    raise Paced(wait)
                await asyncio.sleep(wait)
            else:
                raise Paced(SLEEP_IN_LANE_MAX_S)
        return await send()

    def hold(self, chat: str, seconds: float) -> None:
        if seconds > 0:
            self.held_until[chat] = max(self.held_until.get(chat, 0.0), self.clock() + seconds)

    async def _passing(self, chat: str) -> None:
        waiting = self.passing[chat]
        item = waiting[0]
        try:
            await self.call(chat, item.send, posts=item.posts)
        except Exception as exc:
            outcome = after_failure({"tries": item.tries}, exc, self.clock())
            self.hold(chat, outcome.hold_chat_s)
            item.tries = outcome.record.get("tries", item.tries)
            if outcome.hold_chat_s and not outcome.failed:
                return  # the chat waits; this call goes first when it may send again
            log.warning("telegram: gave up %s: %s", item.what, outcome.record.get("error", exc))
        waiting.popleft()

    async def _due_message(self, chat: str) -> Stored | None:
        """The chat's oldest stored message that is due now."""
        now = self.clock()
        async with self.channel.sessions() as session:
            messages = (await session.scalars(to_send((Message,), Customer.external_id == chat))).all()
            message = next((m for m in messages if is_due((m.payload or {}).get("delivery"), now)), None)
            if message is None:
                return None
            return Stored(message.id, aware(message.created_at).timestamp(), message.text, dict(message.payload or {}))

    async def _deliver(self, chat: str, message: Stored) -> None:
        """A stored message's calls, resumed at the first one not made yet; then how it went is kept."""
        record = dict(message.payload.get("delivery") or {})
        done = int(record.get("parts", 0))
        failure: Exception | None = None
        try:
            for send in reply_sends(self.bot, chat, {"text": message.text, **message.payload},
                                    self.channel.media_dir)[done:]:
                await self.call(chat, send)
                done += 1
        except Exception as exc:
            failure = exc
        await self._settle(chat, message.id, {**record, "parts": done}, failure)

    async def _settle(self, chat: str, message_id: int, record: dict[str, Any], failure: Exception | None) -> None:
        """Keep how the try went: sent, failed for good, or pending with its next try."""
        async with self.channel.sessions() as session:
            message = await session.get(Message, message_id)
            if failure is None:
                status = "sent"
            else:
                outcome = after_failure(record, failure, self.clock())
                record, status = outcome.record, "failed" if outcome.failed else "pending"
                self.hold(chat, outcome.hold_chat_s)
                if outcome.failed:
                    log.error("message %s to a Telegram customer failed for good after %s tries: %s",
                              message_id, record.get("tries"), record.get("error"))
                elif chat_wait(failure) is None:
                    log.warning("message %s to a Telegram customer: try %s failed (%s); next in %.0f s",
                                message_id, record["tries"], record["error"], record["retry_at"] - self.clock())
            message.payload = {**(message.payload or {}), "delivery": record}
            if status != "pending":
                await self.channel.desk.delivered(session, message, status)
            await self.channel.desk.commit(session)

