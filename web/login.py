"""Staff and owner sign-in for the browser pages: login form, rate limit, logout."""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque

from aiohttp import web
from sqlalchemy import select

from web.keys import SESSIONS, SETTINGS, TEMPLATES
from core.accounts import check_password, session_token, sign, unsign
from web.auth import SESSION_COOKIE, require, set_session_cookie
from core.db import StaffAccount

MAX_FAILURES = 5
WINDOW_S = 300
LOGIN_FORM_S = 3600


class LoginLimiter:
    """At most MAX_FAILURES failed sign-ins per address and name in WINDOW_S seconds."""

    def __init__(self) -> None:
        self.failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self.failures.setdefault(key, deque())
        while times and times[0] < time.monotonic() - WINDOW_S:
            times.popleft()
        return times

    def retry_after(self, key: tuple[str, str]) -> int:
        times = self._recent(key)
        return int(times[0] + WINDOW_S - time.monotonic()) + 1 if len(times) >= MAX_FAILURES else 0

    def fail(self, key: tuple[str, str]) -> None:
        if len(self.failures) > 10_000:  # bounded memory under a flood of names
            self.failures.clear()
        self._recent(key).append(time.monotonic())

    def succeed(self, key: tuple[str, str]) -> None:
        self.failures.pop(key, None)


LIMITER = web.AppKey("login_limiter", LoginLimiter)


# A path of this app: one leading slash, then printable ASCII without backslashes. Browsers drop tabs and
# newlines from a Location and read a backslash as a slash, so "/\t/evil.com" or "/\\evil.com" would leave the site.
SAME_SITE_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")


def _safe_next(target: str) -> str:
    """Where to go after signing in: a path of this app, else the console (never another site, however spelt)."""
    return target if SAME_SITE_PATH.fullmatch(target) else "/console"


def _form(request: web.Request, error: str = "", status: int = 200, name: str = "") -> web.Response:
    token = sign(request.app[SETTINGS].secret, {"kind": "login", "exp": int(time.time()) + LOGIN_FORM_S})
    html = request.app[TEMPLATES].get_template("login.html").render(
        error=error, login_token=token, next=_safe_next(request.query.get("next", "")), name=name)
    return web.Response(text=html, content_type="text/html", status=status)


async def login_page(request: web.Request) -> web.Response:
    return _form(request)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    claims = unsign(request.app[SETTINGS].secret, str(form.get("login_token", "")))
    if not claims or claims.get("kind") != "login":
        return _form(request, "页面已过期，请重新登录。 The form expired; please sign in again.", 400, name)
    key = (request.remote or "?", name.lower())
    limiter = request.app[LIMITER]
    if wait := limiter.retry_after(key):
        response = _form(request, f"尝试次数太多，请 {wait} 秒后再试。 Too many attempts; try again in {wait}s.",
                         429, name)
        response.headers["Retry-After"] = str(wait)
        return response
    async with request.app[SESSIONS]() as session:
        account = await session.scalar(select(StaffAccount).where(StaffAccount.name == name))
    valid = account is not None and account.active and await asyncio.to_thread(
        check_password, account.password_hash, password)
    if not valid:
        limiter.fail(key)
        return _form(request, "用户名或密码不对。 Wrong name or password.", 401, name)
    limiter.succeed(key)
    token, _csrf = session_token(request.app[SETTINGS].secret, account)
    response = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))))
    set_session_cookie(response, request, token)
    raise response


async def logout(request: web.Request) -> web.Response:
    await require(request, "staff")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def setup(app: web.Application) -> None:
    app[LIMITER] = LoginLimiter()
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
