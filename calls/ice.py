"""ICE servers for a call (STUN, and TURN with coturn's time-limited REST credentials), the customer's
single-use join token, and the pass that binds a web customer's join to their chat token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from core.accounts import sign, unsign
from core.db import Call, Customer
from core.settings import Settings

TURN_TTL_S = 6 * 3600


def ice_servers(settings: Settings, user: str) -> list[dict[str, Any]]:
    """STUN from settings, and TURN with coturn REST credentials (username "expiry:user", HMAC-SHA1)."""
    servers: list[dict[str, Any]] = []
    stun = [url.strip() for url in settings.stun_urls.split(",") if url.strip()]
    if stun:
        servers.append({"urls": stun})
    if settings.turn_url and settings.turn_secret:
        username = f"{int(time.time()) + TURN_TTL_S}:{user}"
        credential = base64.b64encode(hmac.new(settings.turn_secret.encode(), username.encode(),
                                               hashlib.sha1).digest()).decode()
        servers.append({"urls": [settings.turn_url], "username": username, "credential": credential})
    return servers


def customer_token(settings: Settings, call: Call) -> str:
    return sign(settings.secret, {"kind": "call", "call": call.id, "nonce": call.token_nonce,
                                  "exp": int(time.time()) + settings.call_join_minutes * 60})


def read_customer_token(settings: Settings, token: str) -> dict | None:
    claims = unsign(settings.secret, token)
    return claims if claims and claims.get("kind") == "call" and isinstance(claims.get("call"), int) else None


def web_join_pass(settings: Settings, call: Call, customer: Customer) -> str:
    """What the web chat page, holding the customer's chat token, adds to the call link: without it the link
    alone (seen over a shoulder, or read by whoever learnt the sender id) joins no one."""
    return sign(settings.secret, {"kind": "web_call", "call": call.id, "nonce": call.token_nonce,
                                  "sub": customer.external_id, "v": customer.chat_token_version,
                                  "exp": int(time.time()) + settings.call_join_minutes * 60})


def web_join_allowed(settings: Settings, join_pass: str, call: Call, customer: Customer) -> bool:
    claims = unsign(settings.secret, join_pass) if join_pass else None
    return bool(claims and claims.get("kind") == "web_call" and claims.get("call") == call.id
                and claims.get("nonce") == call.token_nonce and claims.get("sub") == customer.external_id
                and customer.chat_token_version is not None and claims.get("v") == customer.chat_token_version)


def rejoin_secret(settings: Settings, call: Call) -> str:
    """What a customer who joined is given to come back after a drop, on whichever instance their page reaches:
    derived from the shop's secret and the call's link, so every instance knows it without storing it."""
    digest = hmac.new(settings.secret.encode(), f"call-rejoin:{call.id}:{call.token_nonce}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()
