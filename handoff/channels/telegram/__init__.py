"""Telegram: customers chat with the shop through python-telegram-bot, staff can answer from a group.

This module wires the channel (the Application, the webhook, the lifecycle); outbox.py makes every call
to Telegram, sending.py renders, miniapp.py checks Mini App sign-in, customers.py and staff_group.py
handle updates.

Every update goes through the same router as the web chat. Inbound messages are stored once
(the update id is the message's channel id). Everything stored for a customer (the bot's replies,
staff replies, invitations) waits in the database (``pending``) until the outbox has sent it, with
retries, and marked it ``sent`` or ``failed``; the desk's OutboundMessage event starts the chat's lane.
Updates of one chat are handled in order, different chats' at once (``ChatOrderedUpdates``), and no
handler waits for Telegram, so one customer's slow turn or flood-controlled chat holds no one else.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError
from telegram import Update
from telegram.ext import (
    Application, BaseUpdateProcessor, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters,
)

from core.settings import Settings
from handoff.channels.telegram.channel import TelegramChannel
from handoff.channels.telegram.customers import (
    on_button, on_cancel, on_contact, on_edit, on_help, on_human, on_language, on_location, on_media, on_other,
    on_start, on_sticker, on_text, on_unknown_command,
)
from handoff.channels.telegram.outbox import Outbox, delivery_state
from handoff.channels.telegram.staff_group import on_staff_claim, on_staff_reply, on_staff_resolve, on_staff_transfer
from handoff.desk import DESK
from handoff.events import BUS
from handoff.leases import Lease
from handoff.router import ROUTER
from knowledge.live import KNOWLEDGE
from web.keys import LIMITS, REDIS, SESSIONS, SETTINGS

log = logging.getLogger(__name__)

UPDATES_AT_ONCE = 512  # updates in hand at once (one chat's wait in line for their turn)


class ChatOrderedUpdates(BaseUpdateProcessor):
    """One chat's updates one after another, in the order they came; different chats' at once."""

    def __init__(self) -> None:
        super().__init__(UPDATES_AT_ONCE)
        self._locks: weakref.WeakValueDictionary[Any, asyncio.Lock] = weakref.WeakValueDictionary()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        lock = self._locks.get(chat)
        if lock is None:
            lock = self._locks[chat] = asyncio.Lock()
        async with lock:
            await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what went wrong (never the bot token); the customer's message is already stored."""
    log.error("telegram update failed: %s", context.error, exc_info=context.error)


def build_application(settings: Settings, channel: TelegramChannel) -> Application:
    """The python-telegram-bot Application with every handler, in one place."""
    application = (Application.builder().token(settings.telegram_token).base_url(settings.telegram_api_url)
                   .base_file_url(settings.telegram_api_url.replace("/bot", "/file/bot"))
                   .concurrent_updates(ChatOrderedUpdates()).build())
    application.bot_data["channel"] = channel
    staff = filters.Chat(chat_id=int(channel.staff_chat)) if channel.staff_chat.lstrip("-").isdigit() else None
    # The first handler that matches takes the update: an edit before everything (commands included).
    application.add_handler(MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.EDITED_MESSAGE, on_edit))
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", on_start, filters=private))
    application.add_handler(CommandHandler("help", on_help, filters=private))
    application.add_handler(CommandHandler("human", on_human, filters=private))
    application.add_handler(CommandHandler("cancel", on_cancel, filters=private))
    application.add_handler(CommandHandler("language", on_language, filters=private))
    application.add_handler(MessageHandler(private & filters.COMMAND, on_unknown_command))
    application.add_handler(CallbackQueryHandler(on_staff_claim, pattern=r"^claim:\d+$"))
    application.add_handler(CallbackQueryHandler(on_staff_resolve, pattern=r"^resolve:\d+$"))
    application.add_handler(CallbackQueryHandler(on_staff_transfer, pattern=r"^transfer:\d+(:\d+|:back)?$"))
    application.add_handler(CallbackQueryHandler(on_button))
    if staff is not None:  # text to the customer, and /resolve (commands too: a group's /resolve@bot); no edits
        application.add_handler(MessageHandler(staff & filters.TEXT & filters.UpdateType.MESSAGE, on_staff_reply))
    application.add_handler(MessageHandler(private & filters.TEXT, on_text))
    application.add_handler(MessageHandler(private & (filters.PHOTO | filters.VOICE | filters.VIDEO | filters.VIDEO_NOTE
                                                      | filters.AUDIO | filters.Document.ALL), on_media))
    application.add_handler(MessageHandler(private & filters.Sticker.ALL, on_sticker))
    application.add_handler(MessageHandler(private & filters.CONTACT, on_contact))
    application.add_handler(MessageHandler(private & filters.LOCATION, on_location))
    application.add_handler(MessageHandler(private, on_other))
    application.add_error_handler(on_error)
    return application


TELEGRAM = web.AppKey("telegram", Application)
WEBHOOK_PATH = "/telegram/webhook"
TELEGRAM_LEASE = "techan:telegram"  # held by the instance that polls and sends (several instances)
TAKEOVER_TRY_S = 2.0


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token (derived, never logged)."""
    return hashlib.sha256(f"telegram-webhook:{settings.secret}".encode()).hexdigest()[:48]


async def webhook(request: web.Request) -> web.Response:
    """Webhook mode: Telegram posts updates here; anything without our secret is refused."""
    if TELEGRAM not in request.app:
        raise web.HTTPNotFound(text="Telegram is not configured")
    sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    if not hmac.compare_digest(sent, webhook_secret(request.app[SETTINGS])):
        raise web.HTTPForbidden(text="wrong webhook secret")
    try:
        data = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be a Telegram update") from None
    application = request.app[TELEGRAM]
    await application.update_queue.put(Update.de_json(data, application.bot))
    return web.json_response({"ok": True})


async def telegram_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the channel when a token is set: long polling, or a webhook when TECHAN_PUBLIC_URL is set.
    With several instances (Redis) webhooks come to any of them, and one at a time polls and sends."""
    settings = app[SETTINGS]
    if not settings.telegram_token:
        log.info("Telegram is off (set TECHAN_TELEGRAM_TOKEN to turn it on)")
        yield
        return
    channel = TelegramChannel(app[ROUTER], app[DESK], app[SESSIONS], settings, app[LIMITS],
                              lambda product_id: product_id in app[KNOWLEDGE].catalog.products)
    application = build_application(settings, channel)
    app[TELEGRAM] = application
    shared = app[REDIS]
    lease = Lease(shared, TELEGRAM_LEASE) if shared is not None else None
    polling = not settings.public_url.startswith("https://")
    channel.outbox = outbox = Outbox(application.bot, channel, delivers=lambda: lease is None or lease.held)
    outbox.subscribe(app[BUS])
    await application.initialize()
    await application.start()
    if not polling:
        await application.bot.set_webhook(settings.public_url.rstrip("/") + WEBHOOK_PATH,
                                          secret_token=webhook_secret(settings), allowed_updates=Update.ALL_TYPES)
        log.info("Telegram: webhook mode at %s%s", settings.public_url.rstrip("/"), WEBHOOK_PATH)
    elif lease is None:
        await start_polling(application)
    rounds = asyncio.create_task(outbox.run())
    role = asyncio.create_task(take_turns_at_telegram(application, outbox, lease, polling)) if lease else None
    try:
        yield
    finally:  # updates first (their handlers may still hand the outbox a call), then the outbox, then the bot
        if role is not None:  # it stops polling and gives the lease back: another instance takes over at once
            role.cancel()
            await asyncio.gather(role, return_exceptions=True)
        if application.updater and application.updater.running:
            await application.updater.stop()
        await application.stop()
        rounds.cancel()
        await asyncio.gather(rounds, return_exceptions=True)
        await outbox.close()
        await application.shutdown()


async def start_polling(application: Application) -> None:
    await application.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)
    log.info("Telegram: long polling")


async def take_turns_at_telegram(application: Application, outbox: Outbox, lease: Lease, polling: bool) -> None:
    """With several instances (Redis), one at a time long-polls Telegram (two would take each other's updates:
    Telegram answers the other 409) and sends what is stored for it; the others try for the lease every
    ``TAKEOVER_TRY_S``, so when the holder stops one takes over at once, and within the lease when it dies."""
    unreachable = False  # told once per outage, not every try
    while True:
        try:
            taken = await lease.take(wait=0)
            unreachable = False
        except (RedisError, OSError) as exc:
            if not unreachable:
                log.warning("Telegram: nobody polls while Redis is unreachable (%s); trying every %.0f s",
                            exc.__class__.__name__, TAKEOVER_TRY_S)
            unreachable, taken = True, False
        if taken:
            log.info("Telegram: this instance %s what is stored for it",
                     "long-polls Telegram and sends" if polling else "sends")
            outbox.wake.set()
            try:
                if polling:
                    await start_polling(application)
                await lease.lost.wait()
                log.warning("Telegram: another instance has taken over")
            except Exception:  # polling could not start (Telegram unreachable): let another instance try
                log.exception("Telegram: long polling could not start; trying again in %.0f s", TAKEOVER_TRY_S)
            finally:
                if polling and application.updater.running:
                    await application.updater.stop()
                await lease.give_back()
        await asyncio.sleep(TAKEOVER_TRY_S)


async def health(app: web.Application) -> dict[str, Any] | None:
    """How Telegram deliveries fare, for /healthz; None when Telegram is off. A health check answers even when
    the database does not: then the state is unknown."""
    if TELEGRAM not in app:
        return None
    try:
        return await delivery_state(app[TELEGRAM].bot_data["channel"])
    except Exception:
        log.exception("/healthz could not read the Telegram deliveries")
        return {"staff_group": "unknown"}


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, webhook)
