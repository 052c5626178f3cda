"""HTTP sign-in for staff and owners: bearer tokens, session cookies with CSRF, page redirects, socket origin."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from aiohttp import web

from core.accounts import SESSION_HOURS, Principal, unsign
from core.db import StaffAccount
from web.keys import SESSIONS, SETTINGS

SESSION_COOKIE = "techan_session"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF = web.RequestKey("csrf", str)  # the signed-in session's CSRF token


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


def refuse_cross_origin(request: web.Request) -> None:
    """WebSockets skip the browser's same-origin rule, so check Origin (no cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
