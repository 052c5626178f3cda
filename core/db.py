"""Relational schema (SQLAlchemy 2 declarative) and engine factories.

The schema itself is created and changed only by Alembic migrations
(``core/migrations``); these classes must stay in step with them, which a
test checks by comparing the migrated database with this metadata.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    inspect,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
B = TypeVar("B", bound="Base")


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything here is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON}


class Customer(Base):
    """A person reaching the shop through one channel (web chat sender id, Telegram user id)."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_customer_channel_external"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="zh")
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    # The web chat's signed token carries this; None: none issued yet (Telegram, or a web customer from
    # before tokens, who gets one on their next message). Bumping it ends the customer's tokens.
    chat_token_version: Mapped[int | None] = mapped_column(Integer, default=None)
    client_address: Mapped[str | None] = mapped_column(String(45), default=None)  # of the last message (limits)

    conversations: Mapped[list[Conversation]] = relationship(back_populates="customer")


class Conversation(Base):
    """One stretch of talk with a customer; its ``state`` follows handoff.states."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="bot", index=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic concurrency: every UPDATE of the row says which version it read (SQLAlchemy adds
    # ``WHERE version = …`` and raises StaleDataError when another writer came first), so a claim, a
    # takeover, a resolve and a bot reply racing on one conversation can never overwrite each other.
    version: Mapped[int] = mapped_column(default=0, server_default="0")

    customer: Mapped[Customer] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id"
    )
    events: Mapped[list[ConversationEvent]] = relationship(
        back_populates="conversation", order_by="ConversationEvent.id"
    )

    __mapper_args__ = {"version_id_col": version}


class Message(Base):
    """Every message in either direction, stored before anything acts on it."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("channel", "channel_message_id", name="uq_message_channel_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    author: Mapped[str] = mapped_column(String(16))  # customer | bot | staff | system
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    delivery_status: Mapped[str] = mapped_column(String(16), default="received")
    # The channel's own id for an inbound message (Telegram: the update id): stored once only.
    channel_message_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationEvent(Base):
    """A named state-machine transition (or other notable event) on a conversation."""

    __tablename__ = "conversation_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="events")


class Product(Base):
    """A catalog item; ``id`` is the stable catalog id used by the KB and the bot."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    aliases: Mapped[list[str]] = mapped_column(default=list)
    region: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(16))  # shipping origin province
    category: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    unit: Mapped[str] = mapped_column(String(32), default="")
    unit_en: Mapped[str] = mapped_column(String(32), default="")
    weight_g: Mapped[int] = mapped_column(Integer)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer, default=None)
    shelf_life: Mapped[str] = mapped_column(Text)
    shelf_life_en: Mapped[str] = mapped_column(Text, default="")
    storage: Mapped[str] = mapped_column(Text)
    storage_en: Mapped[str] = mapped_column(Text, default="")
    vacuum_packing: Mapped[bool] = mapped_column(Boolean, default=False)
    cold_chain: Mapped[bool] = mapped_column(Boolean, default=False)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    recipients: Mapped[list[str]] = mapped_column(default=list)
    occasions: Mapped[list[str]] = mapped_column(default=list)
    tags: Mapped[list[str]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(256), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KBEntry(Base):
    """A knowledge-base entry: several phrasings, one answer (may hold {placeholders})."""

    __tablename__ = "kb_entries"

    id: Mapped[str] = mapped_column(String(96), primary_key=True)
    topic: Mapped[str] = mapped_column(String(16), index=True)
    product: Mapped[str] = mapped_column(String(64), default="", index=True)
    questions: Mapped[list[str]] = mapped_column(default=list)
    answer: Mapped[str] = mapped_column(Text)
    answer_en: Mapped[str] = mapped_column(Text, default="")  # optional English answer
    tags: Mapped[list[str]] = mapped_column(default=list)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class KBRevision(Base):
    """One change to a KB entry: who, when, and the entry before and after (None when absent)."""

    __tablename__ = "kb_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(96), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete | rollback
    author: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductRevision(Base):
    """One change to a catalog product, kept like a KB entry's (``KBRevision``)."""

    __tablename__ = "product_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))  # create | update | rollback
    author: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handoff(Base):
    """One episode of a conversation with staff: why, the context card, who took it, how it ended."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"), default=None)
    claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    ended_by: Mapped[str | None] = mapped_column(String(16), default=None)  # staff | customer
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    # The network limit (handoff.limits) whose trip took this waiting handoff out of the staff queue: a flood's
    # requests for staff are kept apart, still listed and claimable, and count for nobody's place in the queue.
    set_aside: Mapped[str | None] = mapped_column(String(32), default=None)


class UnansweredQuestion(Base):
    """A customer question the bot was unsure of, that went to staff, or whose answer was no help: the owner's inbox."""

    __tablename__ = "unanswered_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32))  # unsure | not_helpful | a handoff reason
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str | None] = mapped_column(Text, default=None)  # what the bot answered, when it did
    entry_id: Mapped[str | None] = mapped_column(String(96), default=None)  # set when answered by an entry
    resolved_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class StaffAccount(Base):
    """A shop owner or staff member; passwords are stored as Argon2 hashes only."""

    __tablename__ = "staff_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | staff
    password_hash: Mapped[str] = mapped_column(String(256))
    token_version: Mapped[int] = mapped_column(Integer, default=1)  # bump to revoke issued tokens
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # since the last success
    locked_until: Mapped[datetime | None] = mapped_column(default=None)  # sign-in backoff after failures
    display_name: Mapped[str | None] = mapped_column(String(32), default=None)  # what customers see; else the name

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name


class StaffSession(Base):
    """A browser sign-in, so that logging out (or revoking the account) ends it on the server too."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)  # random, carried in the signed cookie
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class CannedReply(Base):
    """A reply staff send often; typing ``/shortcut`` in the console inserts it. Owners edit them."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StaffNote(Base):
    """A private note on a conversation, for staff only; never delivered to the customer."""

    __tablename__ = "staff_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Call(Base):
    """A video or voice call staff opened from an assigned chat: who, how, when, and how it went."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # video | voice
    mode: Mapped[str] = mapped_column(String(8))  # p2p | bridge
    started_by: Mapped[str] = mapped_column(String(64))
    token_nonce: Mapped[str] = mapped_column(String(32))  # the customer's join link, usable once
    token_used_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    joined_at: Mapped[datetime | None] = mapped_column(default=None)
    connected_at: Mapped[datetime | None] = mapped_column(default=None)
    connect_ms: Mapped[int | None] = mapped_column(Integer, default=None)  # join -> media connected
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    consent: Mapped[bool] = mapped_column(Boolean, default=False)  # to recording
    recording: Mapped[str | None] = mapped_column(String(256), default=None)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ShippingRate(Base):
    """Days and fee from one origin province to one destination province."""

    __tablename__ = "shipping_rates"
    __table_args__ = (UniqueConstraint("origin", "destination", name="uq_shipping_route"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(16))
    destination: Mapped[str] = mapped_column(String(16))
    days_min: Mapped[int] = mapped_column(Integer)
    days_max: Mapped[int] = mapped_column(Integer)
    fee: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    cold_chain: Mapped[bool] = mapped_column(Boolean, default=False)
    cold_chain_fee: Mapped[Decimal] = mapped_column(Numeric(8, 2), default=Decimal("0"))


def make_engine(settings: Settings) -> Engine:
    """Synchronous engine for the CLI, migrations and the demo loader."""
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.sqlalchemy_url)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine, settings.db_busy_timeout_s)
    return engine


def make_async_engine(settings: Settings) -> AsyncEngine:
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(settings.async_sqlalchemy_url)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine.sync_engine, settings.db_busy_timeout_s)
    return engine


def make_async_session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def _tune_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    """WAL lets the CLI read while the app writes; a busy timeout waits out another writer's lock."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


BUSY_RETRY_PAUSES_S = (0.5, 1.0, 2.0)  # after SQLite's own busy timeout: three more tries, then it surfaces


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy" (another writer held the lock past the timeout)."""
    from sqlalchemy.exc import OperationalError

    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("database is locked" in text or "database is busy" in text)


async def attach(session: AsyncSession, row: B) -> B:
    """``row``, committed in another session, in ``session`` as it was committed, without reading it again. Only
    columns it never loaded are read (those of a new row left to a None default): an unloaded attribute would
    otherwise be read lazily, which the asyncio session cannot do."""
    row = await session.merge(row, load=False)
    state = inspect(row)
    if unloaded := state.unloaded & {column.key for column in state.mapper.column_attrs}:
        await session.refresh(row, attribute_names=sorted(unloaded))
    return row


async def retry_busy(operation: Callable[[], Awaitable[T]], pauses: tuple[float, ...] = BUSY_RETRY_PAUSES_S) -> T:
    """Run ``operation`` (a whole unit of work: it must start its own session), again after a pause while the
    database stays busy; the last busy error is raised."""
    import asyncio

    for pause in pauses:
        try:
            return await operation()
        except Exception as exc:
            if not is_busy(exc):
                raise
            log.warning("the database is busy (%s); trying again in %.1f s", exc.__class__.__name__, pause)
            await asyncio.sleep(pause)
    return await operation()
