"""Telegram: customers chat with the shop through python-telegram-bot, staff can answer from a group.

This module wires the channel (the Application, the webhook, the lifecycle) and runs the outbox;
sending.py sends, miniapp.py checks Mini App sign-in, customers.py and staff_group.py handle updates.

Every update goes through the same router as the web chat. Inbound messages are stored once
(the update id is the message's channel id). Everything stored for a customer (the bot's replies,
staff replies, invitations) waits in the database (``pending``) until the outbox has sent it, with
retries, and marked it ``sent`` or ``failed``; the desk's OutboundMessage event wakes the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy import select
from telegram import Bot, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters

from core.db import Conversation, Customer, Message
from core.settings import Settings
from handoff.channels.telegram.channel import CHANNEL, TelegramChannel
from handoff.channels.telegram.customers import (
    on_button, on_cancel, on_human, on_language, on_media, on_start, on_text,
)
from handoff.channels.telegram.sending import DeliveryFailed, send_reply
from handoff.channels.telegram.staff_group import announce_handoffs, on_staff_claim, on_staff_reply
from handoff.desk import DESK
from handoff.events import BUS, Bus, OutboundMessage, QueueChanged
from handoff.router import ROUTER
from knowledge.live import KNOWLEDGE
from web.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)

OUTBOX_BATCH = 50
SAFETY_SWEEP_S = 30.0  # the outbox is woken by events; this slow round only catches what a crash left pending


async def deliver_pending(bot: Bot, channel: TelegramChannel) -> int:
    """Send pending messages (the bot's, staff's, the shop's) to their Telegram customers, oldest first; each is
    marked sent once Telegram has it, or failed after the retries, which the console shows."""
    async with channel.sessions() as session:
        rows = (await session.execute(
            select(Message, Customer.external_id).join(Conversation, Message.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Message.channel == CHANNEL, Message.direction == "out", Message.delivery_status == "pending")
            .order_by(Message.id).limit(OUTBOX_BATCH))).all()
        for message, chat_id in rows:
            try:
                await send_reply(bot, int(chat_id), {"text": message.text, **(message.payload or {})}, channel.media_dir)
                status = "sent"
            except DeliveryFailed as exc:
                log.error("message %s to a Telegram customer failed: %s", message.id, exc)
                status = "failed"
            await channel.desk.delivered(session, message, status)
            await channel.desk.commit(session)
    return len(rows)


async def outbox_loop(bot: Bot, channel: TelegramChannel) -> None:
    """Rounds woken by the desk's events (a message to send, a new handoff to announce), and a slow sweep."""
    while True:
        try:
            await asyncio.wait_for(channel.outbox_wake.wait(), SAFETY_SWEEP_S)
        except TimeoutError:
            pass
        channel.outbox_wake.clear()
        try:
            while await deliver_pending(bot, channel) == OUTBOX_BATCH:  # customers first; more waiting: go on
                pass
            await announce_handoffs(bot, channel)  # handoffs from every channel reach the staff group
        except Exception:  # keep delivering; the next round retries
            log.exception("telegram outbox round failed")


def subscribe_outbox(bus: Bus, channel: TelegramChannel) -> None:
    """Wake the outbox when there is something for Telegram: a message to a Telegram customer, or a change
    in the queue (a new handoff from any channel goes to the staff group)."""
    async def message_stored(event: OutboundMessage) -> None:
        if event.channel == CHANNEL:
            channel.outbox_wake.set()

    async def queue_changed(_event: QueueChanged) -> None:
        if channel.staff_chat:
            channel.outbox_wake.set()
    bus.subscribe(OutboundMessage, message_stored)
    bus.subscribe(QueueChanged, queue_changed)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what went wrong (never the bot token); the customer's message is already stored."""
    log.error("telegram update failed: %s", context.error, exc_info=context.error)


def build_application(settings: Settings, channel: TelegramChannel) -> Application:
    """The python-telegram-bot Application with every handler, in one place."""
    application = (Application.builder().token(settings.telegram_token).base_url(settings.telegram_api_url)
                   .base_file_url(settings.telegram_api_url.replace("/bot", "/file/bot"))
                   .concurrent_updates(False).build())
    application.bot_data["channel"] = channel
    staff = filters.Chat(chat_id=int(channel.staff_chat)) if channel.staff_chat.lstrip("-").isdigit() else None
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", on_start, filters=private))
    application.add_handler(CommandHandler("human", on_human, filters=private))
    application.add_handler(CommandHandler("cancel", on_cancel, filters=private))
    application.add_handler(CommandHandler("language", on_language, filters=private))
    application.add_handler(CallbackQueryHandler(on_staff_claim, pattern=r"^claim:\d+$"))
    application.add_handler(CallbackQueryHandler(on_button))
    if staff is not None:
        application.add_handler(MessageHandler(staff & filters.TEXT & ~filters.COMMAND, on_staff_reply))
    application.add_handler(MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(MessageHandler(
        private & (filters.PHOTO | filters.VOICE | filters.VIDEO | filters.VIDEO_NOTE | filters.AUDIO), on_media))
    application.add_error_handler(on_error)
    return application


TELEGRAM = web.AppKey("telegram", Application)
WEBHOOK_PATH = "/telegram/webhook"


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
    """Start the channel when a token is set: long polling, or a webhook when TECHAN_PUBLIC_URL is set."""
    settings = app[SETTINGS]
    if not settings.telegram_token:
        log.info("Telegram is off (set TECHAN_TELEGRAM_TOKEN to turn it on)")
        yield
        return
    channel = TelegramChannel(app[ROUTER], app[DESK], app[SESSIONS], settings.data_path / "media",
                              lambda product_id: product_id in app[KNOWLEDGE].catalog.products,
                              settings.telegram_staff_chat.strip())
    subscribe_outbox(app[BUS], channel)
    application = build_application(settings, channel)
    app[TELEGRAM] = application
    await application.initialize()
    await application.start()
    if settings.public_url.startswith("https://"):
        await application.bot.set_webhook(settings.public_url.rstrip("/") + WEBHOOK_PATH,
                                          secret_token=webhook_secret(settings), allowed_updates=Update.ALL_TYPES)
        log.info("Telegram: webhook mode at %s%s", settings.public_url.rstrip("/"), WEBHOOK_PATH)
    else:
        await application.updater.start_polling(poll_interval=0.0, timeout=10, allowed_updates=Update.ALL_TYPES)
        log.info("Telegram: long polling")
    outbox = asyncio.create_task(outbox_loop(application.bot, channel))
    try:
        yield
    finally:
        outbox.cancel()
        await asyncio.gather(outbox, return_exceptions=True)
        if application.updater and application.updater.running:
            await application.updater.stop()
        await application.stop()
        await application.shutdown()


def setup(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, webhook)
