"""A video call between two headless Chromium pages (staff and customer) through `techan serve` alone.

Shared by tests/e2e/test_browser_calls.py, tests/e2e/test_call_network.py and benchmarks/call_quality.py:
start the app (no Rasa: calls need none), open a chat that goes to staff, claim it, start a call, sign
the staff page in and let the customer join.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from techan import PROJECT_ROOT
from tests.conftest import shared_models_dir
from tests.e2e.test_browser_webchat import CHROMIUM, CHROMIUM_ARGS
from tests.stack import NO_LIMITS, WebCustomers, free_port, shop_env, staff_token, stop_process

MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "long enough password"
READY_TIMEOUT_S = 180


@contextmanager
def call_browser(extra_args: tuple[str, ...] = ()):
    """Headless Chromium with a fake camera and microphone (Chromium's test pattern, or a y4m file via extra_args)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS + MEDIA_ARGS + list(extra_args))
        try:
            yield launched
        finally:
            launched.close()


def serve_app(data_dir: Path, mode: str, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    """`techan serve` on a free port with ``data_dir``, in call mode ``mode``; its URL once /healthz answers."""
    port = free_port()
    env = {**shop_env(data_dir), "TECHAN_PORT": str(port), "TECHAN_CALL_MODE": mode,
           "TECHAN_MODELS_DIR": str(shared_models_dir()), "TECHAN_RASA_PORT": str(free_port()),
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00", "PYTHONUNBUFFERED": "1",
           "TECHAN_BOT_GRACE_S": "0",  # no Rasa, no wait for it: a customer's message goes to staff at once
           **NO_LIMITS, **(extra_env or {})}
    process = subprocess.Popen([sys.executable, "-m", "techan", "serve"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("techan serve exited before it was ready")
            time.sleep(0.5)
    stop_app(process)
    raise RuntimeError(f"techan serve was not ready in {READY_TIMEOUT_S} s")


def stop_app(process: subprocess.Popen) -> None:
    stop_process(process, seconds=30)


def api(url: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@dataclass
class Shop:
    """A staff member holding one customer's chat, ready to start calls in it."""

    url: str
    name: str
    token: str
    conversation_id: int
    sender: str
    customers: WebCustomers  # the customer's chat token, for the pass that lets their browser join


def shop_with_chat(url: str, data_dir: Path, name: str, sender: str) -> Shop:
    token = staff_token(data_dir, "staff", name)
    customers = WebCustomers(url)
    status, answer = customers.request(sender, body={"text": "想视频看看茶饼"})  # no Rasa here: goes to staff
    assert status == 200, answer
    handoff = next(h for h in api(url, "GET", "/api/handoffs", token)["handoffs"] if h["state"] == "waiting")
    api(url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    return Shop(url, name, token, handoff["conversation_id"], sender, customers)


def staff_call_page(shop: Shop, browser, call: dict, locale: str = "zh-CN"):
    """The staff member signed in on the call's page."""
    staff = browser.new_context(locale=locale).new_page()
    staff.goto(f"{shop.url}/login?next={call['staff_url']}")
    staff.fill("input[name=name]", shop.name)
    staff.fill("input[name=password]", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(f"**{call['staff_url']}", timeout=30_000)
    return staff


def open_call(shop: Shop, browser, locale: str = "zh-CN"):
    """Start a video call; staff signed in on its page, the customer's page opened (not yet joined)."""
    call = api(shop.url, "POST", f"/api/conversations/{shop.conversation_id}/calls", shop.token, {"kind": "video"})
    staff = staff_call_page(shop, browser, call, locale)
    customer = browser.new_context(locale=locale, viewport={"width": 390, "height": 800}).new_page()
    status, granted = shop.customers.request(shop.sender, "/call-pass",
                                             {"link": call["customer_url"].rsplit("/call/", 1)[1]})
    assert status == 200, granted
    customer.goto(f"{call['customer_url']}#chat={granted['pass']}")  # as the chat page opens it
    return call, staff, customer


def receiving_video(page) -> bool:
    return page.evaluate("""() => { const v = document.getElementById('remote');
        return v && v.videoWidth > 0 && v.currentTime > 0; }""")


def wait_for_video(pages, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(receiving_video(page) for page in pages):
            return True
        time.sleep(0.5)
    return False
