"""HTTP sign-in for staff and owners: bearer tokens, session cookies with CSRF, page redirects, socket origin."""

from __future__ import annotations

import asyncio
import hmac
from urllib.parse import quote

from aiohttp import web

from core.accounts import SESSION_HOURS, Principal, outlives_the_cap, session_is_live, unsign
from core.db import StaffAccount, StaffSession
from core.waiting import event_set_within
from web.keys import SESSIONS, SETTINGS

SESSION_COOKIE = "techan_session"
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
CSRF = web.RequestKey("csrf", str)  # the signed-in session's CSRF token
SESSION_ID = web.RequestKey("session_id", str)  # the signed-in session's row in staff_sessions
SIGNED_OUT = 4401  # WebSocket close code: the caller's access ended; the console goes to the sign-in page
RECHECK_S = 5.0  # an open staff socket rechecks its access this often (changes made by the CLI or elsewhere)


class AccessChanges:
    """Wakes this process's open staff sockets when an account's access changes here, so they recheck
    at once instead of at their next periodic check."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        await event_set_within(self._changed, timeout)


ACCESS_CHANGES = web.AppKey("access_changes", AccessChanges)


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
    if not claims or claims.get("kind") != kind or not isinstance(claims.get("sub"), int):
        return None
    if kind == "api" and outlives_the_cap(claims):
        return None
    async with request.app[SESSIONS]() as session:
        account = await session.get(StaffAccount, claims["sub"])
        if account is None or not account.active or account.token_version != claims.get("v"):
            return None
        if kind == "session":
            row = await session.get(StaffSession, str(claims.get("sid", "")))
            if not session_is_live(row, account.id):  # logged out, revoked, or past its time
                return None
            request[CSRF], request[SESSION_ID] = claims["csrf"], row.id
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
    """Check Origin where a cookie alone would let another site act: WebSockets skip the browser's same-origin
    rule (no cross-site WebSocket hijacking), and the web chat's cookies may be SameSite=None (a framed chat)."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="refused: the request comes from another site")


async def close_when_signed_out(request: web.Request, ws: web.WebSocketResponse) -> None:
    """Run beside a staff socket: close it with ``SIGNED_OUT`` once its caller's access has ended
    (logout, revoke, disable, a new password) — at once for changes made in this process."""
    changes = request.app[ACCESS_CHANGES]
    while not ws.closed:
        await changes.wait(RECHECK_S)
        if not ws.closed and await authenticate(request) is None:
            await ws.close(code=SIGNED_OUT, message=b"signed out")
