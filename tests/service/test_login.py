"""Browser sign-in: hashed passwords, HttpOnly SameSite cookies, CSRF on changes, sign-in limits, equal timing."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid
from datetime import timedelta

import pytest

from techan.app import create_app
from web.keys import LIMITS, SETTINGS
from web.login import TRIES_PER_ADDRESS
from core.accounts import FREE_TRIES, LONGEST_LOCK_S, add_staff, lock_seconds
from core.db import StaffAccount, utcnow
from tests.service.conftest import db_session, migrated_demo_shop

PASSWORD = "correct horse battery"


def make_account(client, name: str, role: str) -> None:
    with db_session(client.server.app[SETTINGS]) as session:
        add_staff(session, name, role, PASSWORD)
        session.commit()


async def sign_in(client, name: str, password: str = PASSWORD, next_path: str = "/admin/kb", address: str = ""):
    """POST the sign-in form; ``address``: the client as a trusted proxy in front would name it."""
    page = await (await client.get(f"/login?next={next_path}")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    return await client.post("/login", data={"name": name, "password": password, "login_token": token,
                                             "next": next_path}, allow_redirects=False,
                             headers={"X-Forwarded-For": address} if address else {})


def error_on(page: str) -> str:
    found = re.search(r'<p class="error" role="alert">([^<]*)</p>', page)
    return found.group(1) if found else ""


@pytest.fixture
async def proxied(aiohttp_client, settings, knowledge):
    """The app behind a trusted proxy (127.0.0.1: tests name each client with X-Forwarded-For), its
    limiter holding at most 4 keys so that a flood overflows it."""
    settings = settings.model_copy(update={"trusted_proxies": "127.0.0.1", "limit_keys": 4})
    migrated_demo_shop(settings)
    return await aiohttp_client(create_app(settings, knowledge=knowledge))


def set_lock(client, name: str, **values) -> None:
    with db_session(client.server.app[SETTINGS]) as session:
        session.query(StaffAccount).filter_by(name=name).update(values)
        session.commit()


def test_passwords_are_stored_as_argon2_hashes(client):
    make_account(client, "hash-check", "staff")
    with db_session(client.server.app[SETTINGS]) as session:
        stored = session.query(StaffAccount).filter_by(name="hash-check").one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


async def test_anonymous_admin_page_goes_to_login(client):
    response = await client.get("/admin/kb", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"].startswith("/login?next=")


async def test_owner_signs_in_with_a_hardened_cookie_and_needs_csrf_to_change(client):
    make_account(client, "laoban", "owner")
    response = await sign_in(client, "laoban")
    assert response.status == 303 and response.headers["Location"] == "/admin/kb"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    page = await client.get("/admin/kb")
    html = await page.text()
    assert page.status == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    entry = {"topic": "other", "questions": ["熊猫玩偶有吗"], "answer": "有的"}
    assert (await client.put("/api/kb/entries/panda", json=entry)).status == 403
    assert (await client.put("/api/kb/entries/panda", json=entry, headers={"X-CSRF-Token": "wrong"})).status == 403
    assert (await client.put("/api/kb/entries/panda", json=entry, headers={"X-CSRF-Token": csrf})).status == 200
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    assert (await client.get("/admin/kb", allow_redirects=False)).status == 302


async def test_staff_cannot_open_the_owner_page(client):
    make_account(client, "xiaoli", "staff")
    await sign_in(client, "xiaoli")
    assert (await client.get("/admin/kb", allow_redirects=False)).status == 403


async def test_wrong_passwords_lock_the_account_for_a_while_then_the_right_one_works(client):
    make_account(client, "target", "owner")
    wrong = [await sign_in(client, "target", "wrong password") for _ in range(FREE_TRIES)]
    assert [r.status for r in wrong] == [401] * FREE_TRIES
    assert error_on(await wrong[-1].text()) == "用户名或密码不对。"

    locked = await sign_in(client, "target")  # even the right password waits now
    assert locked.status == 429 and 25 <= int(locked.headers["Retry-After"]) <= 30
    assert "techan_session" not in locked.cookies
    assert re.fullmatch(r"密码错误次数太多，这个账号暂时锁定，请 \d+ 秒后再试。", error_on(await locked.text()))

    set_lock(client, "target", locked_until=utcnow() - timedelta(seconds=1))  # the lock ran out
    again = await sign_in(client, "target", "still wrong")
    assert again.status == 401  # counted: the next lock is twice as long
    relocked = await sign_in(client, "target")
    assert relocked.status == 429 and 55 <= int(relocked.headers["Retry-After"]) <= 60
    assert "1 分钟" in error_on(await relocked.text())

    set_lock(client, "target", locked_until=utcnow() - timedelta(seconds=1))
    accepted = await sign_in(client, "target")
    assert accepted.status == 303 and accepted.headers["Location"] == "/admin/kb"
    with db_session(client.server.app[SETTINGS]) as session:
        account = session.query(StaffAccount).filter_by(name="target").one()
        assert (account.failed_logins, account.locked_until) == (0, None)  # a clean slate after a success


async def test_parallel_guesses_cannot_slip_past_the_lock(proxied):
    """Each attempt is counted before its password is checked: of twelve at once, at most the free tries get a
    check, and every password checked was counted (an attempt that loses the race is told to retry)."""
    make_account(proxied, "laoban-rush", "owner")
    rush = await asyncio.gather(*(sign_in(proxied, "laoban-rush", f"guess {i}", address=f"192.0.2.{50 + i}")
                                  for i in range(12)))
    statuses = sorted(r.status for r in rush)
    assert statuses.count(401) <= FREE_TRIES and set(statuses) <= {401, 429}, statuses
    with db_session(proxied.server.app[SETTINGS]) as session:
        assert session.query(StaffAccount).filter_by(name="laoban-rush").one().failed_logins == statuses.count(401)


def test_a_lock_doubles_but_never_passes_a_quarter_hour():
    assert [lock_seconds(n) for n in range(1, FREE_TRIES + 4)] == [0] * (FREE_TRIES - 1) + [30, 60, 120, 240]
    assert lock_seconds(FREE_TRIES + 5) == LONGEST_LOCK_S == lock_seconds(10_000) == 900


async def test_one_address_gets_a_few_tries_whatever_names_it_types(proxied):
    make_account(proxied, "laoban-addr", "owner")
    junk = [await sign_in(proxied, f"junk{i}", "guess", address="203.0.113.7") for i in range(TRIES_PER_ADDRESS)]
    assert [r.status for r in junk] == [401] * TRIES_PER_ADDRESS
    refused = await sign_in(proxied, "laoban-addr", address="203.0.113.7")  # junk names reset nothing
    assert refused.status == 429 and int(refused.headers["Retry-After"]) > 0
    assert error_on(await refused.text()).startswith("这个网络登录尝试太多，请 ")
    elsewhere = await sign_in(proxied, "laoban-addr", address="198.51.100.2")  # the owner, elsewhere: not shut out
    assert elsewhere.status == 303


async def test_a_whole_shop_signing_in_from_one_office_is_not_limited(proxied):
    """Only failed tries count against an address: a morning's sign-ins from one network are not attempts."""
    for n in range(TRIES_PER_ADDRESS + 3):
        make_account(proxied, f"dianyuan{n}", "staff")
    signed_in = [await sign_in(proxied, f"dianyuan{n}", address="203.0.113.50") for n in range(TRIES_PER_ADDRESS + 3)]
    assert [r.status for r in signed_in] == [303] * (TRIES_PER_ADDRESS + 3)
    wrong = [await sign_in(proxied, f"junk{n}", "guess", address="203.0.113.50") for n in range(TRIES_PER_ADDRESS)]
    assert [r.status for r in wrong] == [401] * TRIES_PER_ADDRESS
    refused = await sign_in(proxied, "dianyuan1", address="203.0.113.50")  # failures do count
    assert refused.status == 429 and error_on(await refused.text()).startswith("这个网络登录尝试太多")


async def test_an_account_lock_outlives_a_flood_that_overflows_the_address_store(proxied):
    make_account(proxied, "laoban-flood", "owner")
    for _ in range(FREE_TRIES):
        await sign_in(proxied, "laoban-flood", "wrong", address="203.0.113.9")
    flood = [await sign_in(proxied, uuid.uuid4().hex, "guess", address=f"192.0.2.{i}") for i in range(12)]
    assert [r.status for r in flood] == [401] * 12
    assert len(proxied.server.app[LIMITS].keys) == 4  # bounded: the oldest addresses were evicted
    assert "login:addr:203.0.113.9" not in proxied.server.app[LIMITS].keys
    still = await sign_in(proxied, "laoban-flood", address="198.51.100.3")
    assert still.status == 429 and "这个账号暂时锁定" in error_on(await still.text())


async def test_an_unknown_name_takes_as_long_as_a_known_one(proxied):
    """Both run one Argon2 verify: the time to a refusal does not tell which names exist (nor which are disabled)."""
    known = [f"known{i}" for i in range(10)]
    for name in known:
        make_account(proxied, name, "staff")
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for i, name in enumerate(known):  # interleaved, each from its own address, so neither limit kicks in
        for kind, who in (("known", name), ("unknown", f"nobody{i}")):
            started = time.perf_counter()
            response = await sign_in(proxied, who, "wrong password", address=f"198.51.100.{100 + 2 * i + (kind == 'unknown')}")
            timings[kind].append(time.perf_counter() - started)
            assert response.status == 401 and error_on(await response.text()) == "用户名或密码不对。"
    assert statistics.mean(timings["unknown"]) >= 0.5 * statistics.mean(timings["known"]), timings


async def test_forged_login_form_is_refused(client):
    make_account(client, "forged", "owner")
    response = await client.post("/login", data={"name": "forged", "password": PASSWORD, "login_token": "x.y"},
                                 allow_redirects=False)
    assert response.status == 400


# Browsers drop tabs and newlines from a Location and read "\\" as "/": each of these would leave the site.
OFF_SITE = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example",
            "/\r\n/evil.example", "\t//evil.example", " //evil.example", "\\\\evil.example", "/\\/evil.example",
            "/\u3000/evil.example", "/\x00//evil.example", "javascript:alert(1)", "/%09/x\t/"]


@pytest.mark.parametrize("target", OFF_SITE)
async def test_login_never_redirects_off_site(client, target):
    name = f"redir{uuid.uuid4().hex[:8]}"
    make_account(client, name, "owner")
    response = await sign_in(client, name, next_path=target)
    assert response.status == 303 and response.headers["Location"] == "/console"


async def test_an_encoded_next_in_the_link_is_decoded_before_it_is_judged(client):
    """/login?next=%2F%09%2Fevil.com: the form carries what the link decodes to, and that is refused."""
    make_account(client, "encoded", "owner")
    page = await (await client.get("/login?next=%2F%09%2Fevil.com")).text()
    assert re.search(r'name="next" value="/console"', page)


@pytest.mark.parametrize("target", ["/admin/kb", "/console?tab=queue", "/%2F%2Fevil.example"])
async def test_login_goes_back_to_the_page_of_this_site(client, target):
    name = f"back{uuid.uuid4().hex[:8]}"
    make_account(client, name, "owner")
    response = await sign_in(client, name, next_path=target)
    assert response.headers["Location"] == target  # "/%2F%2F…" is a path here: no browser reads it as a host
