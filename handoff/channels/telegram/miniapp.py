"""Telegram Mini App sign-in: ``initData`` signed with the bot token's HMAC (the call page uses it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

INIT_DATA_MAX_AGE_S = 3600


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
