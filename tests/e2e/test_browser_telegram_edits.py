"""A Telegram customer's edit as staff see it in the console (real Chromium): marked (已编辑), beside the original.

The app runs alone (tests/browser_call.py's `techan serve`, no Rasa: the customer's message goes to staff at
once), its Telegram channel pointed at a fake Bot API server on 127.0.0.1.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

from tests.browser_call import serve_app, stop_app
from tests.e2e.pages import wait_until
from tests.e2e.test_browser_console import staff_console
from tests.e2e.test_browser_webchat import browser  # noqa: F401  (the fixture)
from tests.fake_telegram import TOKEN, FakeBotAPIThread

CUSTOMER = 5550111


def shown_to_customer(fake: FakeBotAPIThread) -> list[str]:
    return fake.call(lambda api: [p["text"] for p in api.delivered("sendMessage", CUSTOMER)])


def test_staff_see_an_edited_telegram_message_marked_as_edited(tmp_path, browser):  # noqa: F811
    with FakeBotAPIThread() as fake:
        process, url = serve_app(tmp_path, "p2p", {"TECHAN_TELEGRAM_TOKEN": TOKEN,
                                                   "TECHAN_TELEGRAM_API_URL": fake.base_url})
        try:
            _update, message_id = fake.call(lambda api: api.send(CUSTOMER, text="岩茶有小包装吗"))
            deadline = time.monotonic() + 30
            while len(shown_to_customer(fake)) < 2 and time.monotonic() < deadline:  # sorry-busy and the place
                time.sleep(0.2)
            answered = shown_to_customer(fake)
            assert len(answered) == 2 and "第 1 位" in answered[1]
            fake.call(lambda api: api.edit(CUSTOMER, message_id, "岩茶有 50 克的小包装吗"))

            console, _name = staff_console(browser, SimpleNamespace(app_url=url, data_dir=tmp_path))
            console.locator("#queue li", has_text="岩茶有小包装吗").click()
            wait_until(console, "document.getElementById('transcript').textContent.includes('已编辑')",
                       timeout=30_000)
            said = console.locator("#transcript li.in span:not(.who)").all_inner_texts()
            assert said == ["岩茶有小包装吗", "(已编辑) 岩茶有 50 克的小包装吗"]
            assert shown_to_customer(fake) == answered  # the edit was not answered
            assert console.refused == []
        finally:
            stop_app(process)

