"""A customer over the web chat's rate limit, in a real browser: the shop's notice once, the send button
resting until Retry-After, one note of the page's own for a message sent anyway, and every message stored.

The app runs alone (tests/browser_call.py's `techan serve`, no Rasa: a message over a limit never reaches
the bot, and the others go to staff at once), with a limit of two messages a minute per customer.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.browser_call import serve_app, stop_app
from tests.e2e.pages import wait_until
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
    with sqlite3.connect(data_dir / "techan.db") as db:
        stored = db.execute("SELECT m.text, m.delivery_status FROM messages m JOIN conversations c "
                            "ON m.conversation_id = c.id JOIN customers u ON c.customer_id = u.id "
                            "WHERE u.external_id = ? AND m.direction = 'in' ORDER BY m.id", (sender,)).fetchall()
    assert stored == [("普洱茶保质期多久？", "received"), ("是生茶", "received"), ("在吗", "limited"),
                      ("快回答", "limited")]
