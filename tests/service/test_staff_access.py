"""Revocable access: each `techan staff` command, logout and the owner's accounts page end what they must —
a browser session that worked and a bearer token that worked are refused afterwards — and tokens live 90 days at most."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time

import pytest
from sqlalchemy import update

from core.accounts import sign
from core.db import StaffAccount, StaffSession
from techan import PROJECT_ROOT
from tests.conftest import command_env
from tests.service.conftest import db_session
from tests.service.test_login import PASSWORD, error_on, make_account, sign_in
from web.keys import SETTINGS

NEW_PASSWORD = "a brand new password"


async def techan(client, *args: str) -> subprocess.CompletedProcess:
    """The real CLI, in its own process, on the running app's database."""
    settings = client.server.app[SETTINGS]
    env = command_env(settings, TECHAN_SECRET_KEY=settings.secret_key)
    return await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "techan", *args], cwd=PROJECT_ROOT,
                                   env=env, capture_output=True, text=True, timeout=120)


def complaint(result: subprocess.CompletedProcess) -> str:
    """What the command said went wrong (its last line on stderr; migration logging comes before it)."""
    return result.stderr.strip().splitlines()[-1]


async def signed_in(client, name: str, password: str = PASSWORD) -> str:
    """The session cookie of a fresh sign-in (the client's jar is emptied: each request below says who it is)."""
    response = await sign_in(client, name, password, next_path="/console")
    assert response.status == 303, await response.text()
    client.session.cookie_jar.clear()
    return response.cookies["techan_session"].value


async def queue_seen_by(client, credentials: dict) -> tuple[int, object]:
    """(status, the queue) or (status, the error said)."""
    response = await client.get("/api/handoffs", **credentials)
    body = await response.json()
    return response.status, body["handoffs"] if response.status == 200 else body["error"]


def as_cookie(token: str) -> dict:
    return {"headers": {"Cookie": f"techan_session={token}"}}


def as_bearer(token: str) -> dict:
    return {"headers": {"Authorization": f"Bearer {token}"}}


async def bearer_token(client, name: str, *extra: str) -> str:
    made = await techan(client, "staff", "token", name, *extra)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.mark.parametrize("command", ["revoke", "disable", "passwd"])
async def test_each_staff_command_ends_the_sessions_and_tokens_that_worked(client, command):
    name = f"xiaoli-{command}"
    make_account(client, name, "staff")
    cookie, token = await signed_in(client, name), await bearer_token(client, name)
    assert await queue_seen_by(client, as_cookie(cookie)) == (200, [])
    assert await queue_seen_by(client, as_bearer(token)) == (200, [])

    extra = ("--password", NEW_PASSWORD) if command == "passwd" else ()
    result = await techan(client, "staff", command, name, *extra)
    assert result.returncode == 0 and result.stdout.startswith(f"staff account {name!r} "), result.stderr

    for credentials in (as_cookie(cookie), as_bearer(token)):
        status, text = await queue_seen_by(client, credentials)
        assert status == 401 and text.startswith("sign in first")
    if command == "revoke":  # signed out, not shut out
        assert await queue_seen_by(client, as_cookie(await signed_in(client, name))) == (200, [])
    if command == "passwd":
        refused = await sign_in(client, name, PASSWORD)
        assert refused.status == 401 and error_on(await refused.text()) == "用户名或密码不对。"
        assert await queue_seen_by(client, as_cookie(await signed_in(client, name, NEW_PASSWORD))) == (200, [])


async def test_a_disabled_account_cannot_sign_in_until_enabled_and_old_access_stays_ended(client):
    make_account(client, "xiaozhao", "staff")
    cookie, token = await signed_in(client, "xiaozhao"), await bearer_token(client, "xiaozhao")
    assert (await techan(client, "staff", "disable", "xiaozhao")).returncode == 0

    guessed = await sign_in(client, "xiaozhao", "a wrong guess")  # as for a name that does not exist
    assert guessed.status == 401 and error_on(await guessed.text()) == "用户名或密码不对。"
    refused = await sign_in(client, "xiaozhao")  # the right password: told why, so they know whom to ask
    assert refused.status == 403 and error_on(await refused.text()) == (
        "这个账号已停用，请联系店主。")
    no_token = await techan(client, "staff", "token", "xiaozhao")
    assert no_token.returncode == 1 and no_token.stdout == ""
    assert complaint(no_token) == "techan staff token: account 'xiaozhao' is disabled"

    enabled = await techan(client, "staff", "enable", "xiaozhao")
    assert enabled.returncode == 0 and "enabled" in enabled.stdout
    assert await queue_seen_by(client, as_cookie(await signed_in(client, "xiaozhao"))) == (200, [])
    assert (await queue_seen_by(client, as_cookie(cookie)))[0] == 401  # enabling brings nothing old back
    assert (await queue_seen_by(client, as_bearer(token)))[0] == 401


async def test_the_cli_names_what_it_cannot_do(client):
    make_account(client, "only-owner", "owner")
    missing = await techan(client, "staff", "revoke", "nobody")
    assert missing.returncode == 1 and complaint(missing) == "techan staff revoke: no account named 'nobody'"
    last = await techan(client, "staff", "disable", "only-owner")
    assert last.returncode == 1 and complaint(last) == (
        "techan staff disable: 'only-owner' is the shop's only active owner; add another owner first")
    short = await techan(client, "staff", "passwd", "only-owner", "--password", "short")
    assert short.returncode == 1 and complaint(short).endswith("password must be at least 8 characters")
    assert await queue_seen_by(client, as_cookie(await signed_in(client, "only-owner"))) == (200, [])


async def test_logout_ends_the_session_on_the_server(client):
    make_account(client, "xiaochen", "staff")
    cookie = await signed_in(client, "xiaochen")
    page = await (await client.get("/console", **as_cookie(cookie))).text()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False, **as_cookie(cookie))
    assert out.status == 303 and out.headers["Location"] == "/login"
    status, text = await queue_seen_by(client, as_cookie(cookie))  # a copy of the cookie, replayed
    assert status == 401 and text.startswith("sign in first")
    replayed_page = await client.get("/console", allow_redirects=False, **as_cookie(cookie))
    assert replayed_page.status == 302 and replayed_page.headers["Location"] == "/login?next=/console"
    again = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False, **as_cookie(cookie))
    assert again.status == 303 and again.headers["Location"] == "/login"  # nothing left to end: just sign in
    assert again.cookies["techan_session"].value == ""
    with db_session(client.server.app[SETTINGS]) as session:
        row = session.query(StaffSession).join(StaffAccount).filter(StaffAccount.name == "xiaochen").one()
        assert row.ended_at is not None


async def test_api_tokens_live_ninety_days_at_most(client):
    make_account(client, "script", "staff")
    refused = await techan(client, "staff", "token", "script", "--days", "91")
    assert refused.returncode == 1 and refused.stdout == ""
    assert complaint(refused) == "techan staff token: --days must be 1-90 (an API token lives at most 90 days)"
    assert await queue_seen_by(client, as_bearer(await bearer_token(client, "script", "--days", "90"))) == (200, [])

    # a ten-year token, signed with the shop's secret before the cap existed, is refused too
    with db_session(client.server.app[SETTINGS]) as session:
        account = session.query(StaffAccount).filter_by(name="script").one()
        old = sign(client.server.app[SETTINGS].secret, {"sub": account.id, "v": account.token_version, "kind": "api",
                                                        "exp": int(time.time()) + 3650 * 86400})
    assert (await queue_seen_by(client, as_bearer(old)))[0] == 401


async def test_an_open_console_socket_is_closed_when_its_access_ends(client):
    make_account(client, "xiaowu", "staff")
    cookie = await signed_in(client, "xiaowu")
    ws = await client.ws_connect("/ws/staff", **as_cookie(cookie))
    assert (await ws.receive_json(timeout=5)) == {"type": "hello"}
    assert (await techan(client, "staff", "revoke", "xiaowu")).returncode == 0  # another process: the periodic check
    closing = await ws.receive(timeout=15)
    assert ws.closed and ws.close_code == 4401, closing


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def account_id(client, name: str) -> int:
    with db_session(client.server.app[SETTINGS]) as session:
        return session.query(StaffAccount).filter_by(name=name).one().id


def row_of(page: str, name: str) -> str:
    return re.search(rf'<tr data-account="{name}".*?</tr>', page, re.S).group(0)


async def test_the_owner_adds_disables_and_signs_out_staff_on_the_accounts_page(client):
    make_account(client, "laoban", "owner")
    owner = as_cookie(await signed_in(client, "laoban"))
    page = await (await client.get("/admin/accounts", **owner)).text()
    assert '<a href="/admin/accounts">账号</a>' in page and "<td>laoban（我）</td>" in page
    assert ">停用</button>" not in row_of(page, "laoban")  # not offered on one's own row
    csrf = csrf_of(page)

    added = await client.post("/admin/accounts", data={"csrf_token": csrf, "name": "xiaomei", "role": "staff",
                                                       "password": PASSWORD}, allow_redirects=False, **owner)
    assert added.status == 303
    shown = await (await client.get(added.headers["Location"], **owner)).text()
    assert "已添加账号 xiaomei。" in shown and "Account xiaomei added." not in shown
    assert '<td class="status">在用</td>' in row_of(shown, "xiaomei")
    assert 'data-confirm="停用 xiaomei？' in row_of(shown, "xiaomei")  # asked before it happens
    named = await client.post(f"/admin/accounts/{account_id(client, 'xiaomei')}/display-name",
                              data={"csrf_token": csrf, "display_name": " 小美 "}, allow_redirects=False, **owner)
    shown = await (await client.get(named.headers["Location"], **owner)).text()
    assert "顾客现在看到的是“店员 小美”。" in shown
    assert 'name="display_name" value="小美"' in row_of(shown, "xiaomei")
    too_long = await client.post(f"/admin/accounts/{account_id(client, 'xiaomei')}/display-name",
                                 data={"csrf_token": csrf, "display_name": "长" * 33}, **owner)
    assert too_long.status == 400 and "称呼最多 32 个字符。" in await too_long.text()

    for _ in range(5):  # wrong passwords in a row lock the account for a while: the owner sees it
        await sign_in(client, "xiaomei", "not the password")
    locked = row_of(await (await client.get("/admin/accounts", **owner)).text(), "xiaomei")
    assert re.search(r'<span class="locked">密码错误太多，锁定到 \d\d:\d\d</span>', locked), locked
    with db_session(client.server.app[SETTINGS]) as session:  # the lock passes; the test need not wait for it
        session.execute(update(StaffAccount).values(failed_logins=0, locked_until=None))
        session.commit()

    staff = as_cookie(await signed_in(client, "xiaomei"))
    assert await queue_seen_by(client, staff) == (200, [])
    xiaomei = account_id(client, "xiaomei")
    without_csrf = await client.post(f"/admin/accounts/{xiaomei}/disable", allow_redirects=False, **owner)
    assert without_csrf.status == 403 and await queue_seen_by(client, staff) == (200, [])
    disabled = await client.post(f"/admin/accounts/{xiaomei}/disable", data={"csrf_token": csrf},
                                 allow_redirects=False, **owner)
    shown = await (await client.get(disabled.headers["Location"], **owner)).text()
    assert "xiaomei 已停用，TA 已在所有设备上退出登录。" in shown
    row = row_of(shown, "xiaomei")
    assert '<td class="status">已停用</td>' in row and ">启用</button>" in row and ">停用</button>" not in row
    assert (await queue_seen_by(client, staff))[0] == 401
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>", row)  # when xiaomei last signed in

    await client.post(f"/admin/accounts/{xiaomei}/enable", data={"csrf_token": csrf}, **owner)
    await client.post(f"/admin/accounts/{xiaomei}/password", data={"csrf_token": csrf, "password": NEW_PASSWORD},
                      **owner)
    assert (await sign_in(client, "xiaomei", PASSWORD)).status == 401
    again = as_cookie(await signed_in(client, "xiaomei", NEW_PASSWORD))
    assert await queue_seen_by(client, again) == (200, [])
    out = await client.post(f"/admin/accounts/{xiaomei}/revoke", data={"csrf_token": csrf},
                            allow_redirects=False, **owner)
    assert out.headers["Location"] == f"/admin/accounts?done=revoke&id={xiaomei}"
    assert (await queue_seen_by(client, again))[0] == 401


async def test_the_last_active_owner_cannot_disable_or_demote_themself(client):
    make_account(client, "dianzhu", "owner")
    owner = as_cookie(await signed_in(client, "dianzhu"))
    csrf = csrf_of(await (await client.get("/admin/accounts", **owner)).text())
    me = account_id(client, "dianzhu")
    said = "dianzhu 是店里唯一在用的店主账号，请先添加另一个店主。"
    for change, extra in (("disable", {}), ("role", {"role": "staff"})):
        refused = await client.post(f"/admin/accounts/{me}/{change}", data={"csrf_token": csrf, **extra},
                                    allow_redirects=False, **owner)
        page = await refused.text()
        assert refused.status == 400 and said in page, page
        assert '<td class="role">店主</td>' in row_of(page, "dianzhu")
    assert await queue_seen_by(client, owner) == (200, [])  # still signed in, still the owner

    short = await client.post("/admin/accounts", data={"csrf_token": csrf, "name": "x", "role": "staff",
                                                       "password": "short"}, **owner)
    assert short.status == 400 and "密码至少 8 个字符。" in await short.text()


async def test_staff_cannot_open_or_use_the_accounts_page(client):
    make_account(client, "boss", "owner")
    make_account(client, "helper", "staff")
    staff = as_cookie(await signed_in(client, "helper"))
    csrf = csrf_of(await (await client.get("/console", **staff)).text())
    assert (await client.get("/admin/accounts", allow_redirects=False, **staff)).status == 403
    tried = await client.post(f"/admin/accounts/{account_id(client, 'boss')}/disable", data={"csrf_token": csrf},
                              allow_redirects=False, **staff)
    assert tried.status == 403
    with db_session(client.server.app[SETTINGS]) as session:
        assert session.query(StaffAccount).filter_by(name="boss").one().active
