"""The one place that reads the environment (``TECHAN_*`` variables and ``.env``)."""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.hours import BusinessHours

DEFAULT_EMBEDDING_MODEL = "intfloat/multilingual-e5-small"


@lru_cache(maxsize=16)
def _business_hours(spec: str, timezone: str) -> BusinessHours:
    """Parsed once per spelling (a copy of the settings with other hours gets its own)."""
    return BusinessHours.parse(spec, timezone)


class Settings(BaseSettings):
    """Everything configurable; other modules receive an instance, never read os.environ."""

    model_config = SettingsConfigDict(
        env_prefix="TECHAN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    rasa_port: int = Field(default=5005, ge=1, le=65535)
    rasa_url: str = ""
    rasa_timeout: float = Field(default=10.0, gt=0)  # one Rasa turn, counted once it has a slot (below)
    rasa_concurrency: int = Field(default=4, ge=1, le=64)  # Rasa turns at once; the rest wait their turn
    # A customer message the bot cannot answer yet (Rasa loading, restarting, a timeout) waits this long,
    # the customer told 「稍等，助手马上就好」, before it goes to staff as `bot_unavailable`; 0: at once.
    bot_grace_s: float = Field(default=60.0, ge=0)
    # ... and this long while `techan run` reports the Rasa process starting or restarting (its model
    # load takes 70-100 s on 2 cores), so a start or a restart hands nobody to staff.
    bot_loading_grace_s: float = Field(default=180.0, ge=0)
    db_busy_timeout_s: float = Field(default=20.0, gt=0)  # SQLite waits this long for a lock before "locked"
    demo: bool = True
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    # CPU threads the embedding model may use. One spends the least CPU per message: a customer's question is
    # one short text, and a second thread saves ~2 ms of its ~10 ms while spending ~60 % more CPU.
    embedding_threads: int = Field(default=1, ge=1, le=64)
    call_mode: Literal["p2p", "bridge"] = "p2p"
    stun_urls: str = ""  # comma-separated, e.g. "stun:stun.example.com:3478"; none by default
    turn_url: str = ""  # e.g. "turn:turn.example.com:3478?transport=udp" (coturn)
    turn_secret: str = ""  # coturn's static-auth-secret: time-limited REST credentials are made from it
    ice_relay_only: bool = False  # pages use TURN relay candidates only (iceTransportPolicy "relay"); the network rig
    call_join_minutes: int = Field(default=10, ge=1, le=120)  # how long a customer's join link works
    secret_key: str = ""
    models_dir: Path | None = None  # default: <data_dir>/models (tests share one provisioned model)
    rasa_model: Path | None = None  # default: <data_dir>/rasa/models/techan.tar.gz
    log_level: str = "INFO"
    business_hours: str = "mon-sun 09:00-21:00"  # when staff answer, e.g. "mon-fri 09:00-21:00; sat 10:00-18:00"
    timezone: str = "Asia/Shanghai"  # the shop's time zone, for business hours

    redis_url: str = ""  # e.g. redis://127.0.0.1:6379/0; with it, instances share limits (more in issue 17)
    # Abuse limits (core/limits.py). Over a limit the message is still stored and the customer told politely.
    trusted_proxies: str = ""  # comma-separated addresses/networks whose X-Forwarded-For is believed
    limit_address_per_minute: int = Field(default=60, ge=1)  # messages from one client address
    limit_customer_per_minute: int = Field(default=20, ge=1)  # messages from one customer
    limit_new_customers_per_hour: int = Field(default=20, ge=1)  # new web-chat customers from one address
    limit_open_handoffs_per_address: int = Field(default=3, ge=1)  # chats waiting for staff from one address
    limit_topics_per_minute: int = Field(default=10, ge=1)  # new staff-group topics, shop-wide
    limit_address_in_flight: int = Field(default=4, ge=1)  # one address's messages handled at once; more wait
    limit_keys: int = Field(default=100_000, ge=100)  # keys a process's limiter remembers (oldest evicted)
    retention_days: int | None = Field(default=None, ge=1)  # messages, media, recordings older are purged

    telegram_token: str = ""
    telegram_api_url: str = "https://api.telegram.org/bot"
    public_url: str = ""
    embed_origins: str = ""  # sites allowed to frame the web chat, space-separated ("https://shop.example")
    telegram_staff_chat: str = ""

    @model_validator(mode="after")
    def _hours_are_readable(self) -> Settings:
        self.hours  # parsed once, and a typo fails at start, not at the first handoff
        return self

    @model_validator(mode="after")
    def _proxies_are_readable(self) -> Settings:
        self.proxies
        return self

    @property
    def proxies(self):
        """``trusted_proxies`` as networks (core.limits.client_address takes them)."""
        from core.limits import trusted_networks

        return trusted_networks(self.trusted_proxies)

    @property
    def hours(self) -> BusinessHours:
        return _business_hours(self.business_hours, self.timezone)

    @property
    def data_path(self) -> Path:
        return self.data_dir.resolve()

    @property
    def sqlalchemy_url(self) -> str:
        """Database URL; plain postgresql:// URLs get the psycopg 3 driver (sync and async)."""
        url = self.database_url or f"sqlite:///{self.data_path / 'techan.db'}"
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def async_sqlalchemy_url(self) -> str:
        """The same database with an asyncio driver, for the app."""
        url = self.sqlalchemy_url
        return "sqlite+aiosqlite:" + url[len("sqlite:"):] if url.startswith("sqlite:") else url

    @property
    def models_path(self) -> Path:
        return (self.models_dir or self.data_path / "models").resolve()

    @property
    def rasa_model_path(self) -> Path:
        return (self.rasa_model or self.rasa_path / "models" / "techan.tar.gz").resolve()

    @property
    def rasa_path(self) -> Path:
        return self.data_path / "rasa"

    @property
    def rasa_base_urls(self) -> list[str]:
        """``TECHAN_RASA_URL``: one Rasa server, or several, comma-separated; else ``techan run``'s own."""
        urls = [url.strip().rstrip("/") for url in self.rasa_url.split(",") if url.strip()]
        return urls or [f"http://127.0.0.1:{self.rasa_port}"]

    @property
    def rasa_base_url(self) -> str:
        return self.rasa_base_urls[0]

    @property
    def app_base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    @cached_property
    def secret(self) -> str:
        """Signing secret: from settings, else generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_path / "secret_key"
        if not path.exists():
            _create_private_file(path, secrets.token_urlsafe(32))
        return path.read_text().strip()

    @property
    def rasa_token(self) -> str:
        """Token shared with the Rasa server (its HTTP API and our action endpoint)."""
        import hashlib

        return hashlib.sha256(f"rasa:{self.secret}".encode()).hexdigest()[:40]


def _create_private_file(path: Path, value: str) -> None:
    """Write ``value`` to ``path`` unless it exists, atomically and readable by this user only (0600 in a
    0700 directory): two processes starting at once end with one file, and no moment shows it to others."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # created 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value)
        os.link(temporary, path)  # fails if another process made it first: theirs is kept
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)
