"""Telegram: customers chat with the shop through python-telegram-bot, staff can answer from a group.

Every update goes through the same router as the web chat. Inbound messages are stored once
(the update id is the message's channel id). Everything stored for a customer (the bot's replies,
staff replies, invitations) waits in the database (``pending``) until the outbox has sent it, with
retries, and marked it ``sent`` or ``failed``; the desk's OutboundMessage event wakes the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update, WebAppInfo
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    Application, CallbackQueryHandler, CommandHandler, ContextTypes, MessageHandler, filters,
)
from telegram.helpers import escape_markdown

from core.accounts import Principal, hash_password
from core.db import Conversation, Customer, Handoff, Message, StaffAccount
from core.language import LANGUAGES, Say, detect
from core.settings import Settings
from handoff.desk import DESK, Desk, Outgoing, Refused
from handoff.events import BUS, Bus, OutboundMessage, QueueChanged
from handoff.media import save_media
from handoff.router import ROUTER, Router
from knowledge.live import KNOWLEDGE
from web.keys import SESSIONS, SETTINGS

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SEND_ATTEMPTS = 5
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 60
SAFETY_SWEEP_S = 30.0  # the outbox is woken by events; this slow round only catches what a crash left pending
RATE_WINDOW_S = 10
RATE_MAX_MESSAGES = 8
INIT_DATA_MAX_AGE_S = 3600
STATIC = Path(__file__).resolve().parent.parent / "static"
TOO_FAST_TEXT = Say("您发得有点快，请稍等几秒再发，我们每条都会看到的。",
                    "You're sending messages a little fast; please wait a few seconds. We read every one.")
LANGUAGE_SET = Say("好的，之后用中文回复您（您写英文时，我也用英文回复）。",
                   "OK, I'll answer in English (and in Chinese whenever you write in Chinese).")
BUTTONS_ONLY_TEXT = "👇"  # Telegram needs some text above a keyboard; this one reads in any language
LANGUAGE_TEXT = "请选择语言 / Choose a language:"
MEDIA_KINDS = {"photo": ("[图片]", "jpg"), "voice": ("[语音]", "oga"), "video": ("[视频]", "mp4"),
               "video_note": ("[视频]", "mp4"), "audio": ("[音频]", "mp3")}
T = TypeVar("T")


# ---------------------------------------------------------------- sending, with retries

class DeliveryFailed(Exception):
    """Telegram would not take the message after every retry."""


async def with_retries(send: Callable[[], Awaitable[T]], what: str) -> T:
    """Retry network errors with backoff and flood control after the wait Telegram asks for; bounded."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await send()
        except RetryAfter as exc:
            wait = exc.retry_after if isinstance(exc.retry_after, int) else exc.retry_after.total_seconds()
            if wait > MAX_RETRY_AFTER_S or attempt == SEND_ATTEMPTS:
                raise DeliveryFailed(f"{what}: flood control asks for {wait}s") from exc
            log.warning("%s: flood control, waiting %ss as Telegram asks", what, wait)
            await asyncio.sleep(wait)
        except NetworkError as exc:  # TimedOut too; BadRequest is one but will not improve
            if isinstance(exc, BadRequest) or attempt == SEND_ATTEMPTS:
                raise DeliveryFailed(f"{what}: {exc}") from exc
            await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
        except Forbidden as exc:  # the customer blocked the bot: retrying cannot help
            raise DeliveryFailed(f"{what}: {exc}") from exc
    raise AssertionError("unreachable")


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Telegram's message limit, cut at paragraph or line ends where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind("。", 0, limit) + 1)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text] if text else parts


TITLE_MARK = "t:"  # callback data meaning "the button's own title is the message"


def callback_data(button: dict[str, str]) -> str:
    """Telegram allows 64 bytes of callback data; longer payloads (KB questions) travel as the title."""
    payload = button.get("payload") or button.get("title", "")
    return payload if len(payload.encode()) <= 64 else TITLE_MARK


def inline_button(button: dict[str, Any]) -> InlineKeyboardButton:
    """A payload button, or a link: a Mini App (``web_app``) where Telegram allows one (HTTPS), else a URL."""
    url = button.get("url")
    if not url:
        return InlineKeyboardButton(button["title"], callback_data=callback_data(button))
    if button.get("web_app") and url.startswith("https://"):
        return InlineKeyboardButton(button["title"], web_app=WebAppInfo(url))
    return InlineKeyboardButton(button["title"], url=url)


def keyboard(buttons: list[dict[str, Any]],
             feedback: list[dict[str, Any]] | None = None) -> InlineKeyboardMarkup | None:
    """One button a row; the 有用 / 没用 pair under an answer shares the last row."""
    rows = [[inline_button(b)] for b in buttons]
    if feedback:
        rows.append([inline_button(b) for b in feedback])
    return InlineKeyboardMarkup(rows) if rows else None


def product_caption(product: dict[str, Any]) -> str:
    """A product card's caption in MarkdownV2, every piece of shop text escaped."""
    name, price = str(product.get("name", "")), f"¥{product.get('price', '')}"
    lines = [f"*{escape_markdown(name, version=2)}*  {escape_markdown(price, version=2)}"]
    if product.get("reason"):
        lines.append(escape_markdown(str(product["reason"]), version=2))
    return "\n".join(lines)


def local_file(url: str | None, media_dir: Path) -> Path | None:
    """A picture our app serves, as a file to upload (Telegram takes uploads; our URLs need not be public)."""
    url = str(url or "")
    for prefix, folder in (("/static/", STATIC), ("/media/", media_dir)):
        if url.startswith(prefix):
            path = (folder / url.removeprefix(prefix)).resolve()
            return path if path.is_relative_to(folder.resolve()) and path.is_file() else None
    return None


async def send_reply(bot: Bot, chat_id: int | str, data: dict[str, Any], media_dir: Path,
                     thread_id: int | None = None) -> None:
    """One reply: a picture, text (split at the limit), product cards as photos; buttons go on the last piece."""
    text, buttons, products = data.get("text") or "", data.get("buttons") or [], data.get("products") or []
    buttons_markup = keyboard(buttons, data.get("feedback"))
    parts = split_text(text)
    picture = local_file(data.get("image"), media_dir)
    if picture is not None:
        last = not parts and not products
        await with_retries(lambda: bot.send_photo(chat_id, InputFile(picture.read_bytes(), filename=picture.name),
                                                  reply_markup=buttons_markup if last else None,
                                                  message_thread_id=thread_id), "send picture")
    for index, part in enumerate(parts):
        markup = buttons_markup if index == len(parts) - 1 and not products else None
        await with_retries(lambda: bot.send_message(chat_id, part, reply_markup=markup, message_thread_id=thread_id),
                           "send message")
    for index, product in enumerate(products):
        markup = buttons_markup if index == len(products) - 1 else None
        image = local_file(product.get("image"), media_dir)
        caption = product_caption(product)
        if image is not None:
            await with_retries(lambda: bot.send_photo(chat_id, InputFile(image.read_bytes(), filename=image.name),
                                                      caption=caption, parse_mode="MarkdownV2", reply_markup=markup,
                                                      message_thread_id=thread_id), "send photo")
        else:
            await with_retries(lambda: bot.send_message(chat_id, caption, parse_mode="MarkdownV2",
                                                        reply_markup=markup, message_thread_id=thread_id),
                               "send product")
    if buttons_markup and not parts and not products and picture is None:
        await with_retries(lambda: bot.send_message(chat_id, BUTTONS_ONLY_TEXT, reply_markup=buttons_markup,
                                                    message_thread_id=thread_id), "send buttons")


# ---------------------------------------------------------------- Mini App sign-in

def verify_init_data(bot_token: str, init_data: str, max_age_s: int = INIT_DATA_MAX_AGE_S,
                     now: float | None = None) -> dict[str, str] | None:
    """The fields of a Mini App's ``initData`` if Telegram signed them for this bot recently, else None.

    Telegram's scheme: secret = HMAC-SHA256(key="WebAppData", bot token); hash = HMAC-SHA256(secret,
    the other fields as sorted "key=value" lines).
    """
    fields = dict(parse_qsl(init_data, keep_blank_values=True))
    sent = fields.pop("hash", "")
    check = "\n".join(f"{key}={value}" for key, value in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not sent or not hmac.compare_digest(sent, expected):
        return None
    try:
        signed_at = int(fields.get("auth_date", "0"))
    except ValueError:
        return None
    if abs((now or time.time()) - signed_at) > max_age_s:
        return None
    return fields


def init_data_user(fields: dict[str, str]) -> dict[str, Any]:
    try:
        user = json.loads(fields.get("user", "{}"))
    except ValueError:
        return {}
    return user if isinstance(user, dict) else {}


# ---------------------------------------------------------------- the channel

@dataclass
class TelegramChannel:
    """What the handlers share: the router, the database, where attachments go, the staff group."""

    router: Router
    desk: Desk
    sessions: async_sessionmaker[AsyncSession]
    media_dir: Path
    knows_product: Callable[[str], bool] = lambda _product_id: False
    staff_chat: str = ""
    recent: dict[int, list[float]] = field(default_factory=dict)  # user id -> message times, for rate limiting
    outbox_wake: asyncio.Event = field(default_factory=asyncio.Event)

    def too_fast(self, user_id: int) -> bool:
        now = time.monotonic()
        times = [t for t in self.recent.get(user_id, []) if now - t < RATE_WINDOW_S]
        times.append(now)
        self.recent[user_id] = times
        return len(times) > RATE_MAX_MESSAGES


def channel_of(context: ContextTypes.DEFAULT_TYPE) -> TelegramChannel:
    return context.application.bot_data["channel"]


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str,
                media: dict[str, str] | None = None) -> None:
    """Send a customer's message through the router and their chat gets the replies."""
    channel, user, chat = channel_of(context), update.effective_user, update.effective_chat
    language = "en" if (user.language_code or "").startswith("en") else "zh"
    if channel.too_fast(user.id):
        notice = TOO_FAST_TEXT.to(detect(text, language))
        await with_retries(lambda: context.bot.send_message(chat.id, notice), "rate limit notice")
        return
    result = await channel.router.handle(CHANNEL, str(user.id), text, name=user.full_name, language=language,
                                         channel_message_id=str(update.update_id), media=media)
    if result.duplicate:
        log.info("telegram update %s was already handled", update.update_id)
        return
    for reply in result.replies:
        if reply.message_id is None:  # a passing notice; what is stored, the outbox sends
            await send_reply(context.bot, chat.id, reply.public(), channel.media_dir)


def is_staff_chat(update: Update, channel: TelegramChannel) -> bool:
    return bool(channel.staff_chat) and str(update.effective_chat.id) == channel.staff_chat


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, or a deep link such as /start beef-jerky that opens a product."""
    channel = channel_of(context)
    product_id = (context.args or [""])[0]
    if product_id and channel.knows_product(product_id):
        await route(update, context, f'/ask_product_info{{"product": "{product_id}"}}')
    else:
        await route(update, context, "/greet")


async def on_human(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/human: straight to a person."""
    await route(update, context, "/request_human")


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: leave the queue and go back to the bot."""
    await route(update, context, "/cancel")


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language: choose Chinese or English answers."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("中文", callback_data="lang:zh"),
                                    InlineKeyboardButton("English", callback_data="lang:en")]])
    await with_retries(lambda: update.effective_chat.send_message(LANGUAGE_TEXT, reply_markup=markup), "language")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A customer's text message."""
    await route(update, context, update.effective_message.text.strip()[:MessageLimit.MAX_TEXT_LENGTH])


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, voice note or video: kept under the data dir for staff, playable in the console."""
    message, channel = update.effective_message, channel_of(context)
    kind = next(k for k in MEDIA_KINDS if getattr(message, k))
    label, extension = MEDIA_KINDS[kind]
    attachment = message.photo[-1] if kind == "photo" else getattr(message, kind)
    telegram_file = await with_retries(lambda: attachment.get_file(), "get file")
    data = bytes(await with_retries(lambda: telegram_file.download_as_bytearray(), "download file"))
    url = save_media(channel.media_dir, data, extension)
    text = f"{label} {message.caption}".strip() if message.caption else label
    await route(update, context, text, media={"kind": kind, "url": url})


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button: its keyboard goes away (no second press), then it counts as a message."""
    query = update.callback_query
    await with_retries(lambda: query.answer(), "answer button")
    pressed = next((b for row in (query.message.reply_markup.inline_keyboard if query.message.reply_markup else [])
                    for b in row if b.callback_data == query.data), None)
    try:
        await with_retries(lambda: query.edit_message_reply_markup(None), "remove keyboard")
    except DeliveryFailed as exc:
        log.warning("could not remove a pressed keyboard: %s", exc)
    if query.data.startswith("lang:"):
        await set_language(update, context, query.data.removeprefix("lang:"))
        return
    text = pressed.text if query.data == TITLE_MARK and pressed else query.data
    await route(update, context, text)


async def set_language(update: Update, context: ContextTypes.DEFAULT_TYPE, language: str) -> None:
    """Keep the chosen language on the customer, who may have written nothing yet."""
    channel, user = channel_of(context), update.effective_user
    language = language if language in LANGUAGES else "zh"
    async with channel.sessions() as session:
        customer = await session.scalar(select(Customer).where(Customer.channel == CHANNEL,
                                                               Customer.external_id == str(user.id)))
        if customer is None:
            customer = Customer(channel=CHANNEL, external_id=str(user.id), name=user.full_name)
            session.add(customer)
        customer.language = language
        await session.commit()
    text = LANGUAGE_SET.to(language)
    await with_retries(lambda: update.effective_chat.send_message(text), "language set")


# ---------------------------------------------------------------- staff in a Telegram group

async def announce_handoffs(bot: Bot, channel: TelegramChannel) -> None:
    """Post each new handoff to the staff group (its own forum topic when the group has topics)."""
    if not channel.staff_chat:
        return
    async with channel.sessions() as session:
        waiting = (await session.execute(
            select(Handoff, Customer).join(Conversation, Handoff.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Handoff.ended_at.is_(None), Handoff.claimed_by.is_(None)))).all()
        new = [(handoff, customer) for handoff, customer in waiting if not handoff.context.get("telegram_card")]
        if not new:
            return
        chat = await with_retries(lambda: bot.get_chat(channel.staff_chat), "staff chat")
        for handoff, customer in new:
            thread_id = None
            if chat.is_forum:
                topic = await with_retries(lambda: bot.create_forum_topic(
                    channel.staff_chat, f"{customer.name or customer.external_id} · #{handoff.conversation_id}"[:128]),
                    "forum topic")
                thread_id = topic.message_thread_id
            context = handoff.context
            text = (f"新的转人工 #{handoff.conversation_id}（{context.get('reason')}）\n顾客：{customer.name or '—'}"
                    f"（{customer.channel}）\n{context.get('summary') or ''}\n在这里回复（回复这条消息）即可发给顾客。")
            card = await with_retries(lambda: bot.send_message(
                channel.staff_chat, text, message_thread_id=thread_id,
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("认领 Claim",
                                                                         callback_data=f"claim:{handoff.id}")]])),
                "staff card")
            handoff.context = {**context, "telegram_card": card.message_id, "telegram_thread": thread_id}
        await session.commit()


async def staff_account(sessions: async_sessionmaker[AsyncSession], user) -> Principal:
    """The staff account of a member of the staff group (made on their first claim; web sign-in stays closed)."""
    name = f"tg-{user.username or user.id}"[:64]
    async with sessions() as session:
        account = await session.scalar(select(StaffAccount).where(StaffAccount.name == name))
        if account is None:
            account = StaffAccount(name=name, role="staff", password_hash=hash_password(secrets.token_urlsafe(32)))
            session.add(account)
            await session.commit()
    return Principal(account.id, account.name, account.role)


async def on_staff_claim(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Claim from the staff group: exactly one staff member wins, the card says who."""
    query, channel = update.callback_query, channel_of(context)
    if not is_staff_chat(update, channel):
        await with_retries(lambda: query.answer("只有店员群可以认领"), "answer claim")
        return
    handoff_id = int(query.data.removeprefix("claim:"))
    staff = await staff_account(channel.sessions, query.from_user)
    try:
        await channel.desk.claim(handoff_id, staff)
    except Refused:
        await with_retries(lambda: query.answer("已经有人接了"), "answer claim")
        return
    await with_retries(lambda: query.answer("认领成功"), "answer claim")
    await with_retries(lambda: query.edit_message_text(f"{query.message.text}\n\n✅ 由 {staff.name} 接待"), "edit card")


async def on_staff_reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A staff message in the group, in a customer's topic or replying to their card, goes to the customer."""
    channel, message = channel_of(context), update.effective_message
    if not is_staff_chat(update, channel) or not message.text:
        return
    card_id = message.reply_to_message.message_id if message.reply_to_message else None
    async with channel.sessions() as session:
        handoffs = (await session.scalars(select(Handoff).where(Handoff.ended_at.is_(None)))).all()
        handoff = next((h for h in handoffs if card_id and h.context.get("telegram_card") == card_id), None) or next(
            (h for h in handoffs if message.message_thread_id and h.context.get("telegram_thread")
             == message.message_thread_id), None)
    if handoff is None:
        return
    staff = await staff_account(channel.sessions, message.from_user)
    reply = Outgoing(message.text[:MessageLimit.MAX_TEXT_LENGTH], {"staff": staff.name})
    try:
        await channel.desk.send(handoff.conversation_id, staff, lambda _language: reply)
    except Refused:
        await with_retries(lambda: message.reply_text("请先点“认领”再回复。"), "claim first")


# ---------------------------------------------------------------- the outbox: staff replies to Telegram customers

async def deliver_pending(bot: Bot, channel: TelegramChannel) -> int:
    """Send every pending staff/system message to its Telegram customer; failures are marked for the console."""
    async with channel.sessions() as session:
        rows = (await session.execute(
            select(Message, Customer.external_id).join(Conversation, Message.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Message.channel == CHANNEL, Message.direction == "out", Message.delivery_status == "pending")
            .order_by(Message.id).limit(50))).all()
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
            await announce_handoffs(bot, channel)  # handoffs from every channel reach the staff group
            await deliver_pending(bot, channel)
        except Exception:  # keep delivering; the next round retries
            log.exception("telegram outbox round failed")


# ---------------------------------------------------------------- wiring

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
