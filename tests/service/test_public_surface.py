"""What the open internet meets: security headers on every page, byte limits on every body, a private key file."""

from __future__ import annotations

import stat
import threading

import pytest
from sqlalchemy import func, select

from core.db import Message
from core.settings import Settings
from tests.service.conftest import db_session
from tests.service.test_route_security import app_routes, concrete
from web.keys import SETTINGS

PAGES = ["/", "/login", "/healthz", "/static/chat.js", "/call/not-a-token", "/api/handoffs"]


@pytest.mark.parametrize("path", PAGES)
async def test_every_response_carries_the_security_headers(client, path):
    response = await client.get(path, allow_redirects=False)
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and "unsafe" not in policy  # no inline script anywhere
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")  # a join link's page: none
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would be a lie


async def test_staff_pages_cannot_be_framed_and_customer_pages_only_by_telegram_and_named_sites(
        aiohttp_client, settings, knowledge):
    from techan.app import create_app
    from tests.service.conftest import migrated_demo_shop

    settings = settings.model_copy(update={"public_url": "https://shop.example",
                                           "embed_origins": "https://tea.example"})
    migrated_demo_shop(settings)
    client = await aiohttp_client(create_app(settings, knowledge=knowledge))
    login = await client.get("/login")
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Frame-Options"] == "DENY"
    chat = await client.get("/")
    assert "frame-ancestors 'self' https://web.telegram.org https://tea.example" in chat.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in chat.headers
    assert chat.headers["Strict-Transport-Security"].startswith("max-age=")  # the public URL is HTTPS


async def chunked(size: int):
    """A body sent in pieces without Content-Length (what `Transfer-Encoding: chunked` allows)."""
    piece = b'{"text": "' + b"a" * 1000
    sent = 0
    yield piece
    sent += len(piece)
    while sent < size:
        yield b"a" * 4096
        sent += 4096
    yield b'"}'


async def test_a_chunked_body_over_the_web_chat_limit_is_refused_and_nothing_is_stored(client):
    response = await client.post("/api/chat/web-flood", data=chunked(200 * 1024),
                                 headers={"Content-Type": "application/json"})
    body = await response.json()
    assert response.status == 413 and "64 KB" in body["error"] and "上限" in body["error"]
    with db_session(client.server.app[SETTINGS]) as session:
        assert session.scalar(select(func.count(Message.id))) == 0


async def test_a_declared_body_over_the_web_chat_limit_is_refused_in_words(client):
    response = await client.post("/api/chat/web-big", data=b'{"text": "' + b"a" * (100 * 1024) + b'"}',
                                 headers={"Content-Type": "application/json"})
    body = await response.json()
    assert response.status == 413 and "64 KB" in body["error"] and "上限" in body["error"]


@pytest.mark.parametrize("path, size, kind", [("/login", 20 * 1024, "application/x-www-form-urlencoded"),
                                              ("/api/chat/web-big/messages/read", 80 * 1024, "application/json")])
async def test_public_routes_read_a_small_body_at_most(client, path, size, kind):
    await client.post("/api/chat/web-big", json={"text": "你好"})  # the chat's token (a cookie) lets it read at all
    response = await client.post(path, data=chunked(size), headers={"Content-Type": kind})
    assert response.status == 413, (path, response.status)


async def test_every_public_post_route_has_a_limit_below_the_signed_in_one(client, settings):
    """A new public route falls under the default limit (64 KB) unless it is listed on purpose."""
    from techan.app import BODY_LIMITS, MAX_BODY_BYTES, PUBLIC_BODY_BYTES
    from tests.service.test_route_security import CHAT_TOKEN, PUBLIC

    for method, path in PUBLIC | CHAT_TOKEN:  # a chat token is had for the asking: as public as the chat
        if method != "POST":
            continue
        concrete_path = concrete(path)
        limit = next((size for prefix, size in BODY_LIMITS if concrete_path.startswith(prefix)), PUBLIC_BODY_BYTES)
        assert limit < MAX_BODY_BYTES, (path, limit)
    assert ("POST", "/webhook") in app_routes(settings)


def test_the_secret_key_is_made_once_privately_even_by_two_processes_at_once(tmp_path):
    """Twenty fresh shops, each started by two processes at the same moment: one key each, mode 0600, dir 0700."""
    for number in range(20):
        data_dir = tmp_path / f"shop{number}"
        first, second = (Settings(_env_file=None, data_dir=data_dir) for _ in range(2))
        keys: list[str] = []
        start = threading.Barrier(2)

        def read(settings: Settings) -> None:
            start.wait()
            keys.append(settings.secret)

        threads = [threading.Thread(target=read, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(keys) == 2 and keys[0] == keys[1] and len(keys[0]) >= 40
        key_file = data_dir / "secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary file left behind
