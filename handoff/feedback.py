"""Customers say whether a knowledge answer helped: the two buttons, their payload, and what counts.

A knowledge answer is a stored bot message whose ``payload.meta`` shows it came from the shop's
knowledge: KB hits without ``unsure``, a catalog summary, a family's products or a shipping quote.
Its buttons carry ``/feedback{"message": ID, "helpful": true|false}`` (ID: that stored bot message),
well under Telegram's 64-byte callback data. The router keeps the verdict in ``meta.feedback``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.bot_payload import CATALOG, FAMILY, KB, SHIPPING, UNSURE
from core.language import Say

PREFIX = "/feedback"
HELPFUL, NOT_HELPFUL = "helpful", "not_helpful"
HELPFUL_BUTTON = Say("有用", "Helpful")
NOT_HELPFUL_BUTTON = Say("没用", "Not helpful")


def is_knowledge_answer(meta: dict[str, Any] | None) -> bool:
    meta = meta or {}
    return bool((meta.get(KB) and not meta.get(UNSURE)) or meta.get(CATALOG) or meta.get(FAMILY) or meta.get(SHIPPING))


def answering_entry(meta: dict[str, Any] | None) -> str | None:
    """The KB entry whose answer this was (a catalog summary or a quote lists hits, but no entry answered)."""
    meta = meta or {}
    if not is_knowledge_answer(meta) or meta.get(CATALOG) or meta.get(FAMILY) or meta.get(SHIPPING):
        return None
    first = meta[KB][0]
    return str(first["id"]) if isinstance(first, dict) and first.get("id") else None


def payload(message_id: int, helpful: bool) -> str:
    return PREFIX + json.dumps({"message": message_id, "helpful": helpful}, separators=(",", ":"))


_PAYLOAD = re.compile(r'\{"message":\s*(\d{1,16}),\s*"helpful":\s*(true|false)\}')


def parse(text: str) -> tuple[int, bool] | None:
    """(message id, helpful) from a feedback payload, or None when it is not exactly one.

    Matched as a whole by pattern, not parsed as JSON: customers can type anything after /feedback
    (deeply nested brackets, a 30-digit id), and none of it may reach json or the database.
    """
    match = _PAYLOAD.fullmatch(text.removeprefix(PREFIX))
    return (int(match.group(1)), match.group(2) == "true") if match else None


def buttons(message_id: int, language: str) -> list[dict[str, str]]:
    return [{"title": HELPFUL_BUTTON.to(language), "payload": payload(message_id, True)},
            {"title": NOT_HELPFUL_BUTTON.to(language), "payload": payload(message_id, False)}]
