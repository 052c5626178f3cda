"""Browser sign-in: hashed passwords, HttpOnly SameSite cookies, CSRF on changes, rate limit."""

from __future__ import annotations

import re
import uuid

import pytest

from web.keys import SETTINGS
from core.accounts import add_staff
from core.db import StaffAccount
from tests.service.conftest import db_session

PASSWORD = "correct horse battery"


def make_account(client, name: str, role: str) -> None:
    with db_session(client.server.app[SETTINGS]) as session:
        add_staff(session, name, role, PASSWORD)
        session.commit()


async def sign_in(client, name: str, password: str = PASSWORD, next_path: str = "/admin/kb"):
    page = await (await client.get(f"/login?next={next_path}")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page).group(1)
    return await client.post("/login", data={"name": name, "password": password, "login_token": token,
                                             "next": next_path}, allow_redirects=False)


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


async def test_wrong_passwords_are_rate_limited(client):
    make_account(client, "target", "owner")
    statuses = [(await sign_in(client, "target", "wrong password")).status for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    response = await sign_in(client, "target")  # even the right password waits now
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0


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
