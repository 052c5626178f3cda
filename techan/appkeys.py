"""Typed application state (aiohttp ``AppKey``s), shared by the app and its route modules."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment
from rasa_sdk.executor import ActionExecutor
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handoff.rasa_client import RasaClient
from handoff.router import Router
from knowledge.service import Knowledge
from techan.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
KNOWLEDGE = web.AppKey("knowledge", Knowledge)
EXECUTOR = web.AppKey("executor", ActionExecutor)
RASA = web.AppKey("rasa", RasaClient)
ROUTER = web.AppKey("router", Router)
TEMPLATES = web.AppKey("templates", Environment)
