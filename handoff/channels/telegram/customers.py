"""Customers on Telegram: their messages, commands, pictures and button presses go through the router.

Every update is stored and answered: stickers, files, contacts and locations too, commands in every
state of the chat, and an edit is stored as an edit of the message it changes (staff see it marked).

A handler never waits for Telegram: what it shows goes to the outbox, which returns at once. The checks
come before any work: a redelivered update is answered from the store, a message over the limits
(handoff.limits) is stored without running the bot, and only then is an attachment fetched, within a size
cap and a daily quota per customer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from telegram import Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from core.bot_payload import ask_product_payload
from core.db import Conversation, Customer, Message, utcnow
from core.language import LANGUAGES, Say, detect
from handoff.states import State
from handoff import limits
from handoff.channels.telegram.channel import CHANNEL, TelegramChannel, channel_of, show
from handoff.channels.telegram.sending import pressed_text, reply_sends
from web.media import image_kind, save_media
from handoff.router import EMOJI_TEXT, Reply

log = logging.getLogger(__name__)

LANGUAGE_SET = Say("好的，之后用中文回复您（您写英文时，我也用英文回复）。",
                   "OK, I'll answer in English (and in Chinese whenever you write in Chinese).")
LANGUAGE_MENU = Reply("请选择语言 / Choose a language:", [{"title": "中文", "payload": "lang:zh"},
                                                         {"title": "English", "payload": "lang:en"}])
MEDIA_KINDS = {"photo": ("[图片]", "jpg"), "voice": ("[语音]", "oga"), "video": ("[视频]", "mp4"),
               "video_note": ("[视频]", "mp4"), "audio": ("[音频]", "mp3"), "document": ("[文件]", None)}
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

HELP_ZH = ("我是小店的智能助手，商品、价格、发货、售后都可以直接打字问我。\n"
           "找店员：发 /human 或“转人工”；不想排队了：/cancel；换语言：/language")
HELP_EN = ("I'm the shop's assistant: just type your question about products, prices, shipping or returns.\n"
           "To reach our staff: /human; to stop waiting: /cancel; to change the language: /language")
HELP_TEXT = Say(HELP_ZH, HELP_EN)
UNKNOWN_COMMAND_TEXT = Say(f"我不认识这个命令。\n{HELP_ZH}", f"I don't know that command.\n{HELP_EN}")
NOTHING_TO_CANCEL_TEXT = Say("现在没有在等店员，没有要取消的。有问题直接问我就好。",
                             "There's nothing to cancel: you aren't waiting for our staff. Just ask me anything.")
STAFF_HERE_TEXT = Say("店员正在和您对话，直接在这里发消息就好。",
                      "Our staff are with you now; just write here.")
NOTED_TEXT = Say("收到，已经记下了，店员也能看到。有问题直接打字问我；找店员请发 /human。",
                 "Got it, it's noted and our staff can see it. Type any question; to reach our staff, send /human.")
EVERY_STATE = (State.BOT, State.WAITING, State.ASSIGNED)


async def route(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, fetch: Fetch | None = None, *,
                caption: str = "", described: bool = False, extra: Mapping[str, object] | None = None,
                answers: Mapping[str, Say | Reply] | None = None) -> None:
    """Send a customer's message through the router; their chat gets the replies (through the outbox).

    Over the limits the message is still stored, marked ``limited``, and the customer told once per window;
    an attachment is fetched (``fetch``) only for a message that passed, and only once. ``caption``: the
    question sent with it, stored and answered in its place once the attachment is kept. ``described``: the
    text names what was sent (「[贴纸 😊]」), not the customer's words. ``extra`` and ``answers``: see
    Router.handle; Telegram's message id is always kept (an edit finds its original by it).
    """
    channel, user = channel_of(context), update.effective_user
    language = "en" if (user.language_code or "").startswith("en") else "zh"
    sent = update.message or update.edited_message  # None for a pressed button
    kept = {**({"telegram_message_id": sent.message_id} if sent else {}), **(extra or {})}
    handle = functools.partial(channel.router.handle, CHANNEL, str(user.id), name=user.full_name, language=language,
                               channel_message_id=str(update.update_id), answers=answers,
                               extra={**kept, "described": True} if described else kept)
    if await channel.seen(update.update_id):  # a redelivery: not counted again, nothing fetched again
        await handle(text)
        log.info("telegram update %s was already handled", update.update_id)
        return
    over = await limits.admit(channel.limits, channel.settings, CHANNEL, str(user.id), None)  # no address on Telegram
    fetched = await fetch() if fetch is not None and over is None else None
    if isinstance(fetched, Refusal):
        result = await handle(f"{text}（{fetched.note}）", limited=MEDIA_REFUSED)
        notice = fetched.notice.to(detect(caption, language))  # the text names the attachment: not their words
        show(update, context, functools.partial(context.bot.send_message, update.effective_chat.id, notice),
             "attachment refused")
    elif fetched is not None and caption:
        result = await handle(caption, media=fetched, extra={**kept, "captioned": True})
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
        await route(update, context, ask_product_payload(product_id))
    else:
        await on_help(update, context)


async def on_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help (and a plain /start): what the bot can do and how to reach staff, in every state."""
    await route(update, context, update.effective_message.text.strip(), answers=dict.fromkeys(EVERY_STATE, HELP_TEXT))


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command the bot does not have: said so, with the help."""
    await route(update, context, update.effective_message.text.strip()[:MessageLimit.MAX_TEXT_LENGTH],
                answers=dict.fromkeys(EVERY_STATE, UNKNOWN_COMMAND_TEXT))


async def on_human(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/human: straight to a person (while waiting: the place now; with staff already: said so)."""
    await route(update, context, "/request_human", answers={State.ASSIGNED: STAFF_HERE_TEXT})


async def on_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: leave the queue and go back to the bot. With the bot there is nothing to cancel; with staff
    the chat stays theirs (they see the /cancel and can close it), and the customer is told they are there."""
    await route(update, context, "/cancel",
                answers={State.BOT: NOTHING_TO_CANCEL_TEXT, State.ASSIGNED: STAFF_HERE_TEXT})


async def on_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/language: choose Chinese or English answers (the menu in every state; while waiting, with the place)."""
    await route(update, context, "/language", answers=dict.fromkeys(EVERY_STATE, LANGUAGE_MENU))


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A customer's text message."""
    await route(update, context, update.effective_message.text.strip()[:MessageLimit.MAX_TEXT_LENGTH])


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo, voice note, video or file: kept under the data dir for staff, playable in the console.

    A caption is the customer's question: stored as the message's text and answered, the attachment with it.
    """
    message, channel = update.effective_message, channel_of(context)
    kind = next(k for k in MEDIA_KINDS if getattr(message, k))
    label, extension = MEDIA_KINDS[kind]
    attachment = message.photo[-1] if kind == "photo" else getattr(message, kind)
    named = f"{label} {attachment.file_name}" if getattr(attachment, "file_name", None) else label
    text = f"{named} {message.caption}" if message.caption else named

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
        return {"kind": kind, "url": save_media(channel.media_dir, data, extension or file_extension(data)),
                "bytes": len(data)}

    await route(update, context, text, fetch, caption=(message.caption or "").strip(), described=True)


def file_extension(data: bytes) -> str:
    """A file's extension by its bytes (never its name): a PDF or a picture, else served as a download."""
    return "pdf" if data.startswith(b"%PDF-") else image_kind(data) or "bin"


async def on_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A sticker: stored by its emoji, and answered as an emoji alone is."""
    sticker = update.effective_message.sticker
    await route(update, context, f"[贴纸 {sticker.emoji or ''}]".replace(" ]", "]"), described=True,
                answers={State.BOT: EMOJI_TEXT})


async def on_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A shared contact: stored as text for staff, and acknowledged."""
    contact = update.effective_message.contact
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part)
    await route(update, context, f"[联系方式] {name} {contact.phone_number}", described=True,
                answers={State.BOT: NOTED_TEXT})


async def on_location(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A location or a place: stored as text for staff (coordinates and the place's name), and acknowledged."""
    message = update.effective_message
    location, venue = message.location, message.venue
    place = f" {venue.title} {venue.address}" if venue else ""
    await route(update, context, f"[位置] {location.latitude:.6f},{location.longitude:.6f}{place}", described=True,
                answers={State.BOT: NOTED_TEXT})


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else a customer sends (a poll, a dice, a game): stored for staff, and acknowledged."""
    await route(update, context, "[其他消息]", described=True, answers={State.BOT: NOTED_TEXT})


async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message: stored as an edit of the original (staff see it marked), not answered again."""
    message, channel = update.edited_message, channel_of(context)
    text = (message.text or message.caption or "").strip()[:MessageLimit.MAX_TEXT_LENGTH] or "[已编辑]"
    original = await channel.original_of(str(update.effective_user.id), message.message_id)
    await route(update, context, text, extra={"edit_of": original})


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
    show(update, context, query.answer, "answer button", posts=False)
    pressed = next((b for row in (query.message.reply_markup.inline_keyboard if query.message.reply_markup else [])
                    for b in row if b.callback_data == query.data), None)
    show(update, context, functools.partial(query.edit_message_reply_markup, None), "remove keyboard")
    if query.data.startswith("lang:"):
        await set_language(update, context, query.data.removeprefix("lang:"))
        return
    await route(update, context, pressed_text(query.data, pressed.text if pressed else None))


async def set_language(update: Update, context: ContextTypes.DEFAULT_TYPE, language: str) -> None:
    """Keep the chosen language on the customer, who may have written nothing yet."""
    channel, user = channel_of(context), update.effective_user
    language = language if language in LANGUAGES else "zh"
    await channel.router.set_language(CHANNEL, str(user.id), user.full_name, language)
    show(update, context, functools.partial(update.effective_chat.send_message, LANGUAGE_SET.to(language)),
         "language set")
