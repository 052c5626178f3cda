"""What happened to a conversation, told after the change is committed: typed events and a tiny bus.

The desk (handoff.desk) publishes what happens to conversations, the owner's knowledge editor that the
knowledge base changed. The staff console (handoff.hub), the web chat push (handoff.channels.webchat), the
Telegram channel, the Rasa tracker and the knowledge index subscribe; a subscriber that fails is logged and
never breaks the operation that already happened (the database has it).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
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


@dataclass(frozen=True)
class KnowledgeChanged:
    """The knowledge base, catalog or shipping table changed in the database: every instance reloads its index."""


Event = QueueChanged | TranscriptChanged | OutboundMessage | BotPaused | BotResumed | KnowledgeChanged
E = TypeVar("E", QueueChanged, TranscriptChanged, OutboundMessage, BotPaused, BotResumed, KnowledgeChanged)
Subscriber = Callable[[E], Awaitable[None]]


class Bus:
    """Subscribers by event type, called in the order they subscribed, one event after another.

    With several app instances (``TECHAN_REDIS_URL``) each event is also relayed to the others, where only the
    subscribers marked ``every_instance`` hear it: those that tell this instance's open sockets (a console, a
    chat page). The others act once, on the instance where the change happened (deliver to Telegram, pause Rasa)."""

    def __init__(self) -> None:
        self._subscribers: dict[type, list[tuple[Subscriber, bool]]] = defaultdict(list)
        self._relay: Callable[[Event], Awaitable[None]] | None = None

    def subscribe(self, kind: type[E], subscriber: Subscriber, *, every_instance: bool = False) -> None:
        self._subscribers[kind].append((subscriber, every_instance))

    def relay_to(self, send: Callable[[Event], Awaitable[None]] | None) -> None:
        """Where events go for the other instances (None: this instance is alone)."""
        self._relay = send

    async def emit(self, *events: Event) -> None:
        for event in events:
            await self._tell(event, everyone=True)
            if self._relay is not None:
                try:
                    await self._relay(event)
                except Exception:  # the other instances miss a push; their pages catch up on their next fetch
                    log.exception("could not relay %s to the other instances", type(event).__name__)

    async def emit_from_another_instance(self, event: Event) -> None:
        await self._tell(event, everyone=False)

    async def _tell(self, event: Event, everyone: bool) -> None:
        for subscriber, every_instance in self._subscribers[type(event)]:
            if not (everyone or every_instance):
                continue
            try:
                await subscriber(event)
            except Exception:  # the change is committed; a listener's failure must not undo or hide it
                log.exception("a subscriber of %s failed", type(event).__name__)


EVENT_TYPES: dict[str, type] = {kind.__name__: kind for kind in (QueueChanged, TranscriptChanged, OutboundMessage,
                                                                 BotPaused, BotResumed, KnowledgeChanged)}


def encode(event: Event, origin: str) -> str:
    return json.dumps({"origin": origin, "type": type(event).__name__, "fields": asdict(event)})


def decode(raw: str | bytes) -> tuple[str, Event]:
    """(the instance it came from, the event); ValueError for anything else."""
    message = json.loads(raw)
    kind = EVENT_TYPES.get(message.get("type")) if isinstance(message, dict) else None
    if kind is None or not isinstance(message.get("fields"), dict):
        raise ValueError("not a techan event")
    return str(message.get("origin", "")), kind(**message["fields"])


BUS = web.AppKey("bus", Bus)
