"""Staff and owner sign-in for the browser pages: login form, sign-in limits, logout.

Two limits, neither of which lets a stranger shut the owner out for good: each client address gets a
few failed tries per window (a shop's staff all signing in from one office network are not limited) (the app's bounded limiter, the address as ``core.limits.client_address`` reads
it behind trusted proxies), and each account waits longer after each wrong password in a row (kept in
the database: every process and restart sees it; the wait is capped, and the right password after it
works). Unknown names are checked against a stand-in hash, so they take as long as real ones; a disabled
account is told so only after its right password.
"""

from __future__ import annotations

import asyncio
import math
import time
from urllib.parse import quote

from aiohttp import web

from core.accounts import begin_attempt, check_password, end_session, sign, start_session, unsign
from core.limits import client_address
from web.auth import ACCESS_CHANGES, SESSION_COOKIE, SESSION_ID, AccessChanges, require, set_session_cookie
from core.language import Say
from web.guards import same_site_path
from web.i18n import choose_language, render_page, said
from web.keys import LIMITS, SESSIONS, SETTINGS

TRIES_PER_ADDRESS = 10  # failed sign-ins one client address may make per window (then one per minute)
ADDRESS_WINDOW_S = 600
LOGIN_FORM_S = 3600
WRONG = Say("用户名或密码不对。", "Wrong name or password.")
DISABLED = Say("这个账号已停用，请联系店主。", "This account has been disabled; please ask the shop owner.")
EXPIRED = Say("页面已过期，请重新登录。", "The form expired; please sign in again.")
NETWORK_WAIT = Say("这个网络登录尝试太多，请 {}后再试。", "Too many sign-in attempts from this network; try again in {}.")
ACCOUNT_WAIT = Say("密码错误次数太多，这个账号暂时锁定，请 {}后再试。",
                   "Too many wrong passwords: this account is locked; try again in {}.")


def _form(request: web.Request, error: Say | None = None, status: int = 200, name: str = "", *values: str
          ) -> web.Response:
    token = sign(request.app[SETTINGS].secret, {"kind": "login", "exp": int(time.time()) + LOGIN_FORM_S})
    after = same_site_path(request.query.get("next", ""))
    return render_page(request, "login.html", status=status, here=f"/login?next={quote(after)}",
                       error=said(request, error).format(*values) if error else "", login_token=token, next=after,
                       name=name)


def _wait(request: web.Request, seconds: float, words: Say, name: str) -> web.Response:
    """429 with Retry-After, the wait said in minutes once it is a minute or more."""
    seconds = max(1, math.ceil(seconds))
    minutes = math.ceil(seconds / 60)
    wait = Say(f"{seconds} 秒", f"{seconds} s") if seconds < 60 else Say(f"{minutes} 分钟", f"{minutes} min")
    response = _form(request, words, 429, name, said(request, wait))
    response.headers["Retry-After"] = str(seconds)
    return response


async def login_page(request: web.Request) -> web.Response:
    return _form(request)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    settings = request.app[SETTINGS]
    claims = unsign(settings.secret, str(form.get("login_token", "")))
    if not claims or claims.get("kind") != "login":
        return _form(request, EXPIRED, 400, name)
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), settings.proxies)
    tries = f"login:addr:{address}"
    if wait := await request.app[LIMITS].hit(tries, TRIES_PER_ADDRESS, ADDRESS_WINDOW_S, spend=False):
        return _wait(request, wait, NETWORK_WAIT, name)
    async with request.app[SESSIONS]() as session:
        attempt = await session.run_sync(begin_attempt, name)
        await session.commit()
    if attempt.wait_s:
        await request.app[LIMITS].hit(tries, TRIES_PER_ADDRESS, ADDRESS_WINDOW_S)
        return _wait(request, attempt.wait_s, ACCOUNT_WAIT, name)
    right = await asyncio.to_thread(check_password, attempt.password_hash, password)
    if right and attempt.disabled:
        return _form(request, DISABLED, 403, name)
    if not right or attempt.account_id is None:
        await request.app[LIMITS].hit(tries, TRIES_PER_ADDRESS, ADDRESS_WINDOW_S)  # only a failed try counts
        return _form(request, WRONG, 401, name)
    async with request.app[SESSIONS]() as session:
        token, _csrf = await session.run_sync(start_session, settings.secret, attempt.account_id)
        await session.commit()
    response = web.HTTPSeeOther(same_site_path(str(form.get("next", ""))))
    set_session_cookie(response, request, token)
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session on the server too: a copy of the cookie no longer works. A session that has already
    ended (revoked, disabled) has nothing left to end: the browser just goes to the sign-in page."""
    try:
        await require(request, "staff")
    except web.HTTPUnauthorized:
        pass
    if SESSION_ID in request:
        async with request.app[SESSIONS]() as session:
            await session.run_sync(end_session, request[SESSION_ID])
            await session.commit()
        request.app[ACCESS_CHANGES].changed()
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def setup(app: web.Application) -> None:
    app[ACCESS_CHANGES] = AccessChanges()
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/language/{language:zh|en}", choose_language)
