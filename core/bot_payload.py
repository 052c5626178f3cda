"""The contract between the Rasa actions and the router: handoff reasons and the custom payload.

An action says what it decided in the custom (``json_message``) part of a bot message; the router
reads it back here. Keys (DESIGN.md, "Knowledge base contract"): ``handoff`` (``{"reason": …}``: queue
the chat for staff), ``products`` (product cards), ``techan`` (the answer's provenance, stored as
``payload.meta``: ``kb``, ``unsure``, ``shipping``, ``catalog``, ``family``, ``not_sold``, ``missing``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.language import Say


class HandoffReason(StrEnum):
    """Why a chat went to staff (DESIGN.md: handoff reasons)."""

    CUSTOMER_REQUEST = "customer_request"
    VIDEO_REQUEST = "video_request"
    LOW_CONFIDENCE = "low_confidence"  # the bot was unsure twice running
    BOT_UNAVAILABLE = "bot_unavailable"  # Rasa or the action endpoint down, or past the grace
    STAFF_TAKEOVER = "staff_takeover"


# Why a chat went to staff, as the owner's pages say it.
REASON_LABELS = {
    HandoffReason.CUSTOMER_REQUEST: "顾客要找店员",
    HandoffReason.VIDEO_REQUEST: "顾客要视频看货",
    HandoffReason.LOW_CONFIDENCE: "两次没答上",
    HandoffReason.BOT_UNAVAILABLE: "机器人不可用",
    HandoffReason.STAFF_TAKEOVER: "店员主动接手",
}

# What the customer asked for in words (the question before "转人工" is what goes to the owner's inbox).
ASKED_BY_CUSTOMER = (HandoffReason.CUSTOMER_REQUEST, HandoffReason.VIDEO_REQUEST)

HANDOFF = "handoff"
PRODUCTS = "products"
META = "techan"
# Provenance keys inside META (and so inside a stored bot message's payload.meta).
KB = "kb"
UNSURE = "unsure"
SHIPPING = "shipping"
CATALOG = "catalog"
FAMILY = "family"
NOT_SOLD = "not_sold"
MISSING = "missing"

ASK_HUMAN = Say("找店员", "Ask staff")
ASK_HUMAN_PAYLOAD = "/request_human"


def ask_human_button(language: str) -> dict[str, str]:
    """The way out of any bot answer: a person."""
    return {"title": ASK_HUMAN.to(language), "payload": ASK_HUMAN_PAYLOAD}


ASK_PRODUCT = Say("问问这个", "Ask about this")


def ask_product_payload(product_id: str) -> str:
    """What asking about one product sends (a tap on a web chat card, 问问这个 on Telegram)."""
    return f'/ask_product_info{{"product": "{product_id}"}}'


def ask_product_button(product_id: str, language: str) -> dict[str, str]:
    """Under a product card where the card itself cannot be tapped (Telegram): asks about that product, as a
    tap on the web chat's card does. ``product`` lets a channel carry it shorter than the payload."""
    return {"title": ASK_PRODUCT.to(language), "payload": ask_product_payload(product_id), "product": product_id}


def custom_payload(*, meta: dict[str, Any] | None = None, products: list[dict[str, Any]] | None = None,
                   handoff: HandoffReason | None = None) -> dict[str, Any]:
    """What an action puts in ``json_message``."""
    custom: dict[str, Any] = {}
    if products is not None:
        custom[PRODUCTS] = products
    if meta is not None:
        custom[META] = meta
    if handoff is not None:
        custom[HANDOFF] = {"reason": handoff.value}
    return custom


@dataclass(frozen=True)
class CustomPayload:
    """A bot message's custom part as the router reads it; anything malformed reads as absent."""

    products: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    handoff: HandoffReason | None = None


def read_custom(custom: Any) -> CustomPayload:
    """An unknown reason still hands off (as the customer's request): a person is the safe side."""
    if not isinstance(custom, dict):
        return CustomPayload()
    handoff = None
    if isinstance(custom.get(HANDOFF), dict):
        reason = custom[HANDOFF].get("reason")
        handoff = HandoffReason(reason) if reason in HandoffReason._value2member_map_ \
            else HandoffReason.CUSTOMER_REQUEST
    meta = custom.get(META)
    return CustomPayload(list(custom.get(PRODUCTS) or []), dict(meta) if isinstance(meta, dict) else {}, handoff)
