"""Sending to Telegram: bounded retries, message splitting, keyboards, product cards, pictures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, WebAppInfo
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.helpers import escape_markdown

log = logging.getLogger(__name__)

SEND_ATTEMPTS = 5
BACKOFF_S = 0.5
MAX_RETRY_AFTER_S = 60
STATIC = Path(__file__).resolve().parents[2] / "static"
BUTTONS_ONLY_TEXT = "👇"  # Telegram needs some text above a keyboard; this one reads in any language
T = TypeVar("T")


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
