"""The kernel's typed application state (aiohttp ``AppKey``s); every other key lives next to the class it types."""

from __future__ import annotations

import redis.asyncio as redis
from aiohttp import web
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.limits import InFlight, Limiter
from core.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
TEMPLATES = web.AppKey("templates", Environment)
REDIS: web.AppKey[redis.Redis | None] = web.AppKey("redis")  # TECHAN_REDIS_URL's client; None: one instance alone
LIMITS = web.AppKey("limits", Limiter)  # every rate limit of the app (core/limits.py)
IN_FLIGHT = web.AppKey("in_flight", InFlight)  # one client address's requests handled at once (core/limits.py)
