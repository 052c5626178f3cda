"""Every route of the app is either public on purpose, or refuses anonymous callers and the wrong role.

The route list comes from the app itself, so a new route that forgets its check fails here.
"""

from __future__ import annotations

import re

import pytest

from handoff.channels.webchat import NOT_YOU_TEXT
from techan.app import create_app
from tests.service.test_kb_admin import bearer

# Reachable without signing in, each for a reason.
PUBLIC = {
    ("GET", "/"), ("POST", "/api/chat/{sender}"),  # the customer's chat; a new sender id's first message
    ("GET", "/healthz"), ("GET", "/media/{name}"),  # unguessable picture names
    ("GET", "/media/{folder}/{name}"),  # the catalog's pictures, shown on product cards
    ("POST", "/webhook"),  # Rasa's action calls: checked against the shared token instead
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
    ("GET", "/language/{language}"),  # the staff pages' 中文 · English switch: a cookie, then back to a page
    ("POST", "/telegram/webhook"),  # Telegram's updates: checked against the webhook secret instead
    ("GET", "/call/{token}"), ("GET", "/ws/call/{call_id}"),  # a signed single-use link, or staff sign-in, on join
    ("GET", "/static/call.js"), ("GET", "/static/call.css"),  # the call pages' files (public, as every /static/ file)
    ("GET", "/favicon.ico"),
}
# The web customer's own: their chat token (cookie or X-Chat-Token), not a staff sign-in.
CHAT_TOKEN = {
    ("GET", "/api/chat/{sender}/messages"), ("POST", "/api/chat/{sender}/messages/read"),  # what the page shows
    ("GET", "/ws/chat/{sender}"), ("POST", "/api/chat/{sender}/call-pass"),  # its pushes; joining a call
    ("GET", "/api/chat/{sender}/history"),  # the chat so far, for a reopened page
}
OWNER_ONLY = re.compile(r"^\w+ (/admin/|/api/kb/|/api/catalog/|/api/metrics)|^(POST|PUT|DELETE) /api/canned")


def app_routes(settings) -> list[tuple[str, str]]:
    app = create_app(settings)
    routes = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "*") or path is None:  # static files have a prefix, not a path
            continue
        routes.add((route.method, path))
    return sorted(routes)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def guarded(settings) -> list[tuple[str, str]]:
    return [route for route in app_routes(settings) if route not in PUBLIC | CHAT_TOKEN]


def test_the_public_list_names_real_routes(settings):
    assert PUBLIC <= set(app_routes(settings)), "a public route was renamed: update PUBLIC"
    assert CHAT_TOKEN <= set(app_routes(settings)), "a web customer's route was renamed: update CHAT_TOKEN"
    assert len(guarded(settings)) >= 25  # the enumeration really found the API


async def test_every_other_route_refuses_anonymous_callers(client, settings):
    for method, path in guarded(settings):
        response = await client.request(method, concrete(path), allow_redirects=False)
        if response.status == 302:  # pages send the browser to sign in
            assert response.headers["Location"].startswith("/login?next="), (method, path)
        else:
            assert response.status == 401, (method, path, response.status)


async def test_a_web_customers_routes_refuse_anyone_without_their_chat_token(client):
    """Anonymous callers, staff, and the holder of another customer's token: 401, in both languages."""
    staff = bearer(client, "xiaoli", "staff")
    other = (await (await client.post("/api/chat/web-other", json={"text": "你好"})).json())["chat_token"]
    await client.post("/api/chat/web-mine", json={"text": "你好"})
    client.session.cookie_jar.clear()
    for headers in ({}, staff, {"X-Chat-Token": other}):
        for method, path in sorted(CHAT_TOKEN):
            response = await client.request(method, path.replace("{sender}", "web-mine"), headers=headers,
                                            json={"upto": 1, "link": "x"})
            assert response.status == 401, (method, path, headers, response.status)
            said = (await response.json())["error"] if path.startswith("/api/") else await response.text()
            assert said == NOT_YOU_TEXT and "只能在开始它的浏览器里继续" in said and "only in the browser" in said


async def test_owner_routes_refuse_staff_and_staff_routes_admit_them(client, settings):
    staff = bearer(client, "xiaoli", "staff")
    for method, path in guarded(settings):
        response = await client.request(method, concrete(path), headers=staff, allow_redirects=False)
        if OWNER_ONLY.search(f"{method} {path}"):
            assert response.status == 403, (method, path, response.status)
        else:
            assert response.status not in (401, 403), (method, path, response.status)


@pytest.mark.parametrize("forged", ["Bearer x.y", "Bearer ", "Basic b3duZXI6b3duZXI="])
async def test_forged_credentials_are_anonymous(client, settings, forged):
    for method, path in guarded(settings):
        response = await client.request(method, concrete(path), headers={"Authorization": forged},
                                        allow_redirects=False)
        assert response.status in (302, 401), (method, path, response.status)
