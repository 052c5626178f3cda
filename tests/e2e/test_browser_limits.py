"""A customer over the web chat's rate limit, in a real browser: the shop's notice once, the send button
resting until Retry-After, one note of the page's own for a message sent anyway, and every message stored.

The app runs alone (tests/browser_call.py's `techan serve`, no Rasa: a message over a limit never reaches
the bot, and the others go to staff at once), with a limit of two messages a minute per customer.
"""

from __future__ import annotations

import json
import re
import urllib.request
from types import SimpleNamespace

import pytest

from tests.browser_call import serve_app, stop_app
from tests.stack import query
from tests.e2e.pages import wait_until
from tests.e2e.test_browser_console import staff_console
from tests.e2e.test_browser_webchat import browser  # noqa: F401  (the fixture)

FAST = r"您发得有点快，请 (2[6-9]|30) 秒后再发。这条消息已经记下了。"  # 30 s a message, less the seconds gone
PAGE_NOTE = "消息已收到，请稍等一会儿再发。"


@pytest.fixture
def app(tmp_path):
    process, url = serve_app(tmp_path, "p2p", {"TECHAN_LIMIT_CUSTOMER_PER_MINUTE": "2"})
    try:
        yield url, tmp_path
    finally:
        stop_app(process)


def test_over_the_limit_the_page_shows_the_notice_once_and_rests_the_send_button(app, browser):  # noqa: F811
    url, data_dir = app
    page = browser.new_page(locale="zh-CN")
    page.goto(url + "/")
    for text in ("普洱茶保质期多久？", "是生茶"):  # two a minute: to staff (no bot here), then kept for them
        page.fill("#input", text)
        page.press("#input", "Enter")
        page.wait_for_timeout(300)
        wait_until(page, "!document.getElementById('send').disabled")
    page.fill("#input", "在吗")
    page.press("#input", "Enter")
    wait_until(page, "[...document.querySelectorAll('.msg.bot')].some((m) => m.innerText.startsWith('您发得有点快'))")
    notice = page.locator(".msg.bot").last.inner_text()
    assert re.fullmatch(FAST, notice), notice
    assert page.locator("#send").is_disabled()
    assert page.locator(".msg.notice").count() == 0  # the shop said it: nothing of the page's own yet
    page.fill("#input", "快回答")
    page.press("#input", "Enter")  # sent anyway: kept, and the page notes it once
    wait_until(page, "document.querySelectorAll('.msg.notice').length === 1")
    page.wait_for_timeout(500)
    assert page.locator(".msg.notice").all_inner_texts() == [PAGE_NOTE]
    assert sum(bool(re.fullmatch(FAST, text)) for text in page.locator(".msg.bot").all_inner_texts()) == 1
    sender = page.evaluate("localStorage.getItem('techan-sender')")
    stored = query(data_dir, "SELECT m.text, m.delivery_status FROM messages m JOIN conversations c "
                   "ON m.conversation_id = c.id JOIN customers u ON c.customer_id = u.id "
                   "WHERE u.external_id = :sender AND m.direction = 'in' ORDER BY m.id", sender=sender)
    assert stored == [("普洱茶保质期多久？", "received"), ("是生茶", "received"), ("在吗", "limited"),
                      ("快回答", "limited")]


@pytest.fixture
def flooded_app(tmp_path):
    """Two new chats an hour per address, behind a trusted proxy (the test names each client's address)."""
    process, url = serve_app(tmp_path, "p2p", {"TECHAN_LIMIT_NEW_CUSTOMERS_PER_HOUR": "2",
                                               "TECHAN_TRUSTED_PROXIES": "127.0.0.1"})
    try:
        yield SimpleNamespace(app_url=url, data_dir=tmp_path)
    finally:
        stop_app(process)


def chat_from(url: str, sender: str, address: str, text: str) -> dict:
    """One web chat message from ``address`` (each sender a new chat, as a flood makes them)."""
    request = urllib.request.Request(f"{url}/api/chat/{sender}", data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json", "X-Forwarded-For": address})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_a_flood_s_requests_for_staff_are_set_aside_in_the_console(flooded_app, browser):  # noqa: F811
    """Staff see the honest customer in the queue (the tab title counts them alone) and the flood's chats apart,
    under 暂缓, where one can still be claimed."""
    url = flooded_app.app_url
    for number in range(3):  # the third new chat from one address spends its limit: the two waiting are set aside
        chat_from(url, f"web-flood{number}", "203.0.113.66", "转人工")
    honest = chat_from(url, "web-honest", "198.51.100.20", "普洱茶保质期多久？我想找店员问问")
    assert any("第 1 位" in reply["text"] for reply in honest["replies"]), honest["replies"]
    console, _name = staff_console(browser, flooded_app)
    wait_until(console, "document.querySelectorAll('#set-aside li').length === 2")
    assert [text.split(" · ")[0] for text in console.locator("#queue li .title").all_inner_texts()] == ["web-honest"]
    assert console.locator("#queue-count").inner_text() == "（1）"
    assert console.title().startswith("(1) ")
    assert console.locator("#set-aside-count").inner_text() == "（2）"
    console.locator("#set-aside-box summary").click()
    assert [text.split(" · ")[0] for text in console.locator("#set-aside li .title").all_inner_texts()] == [
        "web-flood0", "web-flood1"]
    console.screenshot(path=flooded_app.data_dir / "console-set-aside.png")
    console.locator("#set-aside li", has_text="web-flood1").locator("button", has_text="接入").click()
    wait_until(console, "document.querySelectorAll('#set-aside li button').length === 1")
    assert "由 " in console.locator("#set-aside li", has_text="web-flood1").locator(".meta").inner_text()
    assert console.refused == []
