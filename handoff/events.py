"""What happened to a conversation, told after the change is committed: typed events and a tiny bus.

The desk (handoff.desk) is the only publisher. The staff console (handoff.hub), the web chat push
(handoff.channels.webchat), the Telegram channel and the Rasa tracker subscribe; a subscriber that
fails is logged and never breaks the operation that already happened (the database has it).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QueueChanged:
    """A handoff opened, was claimed, transferred, resolved or cancelled: the queue looks different."""

    conversation_id: int


@dataclass(frozen=True)
class TranscriptChanged:
    """A message or a note was stored in the conversation, or a message's delivery status changed."""

    conversation_id: int


@dataclass(frozen=True)
class OutboundMessage:
    """A message to the customer is stored ``pending``: its channel should deliver it (the row is the record)."""

    conversation_id: int
    message_id: int
    channel: str
    external_id: str  # the customer's id in that channel


@dataclass(frozen=True)
class BotPaused:
    """Staff took the chat: Rasa's dialogue for this customer stops."""

    sender: str  # the Rasa sender id


@dataclass(frozen=True)
class BotResumed:
    """The chat is back with the bot: Rasa starts afresh for this customer."""

    sender: str


Event = QueueChanged | TranscriptChanged | OutboundMessage | BotPaused | BotResumed
E = TypeVar("E", QueueChanged, TranscriptChanged, OutboundMessage, BotPaused, BotResumed)
Subscriber = Callable[[E], Awaitable[None]]


class Bus:
    """Subscribers by event type, called in the order they subscribed, one event after another."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[Subscriber]] = defaultdict(list)

    def subscribe(self, kind: type[E], subscriber: Subscriber) -> None:
        self._subscribers[kind].append(subscriber)

    async def emit(self, *events: Event) -> None:
        for event in events:
            for subscriber in self._subscribers[type(event)]:
                try:
                    await subscriber(event)
                except Exception:  # the change is committed; a listener's failure must not undo or hide it
                    log.exception("a subscriber of %s failed", type(event).__name__)


BUS = web.AppKey("bus", Bus)
