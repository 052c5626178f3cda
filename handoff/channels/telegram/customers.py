"""Customers on Telegram: their messages, commands, pictures and button presses go through the router."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import MessageLimit
from telegram.ext import ContextTypes

from core.language import LANGUAGES, Say, detect
from handoff.channels.telegram.channel import CHANNEL, channel_of
from handoff.channels.telegram.sending import TITLE_MARK, DeliveryFailed, send_reply, with_retries
from handoff.media import save_media

log = logging.getLogger(__name__)

TOO_FAST_TEXT = Say("您发得有点快，请稍等几秒再发，我们每条都会看到的。",
                    "You're sending messages a little fast; please wait a few seconds. We read every one.")
LANGUAGE_SET = Say("好的，之后用中文回复您（您写英文时，我也用英文回复）。",
                   "OK, I'll answer in English (and in Chinese whenever you write in Chinese).")
LANGUAGE_TEXT = "请选择语言 / Choose a language:"
MEDIA_KINDS = {"photo": ("[图片]", "jpg"), "voice": ("[语音]", "oga"), "video": ("[视频]", "mp4"),
               "video_note": ("[视频]", "mp4"), "audio": ("[音频]", "mp3")}


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
    await channel.router.set_language(CHANNEL, str(user.id), user.full_name, language)
    text = LANGUAGE_SET.to(language)
    await with_retries(lambda: update.effective_chat.send_message(text), "language set")
