"""A customer in a real browser (headless Chromium) asks the web chat and gets the shop's answer."""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("TECHAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
def page(stack):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(locale="zh-CN")
            page.goto(stack.app_url + "/")
            yield page
        finally:
            browser.close()


def bot_messages(page) -> list[str]:
    return page.locator(".msg.bot").all_inner_texts()


def test_question_typed_in_the_web_chat_gets_the_kb_answer(page):
    before = len(bot_messages(page))
    page.fill("#input", "普洱茶保质期多久？")
    page.press("#input", "Enter")
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    answer = bot_messages(page)[-1]
    assert "普洱茶" in answer and "长期存放" in answer
    assert page.locator(".msg.me").last.inner_text() == "普洱茶保质期多久？"


def test_buttons_are_clickable_and_customer_text_is_not_html(page):
    page.fill("#input", "<img src=x onerror=window.pwned=1>火星快递量子纠缠")
    page.press("#input", "Enter")
    page.wait_for_selector(".msg.bot .buttons button", timeout=30_000)
    assert page.evaluate("window.pwned === undefined")
    assert page.locator(".msg.me img").count() == 0
    buttons = page.locator(".msg.bot .buttons button")
    count = page.locator(".msg.bot").count()
    buttons.first.click()
    page.wait_for_function(f"document.querySelectorAll('.msg.bot').length > {count}", timeout=30_000)
    assert buttons.first.is_disabled()
