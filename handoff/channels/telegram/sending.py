"""Sending to Telegram: what one reply becomes (message splitting, keyboards, product cards, pictures)
as the Bot API calls that show it, and how a failed call is read (the chat waits, this delivery is tried
again later, or it has failed). The waiting itself is the outbox's (outbox.py), never a handler's."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, WebAppInfo
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.helpers import escape_markdown

from core.bot_payload import ask_product_payload

STATIC = Path(__file__).resolve().parents[2] / "static"
BUTTONS_ONLY_TEXT = "👇"  # Telegram needs some text above a keyboard; this one reads in any language
Send = Callable[[], Awaitable[Any]]  # one Bot API call, made when called (again on a retry)
DELIVERY_ATTEMPTS = 5  # tries of one delivery before it is marked failed (flood-control waits do not count)
RETRY_BASE_S = 2.0  # backoff after the first failed try; doubles with each try
RETRY_MAX_S = 300.0


class Paced(Exception):
    """Our own budget for the chat is spent: it waits ``wait`` seconds, as for Telegram's flood control."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"paced for {wait:.1f}s")
        self.wait = wait


def chat_wait(exc: BaseException) -> float | None:
    """Seconds the whole chat must wait (flood control, our pacing), or None for any other failure."""
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        return float(wait if isinstance(wait, int | float) else wait.total_seconds())
    if isinstance(exc, Paced):
        return exc.wait
    return None


@dataclass(frozen=True)
class Outcome:
    """How a failed try leaves a delivery: its record (tries, next try, error), dead or not, and how
    long the whole chat waits (flood control; a network error keeps the chat's order by holding it)."""

    record: dict[str, Any]
    failed: bool
    hold_chat_s: float


def after_failure(record: dict[str, Any], exc: BaseException, now: float) -> Outcome:
    """One rule for every delivery. Flood control: the chat waits as asked and the try does not count. The
    customer blocked the bot: failed at once. Anything else counts a try and is retried with backoff; a
    network error holds the chat (its later messages must not overtake), a refusal of this message (a 400,
    a bug in rendering it) holds only the message, so the chat's next ones go on."""
    if (wait := chat_wait(exc)) is not None:
        return Outcome({**record, "retry_at": now + wait}, False, wait)
    tries = int(record.get("tries", 0)) + 1
    kind, said = exc.__class__.__name__, str(exc)  # Telegram's own words may already start with the kind
    error = (said if said.startswith(kind) else f"{kind}: {said}")[:200]
    backoff = min(RETRY_BASE_S * 2 ** (tries - 1), RETRY_MAX_S)
    failed = isinstance(exc, Forbidden) or tries >= DELIVERY_ATTEMPTS
    transient = isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    return Outcome({**record, "tries": tries, "retry_at": now + backoff, "error": error}, failed,
                   backoff if transient and not failed else 0.0)


def is_due(record: dict[str, Any] | None, now: float) -> bool:
    return float((record or {}).get("retry_at", 0.0)) <= now


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Telegram's message limit, cut at paragraph or line ends where possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind("。", 0, limit) + 1)
        cut = cut if cut > limit // 2 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text] if text else parts


TITLE_MARK = "t:"  # callback data meaning "the button's own title is the message", with the payload's key
ASK_MARK = "ask:"  # callback data asking about the product it names (问问这个 under a card)


def callback_data(button: dict[str, str]) -> str:
    """Telegram allows 64 bytes of callback data. 问问这个 travels as its product's id; another longer payload
    (a KB question) as a short key of it, which names its own button in the keyboard (whose title is the
    message), whatever the buttons' order."""
    payload = button.get("payload") or button.get("title", "")
    if len(payload.encode()) <= 64:
        return payload
    if button.get("product") and len((ASK_MARK + button["product"]).encode()) <= 64:
        return ASK_MARK + button["product"]
    return TITLE_MARK + hashlib.sha256(payload.encode()).hexdigest()[:16]


def pressed_text(data: str, title: str | None) -> str:
    """What a pressed button sends, from its callback data (and its title, for a keyed one)."""
    if data.startswith(ASK_MARK):
        return ask_product_payload(data.removeprefix(ASK_MARK))
    return title if data.startswith(TITLE_MARK) and title else data


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
    price = product.get("price")
    shown = product.get("price_text") or (f"¥{price:g}" if isinstance(price, int | float) else f"¥{price or ''}")
    name, price = str(product.get("name", "")), str(shown)
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


def reply_sends(bot: Bot, chat_id: int | str, data: dict[str, Any], media_dir: Path,
                thread_id: int | None = None) -> list[Send]:
    """One reply as its Bot API calls, in order: a picture, text (split at the limit), product cards as photos,
    each with its own 问问这个. The reply's buttons go on its last text (a knowledge answer's 有用 / 没用 under
    the answer), or, with cards and no text (gifts: 换一批, 找店员帮挑), on a message of their own after the
    cards, so they never read as the last card's. A delivery that fails part-way resumes at the first call
    not made."""
    text, buttons, products = data.get("text") or "", data.get("buttons") or [], data.get("products") or []
    buttons_markup = keyboard(buttons, data.get("feedback"))
    parts = split_text(text)
    message = functools.partial(bot.send_message, chat_id, message_thread_id=thread_id)
    photo = functools.partial(bot.send_photo, chat_id, message_thread_id=thread_id)
    sends: list[Send] = []
    picture = local_file(data.get("image"), media_dir)
    if picture is not None:
        last = not parts and not products
        sends.append(functools.partial(photo, upload(picture), reply_markup=buttons_markup if last else None))
    for index, part in enumerate(parts):
        sends.append(functools.partial(message, part, reply_markup=buttons_markup if index == len(parts) - 1 else None))
    for product in products:
        markup = keyboard([product["ask"]]) if isinstance(product.get("ask"), dict) else None
        image, caption = local_file(product.get("image"), media_dir), product_caption(product)
        if image is not None:
            sends.append(functools.partial(photo, upload(image), caption=caption, parse_mode="MarkdownV2",
                                           reply_markup=markup))
        else:
            sends.append(functools.partial(message, caption, parse_mode="MarkdownV2", reply_markup=markup))
    if buttons_markup and not parts and (products or not sends):
        sends.append(functools.partial(message, BUTTONS_ONLY_TEXT, reply_markup=buttons_markup))
    return sends


def upload(path: Path) -> InputFile:
    return InputFile(path.read_bytes(), filename=path.name)
