"""Staff and owner accounts: Argon2 password hashes and signed, revocable tokens (no HTTP here)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import StaffAccount

ROLES = ("owner", "staff")
API_TOKEN_DAYS = 90
SESSION_HOURS = 12
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_staff(session: Session, name: str, role: str, password: str) -> StaffAccount:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name or len(name) > 64:
        raise ValueError("name must be 1-64 characters")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    if session.scalar(select(StaffAccount).where(StaffAccount.name == name)):
        raise ValueError(f"there is already an account named {name!r}")
    account = StaffAccount(name=name, role=role, password_hash=hash_password(password))
    session.add(account)
    session.flush()
    return account


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, claims: dict) -> str:
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(hashlib.sha256(f"token:{secret}".encode()).digest(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: str, token: str) -> dict | None:
    """The claims of a token this secret signed and that has not expired, else None."""
    body, _, mac = token.partition(".")
    expected = hmac.new(hashlib.sha256(f"token:{secret}".encode()).digest(), body.encode(),
                        hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(_unb64(mac), expected):
            return None
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("exp", 0) < time.time():
        return None
    return claims


def api_token(secret: str, account: StaffAccount, days: int = API_TOKEN_DAYS) -> str:
    return sign(secret, {"sub": account.id, "v": account.token_version, "kind": "api",
                         "exp": int(time.time()) + days * 86400})


def session_token(secret: str, account: StaffAccount) -> tuple[str, str]:
    """A browser session for ``account`` and the CSRF token that goes with it."""
    csrf = secrets.token_urlsafe(24)
    token = sign(secret, {"sub": account.id, "v": account.token_version, "kind": "session", "csrf": csrf,
                          "exp": int(time.time()) + SESSION_HOURS * 3600})
    return token, csrf
