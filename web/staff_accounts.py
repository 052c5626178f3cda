"""The owner's accounts page: who may sign in, as what; add, disable, enable, new password, sign out everywhere.

Plain HTML forms (POST, then back to the page), CSRF-checked by ``web.auth.require``. Every change ends
what it must in the database (core.accounts) and wakes this process's open consoles to recheck at once.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from core import accounts
from core.db import StaffAccount, aware, utcnow
from core.language import Say
from web.auth import ACCESS_CHANGES, CSRF, require, require_page
from web.body import path_id
from web.i18n import page_language, render_page, said
from web.keys import SESSIONS, SETTINGS

ROLE_NAMES = {"owner": "店主", "staff": "店员"}  # the page says them in its language
DONE = {  # what the page says after a change, by the change's name
    "add": Say("已添加账号 {name}。", "Account {name} added."),
    "disable": Say("{name} 已停用，TA 已在所有设备上退出登录。", "{name} is disabled and signed out everywhere."),
    "enable": Say("{name} 已启用，可以重新登录。", "{name} can sign in again."),
    "revoke": Say("{name} 已在所有设备上退出登录。", "{name} is signed out everywhere."),
    "password": Say("{name} 的密码已更改，原来的登录都已失效。", "{name} has a new password; earlier sign-ins ended."),
    "role": Say("{name} 的角色已更改。", "{name} has a new role."),
    "display-name": Say("顾客现在看到的是“店员 {shown}”。", "Customers now see {shown}."),
}
CHANGES = {  # (database session, account, form) -> None
    "disable": lambda session, account, form: accounts.disable(session, account),
    "enable": lambda session, account, form: accounts.enable(session, account),
    "revoke": lambda session, account, form: accounts.revoke(session, account),
    "password": lambda session, account, form: accounts.set_password(session, account, str(form.get("password", ""))),
    "role": lambda session, account, form: accounts.set_role(session, account, str(form.get("role", ""))),
    "display-name": lambda session, account, form: accounts.set_display_name(session, account,
                                                                            str(form.get("display_name", ""))),
}


def refusal(request: web.Request, words: Say) -> str:
    """A refusal on the page in the reader's language; the English, written for the CLI ("password must
    be…"), as a sentence."""
    if page_language(request) != "en":
        return words.zh
    return f"{words.en[:1].upper()}{words.en[1:]}{'' if words.en.endswith(('.', '!', '?')) else '.'}"


async def _page(request: web.Request, principal: accounts.Principal, *, notice: str = "", error: str = "",
                status: int = 200) -> web.Response:
    async with request.app[SESSIONS]() as session:
        rows = (await session.scalars(select(StaffAccount).order_by(StaffAccount.role, StaffAccount.name))).all()
        signed_in = await session.run_sync(accounts.last_sign_ins)
    zone, now = ZoneInfo(request.app[SETTINGS].timezone), utcnow()
    return render_page(
        request, "admin_accounts.html", status=status, here="/admin/accounts", user=principal.name, role=principal.role, me=principal.id,
        csrf=request.get(CSRF, ""), notice=notice, error=error, role_names=ROLE_NAMES, accounts=[
            {"id": a.id, "name": a.name, "role": a.role, "active": a.active, "display_name": a.display_name or "",
             "last_sign_in": signed_in[a.id].astimezone(zone).strftime("%Y-%m-%d %H:%M") if a.id in signed_in else "",
             "locked_until": aware(a.locked_until).astimezone(zone).strftime("%H:%M")
             if a.locked_until and aware(a.locked_until) > now else ""}
            for a in rows])


async def accounts_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "owner")
    done, notice = request.query.get("done", ""), ""
    if done in DONE and request.query.get("id", "").isdigit():
        async with request.app[SESSIONS]() as session:
            account = await session.get(StaffAccount, int(request.query["id"]))
        notice = said(request, DONE[done]).format(name=account.name, shown=account.shown_name) if account else ""
    return await _page(request, principal, notice=notice)


async def _changed(request: web.Request, principal: accounts.Principal, change, done: str) -> web.Response:
    """Run ``change`` (database session -> account id) in one transaction, then back to the page."""
    try:
        async with request.app[SESSIONS]() as session:
            account_id = await session.run_sync(change)
            await session.commit()
    except accounts.Refused as exc:
        return await _page(request, principal, error=refusal(request, exc.said), status=400)
    request.app[ACCESS_CHANGES].changed()
    raise web.HTTPSeeOther(f"/admin/accounts?done={done}&id={account_id}")


async def add_account(request: web.Request) -> web.Response:
    principal = await require(request, "owner")
    form = await request.post()

    def add(session) -> int:
        return accounts.add_staff(session, str(form.get("name", "")).strip(), str(form.get("role", "")),
                                  str(form.get("password", "")), str(form.get("display_name", ""))).id
    return await _changed(request, principal, add, "add")


async def change_account(request: web.Request) -> web.Response:
    principal = await require(request, "owner")
    form = await request.post()
    account_id, change = path_id(request, "account_id"), request.match_info["change"]
    if change not in CHANGES:
        raise web.HTTPNotFound(text=f"no change {change!r}; one of {', '.join(CHANGES)}")

    def apply(session) -> int:
        account = session.get(StaffAccount, account_id)
        if account is None:
            raise web.HTTPNotFound(text="no such account")
        CHANGES[change](session, account, form)
        return account.id
    return await _changed(request, principal, apply, change)


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/accounts", accounts_page)
    app.router.add_post("/admin/accounts", add_account)
    app.router.add_post("/admin/accounts/{account_id}/{change}", change_account)
