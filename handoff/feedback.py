"""Customers say whether a knowledge answer helped: the two buttons, their payload, and what counts.

A knowledge answer is a stored bot message whose ``payload.meta`` shows it came from the shop's
knowledge: KB hits without ``unsure``, a catalog summary, a family's products or a shipping quote.
Its buttons carry ``/feedback{"message": ID, "helpful": true|false}`` (ID: that stored bot message),
well under Telegram's 64-byte callback data. The router keeps the verdict in ``meta.feedback``.
"""

from __future__ import annotations

import json
from typing import Any

from techan.language import Say

PREFIX = "/feedback"
HELPFUL, NOT_HELPFUL = "helpful", "not_helpful"
HELPFUL_BUTTON = Say("有用", "Helpful")
NOT_HELPFUL_BUTTON = Say("没用", "Not helpful")


def is_knowledge_answer(meta: dict[str, Any] | None) -> bool:
    meta = meta or {}
    return bool((meta.get("kb") and not meta.get("unsure"))
                or meta.get("catalog") or meta.get("family") or meta.get("shipping"))


def answering_entry(meta: dict[str, Any] | None) -> str | None:
    """The KB entry whose answer this was (a catalog summary or a quote lists hits, but no entry answered)."""
    meta = meta or {}
    if not is_knowledge_answer(meta) or meta.get("catalog") or meta.get("family") or meta.get("shipping"):
        return None
    first = meta["kb"][0]
    return str(first["id"]) if isinstance(first, dict) and first.get("id") else None


def payload(message_id: int, helpful: bool) -> str:
    return PREFIX + json.dumps({"message": message_id, "helpful": helpful}, separators=(",", ":"))


def parse(text: str) -> tuple[int, bool] | None:
    """(message id, helpful) from a feedback payload, or None when it is not a well-formed one."""
    try:
        body = json.loads(text.removeprefix(PREFIX))
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    message, helpful = body.get("message"), body.get("helpful")
    if type(message) is not int or not isinstance(helpful, bool):
        return None
    return message, helpful


def buttons(message_id: int, language: str) -> list[dict[str, str]]:
    return [{"title": HELPFUL_BUTTON.to(language), "payload": payload(message_id, True)},
            {"title": NOT_HELPFUL_BUTTON.to(language), "payload": payload(message_id, False)}]
