"""The roof: builds the aiohttp application from every part, in one explicit start-up order."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator

import aiohttp
import redis.asyncio as redis
from aiohttp import web
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionMissingDomainException, ActionNotFoundException

from actions import build_executor
from actions.knowledge import closest_question
from core.bot_payload import REASON_LABELS
from core.limits import InFlight, MemoryLimiter, RedisLimiter
from core.retention import purge_daily
from core.db import make_async_engine, make_async_session_factory
from core.settings import Settings
from core.status import read_status
from calls import bridge as call_rooms
from calls import routes as call_routes
from handoff import assist, metrics, pending, staff_api, staff_tools
from handoff.channels import telegram, webchat
from handoff.desk import DESK, Desk
from handoff.events import BUS, Bus, KnowledgeChanged
from handoff.hub import hub_lifecycle
from handoff.rasa_client import RASA, RasaClient
from handoff.relay import relay_lifecycle
from handoff.router import ROUTER, Router
from handoff.turns import CustomerTurns
from knowledge import admin, catalog_admin
from knowledge.live import ANNOUNCE_KNOWLEDGE_CHANGE, KNOWLEDGE, LIVE_KNOWLEDGE, knowledge_lifecycle
from knowledge.service import Knowledge
from web import login, media, staff_accounts
from web.body import json_object
from web.errors import json_errors
from web.guards import body_limits, security_headers
from web.keys import ENGINE, IN_FLIGHT, LIMITS, REDIS, SESSIONS, SETTINGS, TEMPLATES

log = logging.getLogger(__name__)

# Rasa sends the whole tracker with every action call, which grows with the conversation.
MAX_BODY_BYTES = 32 * 1024 * 1024  # signed-in staff and owners: pictures, KB imports
PUBLIC_BODY_BYTES = 64 * 1024  # any route not listed below
# Bytes a route may read, by path prefix (first match): small where anyone can post.
BODY_LIMITS = (("/api/chat/", webchat.MAX_BODY_BYTES), ("/login", 16 * 1024), ("/logout", 16 * 1024),
               (telegram.WEBHOOK_PATH, 1 << 20),  # one Telegram update (media comes by file id, not inline)
               ("/webhook", 16 << 20),  # Rasa's action calls carry the whole tracker
               ("/api/", MAX_BODY_BYTES))
CUSTOMER_PAGES = ("/", "/call/")  # the web chat and call pages (a prefix): Telegram's web client may frame them
EXECUTOR = web.AppKey("executor", ActionExecutor)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = make_async_engine(app[SETTINGS])
    app[ENGINE] = engine
    app[SESSIONS] = make_async_session_factory(engine)
    yield
    await engine.dispose()


async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
    """REDIS, and LIMITS: shared by every instance through Redis when TECHAN_REDIS_URL is set, else this
    process's own."""
    settings = app[SETTINGS]
    if not settings.redis_url:
        app[REDIS] = None
        app[LIMITS] = MemoryLimiter(settings.limit_keys)
        yield
        return
    app[REDIS] = client = redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    app[LIMITS] = RedisLimiter(client)
    yield
    await client.aclose()


async def knowledge_events_ctx(app: web.Application) -> AsyncIterator[None]:
    """An edit to the knowledge base reloads every instance's index: told on the bus, which Redis relays."""
    bus = app[BUS]

    async def changed(_event: KnowledgeChanged) -> None:
        await app[LIVE_KNOWLEDGE].reload()
    bus.subscribe(KnowledgeChanged, changed, every_instance=True)
    app[ANNOUNCE_KNOWLEDGE_CHANGE] = lambda: bus.emit(KnowledgeChanged())
    yield


async def executor_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Rasa actions, served at /webhook, with the knowledge service injected."""
    app[EXECUTOR] = build_executor(app[KNOWLEDGE])
    yield


def kb_phrasing(app: web.Application):
    """(entry id, language) -> the entry's phrasing the bot offers as a button, None when the entry is gone."""
    def phrasing(entry_id: str, language: str) -> str | None:
        entry = next((e for e in app[KNOWLEDGE].index.entries if e.id == entry_id), None)
        return closest_question(entry, language) if entry is not None and entry.questions else None
    return phrasing


def kb_similar(app: web.Application):
    """A question -> the KB entries closest to it, best first (as the current index ranks them)."""
    def similar(question: str) -> list[str]:
        return [hit.id for hit in app[KNOWLEDGE].search(question, k=5)]
    return similar


async def rasa_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with aiohttp.ClientSession() as session:
        app[RASA] = RasaClient(session, settings.rasa_base_urls, settings.rasa_token, settings.rasa_timeout)
        app[DESK] = Desk(app[SESSIONS], app[BUS], app[RASA])
        app[ROUTER] = Router(app[SESSIONS], app[RASA], app[DESK], settings.hours,
                             phrasing=kb_phrasing(app), similar=kb_similar(app),
                             grace=pending.grace(settings), concurrency=settings.rasa_concurrency,
                             handoffs_per_address=settings.limit_open_handoffs_per_address,
                             turns=CustomerTurns(app[REDIS]))
        sweep = asyncio.create_task(pending.sweep_forever(app[ROUTER]))  # at start-up, then on a schedule
        try:
            yield
        finally:
            sweep.cancel()
            await asyncio.gather(sweep, return_exceptions=True)


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """With TECHAN_RETENTION_DAYS set: old messages, attachments and recordings purged daily."""
    settings = app[SETTINGS]
    task = asyncio.create_task(purge_daily(app[SESSIONS], settings)) if settings.retention_days else None
    yield
    if task:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    rasa_ok = await app[RASA].reachable()
    knowledge = app[KNOWLEDGE]
    deliveries = await telegram.health(app)  # a staff group the bot cannot post to misses every handoff
    group_ok = deliveries is None or deliveries["staff_group"] in ("ok", "off")
    return web.json_response({
        "status": "ok" if rasa_ok and group_ok else "degraded",
        "rasa": rasa_ok,
        "kb_entries": len(knowledge.index),
        "model": knowledge.model_name,
        # Under `techan run`: each process's state, restarts and why it last stopped.
        "processes": read_status(app[SETTINGS]),
        "telegram": deliveries,  # null when Telegram is off
    })


async def action_webhook(request: web.Request) -> web.Response:
    """Rasa's action endpoint, served by rasa_sdk's executor inside this process."""
    token = request.query.get("token", "")
    if not hmac.compare_digest(token, request.app[SETTINGS].rasa_token):
        raise web.HTTPUnauthorized(text="missing or wrong action endpoint token")
    action_call = await json_object(request, '{"next_action": "...", "tracker": {...}}')
    executor = request.app[EXECUTOR]
    try:
        result = await executor.run(action_call)
    except (ActionExecutionRejection, ActionNotFoundException, ActionMissingDomainException) as exc:
        status = {ActionExecutionRejection: 400, ActionNotFoundException: 404,
                  ActionMissingDomainException: 449}[type(exc)]
        return web.json_response({"error": exc.message, "action_name": exc.action_name}, status=status)
    return web.json_response(result.model_dump() if result else None)


def create_app(settings: Settings, *, knowledge: Knowledge | None = None) -> web.Application:
    """Build the app; ``knowledge`` lets tests share one loaded embedding model."""
    app = web.Application(middlewares=[json_errors, body_limits(BODY_LIMITS, PUBLIC_BODY_BYTES), staff_api.refusals],
                          client_max_size=MAX_BODY_BYTES)
    app.on_response_prepare.append(security_headers(
        https=settings.public_url.startswith("https://"), customer_pages=CUSTOMER_PAGES,
        embed_origins=settings.embed_origins.split()))
    app[SETTINGS] = settings
    app[BUS] = Bus()  # the desk's events; subscribers join in the lifecycles below
    app[IN_FLIGHT] = InFlight(settings.limit_address_in_flight)
    app[TEMPLATES] = Environment(
        loader=ChoiceLoader([PackageLoader(package) for package in ("handoff", "calls", "knowledge", "web")]),
        autoescape=select_autoescape(default=True))
    app[TEMPLATES].globals["shop_timezone"] = settings.timezone  # staff pages show times as the shop reads them
    app[TEMPLATES].globals["reason_labels"] = REASON_LABELS  # why a chat went to staff, said once for every page
    # Start-up order, one list: each part starts after what it uses and stops before it (aiohttp
    # runs cleanup contexts in reverse). The KB is indexed before any channel can ask the bot.
    app.cleanup_ctx.extend([
        database_ctx,                      # ENGINE, SESSIONS
        limits_ctx,                        # REDIS (when set), LIMITS
        knowledge_lifecycle(knowledge),    # KNOWLEDGE loaded, indexed and watched
        knowledge_events_ctx,              # an owner's edit reloads every instance's index
        executor_ctx,                      # EXECUTOR (the actions, given KNOWLEDGE)
        hub_lifecycle,                     # HUB: the console told of queue and transcript changes
        webchat.push_lifecycle,            # open chat pages told of messages stored for them
        relay_lifecycle,                   # those pushes to and from the other instances (TECHAN_REDIS_URL)
        rasa_ctx,                          # RASA, DESK, ROUTER and the sweep of pending messages
        telegram.telegram_ctx,             # the Telegram channel (its outbox woken by events), when a token is set
        call_rooms.calls_ctx,              # CALLS; every live call ended at shutdown
        retention_ctx,                     # the daily purge, when a retention period is set
    ])
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/webhook", action_webhook)
    # The calls' two /static/ files are routed before the web chat's /static folder.
    for routes in (call_routes, webchat, telegram, admin, catalog_admin, login, staff_accounts, staff_api, staff_tools,
                   assist, media, metrics):
        routes.setup(app)
    return app
