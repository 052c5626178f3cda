"""Staff and owner accounts: Argon2 password hashes and signed, revocable tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from techan.appkeys import SESSIONS, SETTINGS
from techan.db import StaffAccount

ROLES = ("owner", "staff")
API_TOKEN_DAYS = 90
SESSION_COOKIE = "techan_session"
SESSION_HOURS = 12
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF = web.RequestKey("csrf", str)  # the signed-in session's CSRF token
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


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    secure = request.app[SETTINGS].public_url.startswith("https://")
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_HOURS * 3600, httponly=True, samesite="Strict",
                        secure=secure, path="/")


async def authenticate(request: web.Request) -> Principal | None:
    """The account behind the bearer token or session cookie, if valid and not revoked.

    For a cookie session, ``request[CSRF]`` holds the token its forms must send back.
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token, kind = header[7:].strip(), "api"
    elif SESSION_COOKIE in request.cookies:
        token, kind = request.cookies[SESSION_COOKIE], "session"
    else:
        return None
    claims = unsign(request.app[SETTINGS].secret, token)
    if not claims or claims.get("kind") != kind:
        return None
    async with request.app[SESSIONS]() as session:
        account = await session.get(StaffAccount, claims.get("sub"))
    if account is None or not account.active or account.token_version != claims.get("v"):
        return None
    if kind == "session":
        request[CSRF] = claims["csrf"]
    return Principal(account.id, account.name, account.role)


async def require(request: web.Request, role: str) -> Principal:
    """The caller, if signed in with ``role`` (owners may do what staff do); else 401/403.

    Changes made through a cookie session must carry its CSRF token (header or form field).
    """
    principal = await authenticate(request)
    if principal is None:
        raise web.HTTPUnauthorized(text="sign in first (at /login, or a bearer token from `techan staff token NAME`)",
                                   headers={"WWW-Authenticate": "Bearer"})
    if role == "owner" and principal.role != "owner":
        raise web.HTTPForbidden(text="only the shop owner may do this")
    if CSRF in request and request.method in UNSAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent and request.content_type == "application/x-www-form-urlencoded":
            sent = str((await request.post()).get("csrf_token", ""))
        if not hmac.compare_digest(sent, request[CSRF]):
            raise web.HTTPForbidden(text="missing or wrong CSRF token; reload the page")
    return principal


async def require_page(request: web.Request, role: str) -> Principal:
    """Like ``require`` for HTML pages: a browser without a session is sent to the login page."""
    try:
        return await require(request, role)
    except web.HTTPUnauthorized:
        raise web.HTTPFound(f"/login?next={quote(request.path_qs, safe='')}") from None
