"""Customers on Telegram: their messages, commands, pictures and button presses go through the router.

A handler never waits for Telegram: what it shows goes to the outbox, which returns at once. The checks
come before any work: a redelivered update is answered from the store, a message over the limits
(handoff.limits) is stored without running the bot, and only then is an attachment fetched, within a size
cap and a daily quota per customer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from core.db import Conversation, Customer, Message, utcnow
from core.language import LANGUAGES, Say, detect
from handoff import limits
from handoff.channels.telegram.channel import CHANNEL, TelegramChannel, channel_of, show
from handoff.channels.telegram.sending import TITLE_MARK, reply_sends
from handoff.media import save_media

log = logging.getLogger(__name__)

LANGUAGE_SET = Say("好的，之后用中文回复您（您写英文时，我也用英文回复）。",
                   "OK, I'll answer in English (and in Chinese whenever you write in Chinese).")
LANGUAGE_TEXT = "请选择语言 / Choose a language:"
MEDIA_KINDS = {"photo": ("[图片]", "jpg"), "voice": ("[语音]", "oga"), "video": ("[视频]", "mp4"),
               "video_note": ("[视频]", "mp4"), "audio": ("[音频]", "mp3")}
MAX_MEDIA_BYTES = 10 * 1024 * 1024  # one attachment (Telegram lets bots fetch up to 20 MB)
MEDIA_BYTES_PER_DAY = 50 * 1024 * 1024  # one customer's attachments kept in 24 hours
MEDIA_REFUSED = limits.Over("media", 0.0, notify=False)  # stored for staff to see, never shown to the bot


@dataclass(frozen=True)
class Refusal:
    """An attachment not taken: what the stored message says for staff, and what the customer is told."""

    note: str
    notice: Say


TOO_LARGE = Refusal("文件过大，未接收", Say(
    f"这个文件太大了（超过 {MAX_MEDIA_BYTES // (1024 * 1024)} MB），没能收下。可以压缩后再发，或者用文字说说情况。",
    f"This file is too large (over {MAX_MEDIA_BYTES // (1024 * 1024)} MB), so we couldn't take it. "
    "Please send a smaller one, or tell us in words."))
OVER_QUOTA = Refusal("超过今日文件额度，未接收", Say(
    "今天收到您的文件已经很多了，这个没能收下。请用文字说说情况，店员会尽快回复。",
    "You've sent us a lot of files today, so we couldn't take this one. Please tell us in words; "
    "our staff will reply soon."))
NOT_RECEIVED = Refusal("未能从 Telegram 取到", Say("这个文件没能收到，请再发一次。",
                                                  "We couldn't receive this file; please send it again."))
Fetch = Callable[[], Awaitable[dict[str, object] | Refusal]]


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, fetch: Fetch | None = None) -> None:
    """Send a customer's message through the router; their chat gets the replies (through the outbox).

    Over the limits the message is still stored, marked ``limited``, and the customer told once per window;
    an attachment is fetched (``fetch``) only for a message that passed, and only once.
    """
    channel, user = channel_of(context), update.effective_user
    language = "en" if (user.language_code or "").startswith("en") else "zh"
    handle = functools.partial(channel.router.handle, CHANNEL, str(user.id), name=user.full_name, language=language,
                               channel_message_id=str(update.update_id))
    if await channel.seen(update.update_id):  # a redelivery: not counted again, nothing fetched again
        await handle(text)
        log.info("telegram update %s was already handled", update.update_id)
        return
    over = await limits.admit(channel.limits, channel.settings, CHANNEL, str(user.id), None)  # no address on Telegram
    fetched = await fetch() if fetch is not None and over is None else None
    if isinstance(fetched, Refusal):
        result = await handle(f"{text}（{fetched.note}）", limited=MEDIA_REFUSED)
        notice = fetched.notice.to(detect(text, language))
        show(update, context, functools.partial(context.bot.send_message, update.effective_chat.id, notice),
             "attachment refused")
    else:
        result = await handle(text, media=fetched, limited=over)
    for reply in result.replies:
        if reply.message_id is None and not result.duplicate:  # a passing notice; what is stored, the outbox sends
            for send in reply_sends(context.bot, update.effective_chat.id, reply.public(), channel.media_dir):
                show(update, context, send, "notice")


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
    show(update, context, functools.partial(update.effective_chat.send_message, LANGUAGE_TEXT, reply_markup=markup),
         "language menu")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A customer's text message."""
    await route(update, context, update.effective_message.text.strip()[:MessageLimit.MAX_TEXT_LENGTH])


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, voice note or video: kept under the data dir for staff, playable in the console."""
    message, channel = update.effective_message, channel_of(context)
    kind = next(k for k in MEDIA_KINDS if getattr(message, k))
    label, extension = MEDIA_KINDS[kind]
    attachment = message.photo[-1] if kind == "photo" else getattr(message, kind)
    text = f"{label} {message.caption}".strip() if message.caption else label

    async def fetch() -> dict[str, object] | Refusal:
        """The attachment, unless it is over the size cap or the customer's quota (known before fetching)."""
        used = await media_bytes_today(channel, str(update.effective_user.id))

        def refusal(size: int | None) -> Refusal | None:
            if (size or 0) > MAX_MEDIA_BYTES:
                return TOO_LARGE
            return OVER_QUOTA if used + (size or 0) > MEDIA_BYTES_PER_DAY else None

        if refused := refusal(attachment.file_size):  # the update says how large: nothing is asked for
            return refused
        try:
            telegram_file = await attachment.get_file()
            if refused := refusal(telegram_file.file_size):
                return refused
            data = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("could not fetch a customer's %s from Telegram: %s", kind, exc)
            return NOT_RECEIVED
        return {"kind": kind, "url": save_media(channel.media_dir, data, extension), "bytes": len(data)}

    await route(update, context, text, fetch)


async def media_bytes_today(channel: TelegramChannel, external_id: str) -> int:
    """How much a customer's attachments kept in the last 24 hours weigh."""
    async with channel.sessions() as session:
        payloads = await session.scalars(
            select(Message.payload).join(Conversation, Message.conversation_id == Conversation.id)
            .join(Customer, Conversation.customer_id == Customer.id)
            .where(Customer.channel == CHANNEL, Customer.external_id == external_id, Message.direction == "in",
                   Message.created_at >= utcnow() - timedelta(days=1)))
        return sum(int(((payload or {}).get("media") or {}).get("bytes", 0)) for payload in payloads)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button: its keyboard goes away (no second press), then it counts as a message."""
    query = update.callback_query
    show(update, context, query.answer, "answer button")
    pressed = next((b for row in (query.message.reply_markup.inline_keyboard if query.message.reply_markup else [])
                    for b in row if b.callback_data == query.data), None)
    show(update, context, functools.partial(query.edit_message_reply_markup, None), "remove keyboard")
    if query.data.startswith("lang:"):
        await set_language(update, context, query.data.removeprefix("lang:"))
        return
    text = pressed.text if query.data == TITLE_MARK and pressed else query.data
    await route(update, context, text)


async def set_language(update: Update, context: ContextTypes.DEFAULT_TYPE, language: str) -> None:
    """Keep the chosen language on the customer, who may have written nothing yet."""
    channel, user = channel_of(context), update.effective_user
    language = language if language in LANGUAGES else "zh"
    await channel.router.set_language(CHANNEL, str(user.id), user.full_name, language)
    show(update, context, functools.partial(update.effective_chat.send_message, LANGUAGE_SET.to(language)),
         "language set")
