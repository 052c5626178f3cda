"""Two headless Chromium pages (customer and staff, fake camera and microphone) on a video call, P2P and bridged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from techan import PROJECT_ROOT
from tests.conftest import shared_models_dir
from tests.e2e.pages import wait_until
from tests.e2e.test_browser_webchat import CHROMIUM, CHROMIUM_ARGS
from tests.stack import free_port, staff_token

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
MEDIA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
              "--autoplay-policy=no-user-gesture-required"]
PASSWORD = "long enough password"


@pytest.fixture(scope="module", params=["p2p", "bridge"])
def app_alone(request, tmp_path_factory):
    """The app by itself (`techan serve`; calls need no Rasa) in the given call mode."""
    data_dir, port = tmp_path_factory.mktemp(f"calls-{request.param}"), free_port()
    env = {**os.environ, "TECHAN_DATA_DIR": str(data_dir), "TECHAN_PORT": str(port), "TECHAN_CALL_MODE": request.param,
           "TECHAN_MODELS_DIR": str(shared_models_dir()), "TECHAN_RASA_PORT": str(free_port()),
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00", "PYTHONUNBUFFERED": "1",
           "TECHAN_BOT_GRACE_S": "0"}  # no Rasa, no wait for it: a customer's message goes to staff at once
    process = subprocess.Popen([sys.executable, "-m", "techan", "serve"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                break
        except OSError:
            if process.poll() is not None:
                pytest.fail("techan serve exited before it was ready")
            time.sleep(0.5)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail("techan serve was not ready in 180 s")
    yield url, data_dir, request.param
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def api(url: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url + path, method=method, headers=headers,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + MEDIA_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def receiving_video(page) -> bool:
    return page.evaluate("""() => { const v = document.getElementById('remote');
        return v && v.videoWidth > 0 && v.currentTime > 0; }""")


def test_customer_and_staff_see_each_other(app_alone, browser):
    url, data_dir, mode = app_alone
    name = f"staff{mode}"
    token = staff_token(data_dir, "staff", name)
    sender = f"web-call-{mode}"
    api(url, "POST", f"/api/chat/{sender}", body={"text": "想视频看看茶饼"})  # no Rasa here: goes to staff
    handoff = next(h for h in api(url, "GET", "/api/handoffs", token)["handoffs"] if h["state"] == "waiting")
    api(url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    call = api(url, "POST", f"/api/conversations/{handoff['conversation_id']}/calls", token, {"kind": "video"})
    assert call["mode"] == mode

    staff = browser.new_context(locale="zh-CN").new_page()
    staff.goto(f"{url}/login?next={call['staff_url']}")
    staff.fill("input[name=name]", name)
    staff.fill("input[name=password]", PASSWORD)
    staff.click("button[type=submit]")
    staff.wait_for_url(f"**{call['staff_url']}", timeout=30_000)

    customer = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 800}).new_page()
    customer.goto(call["customer_url"])
    customer.click("#join")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (receiving_video(staff) and receiving_video(customer)):
        time.sleep(0.5)
    assert receiving_video(customer), "the customer sees no picture from the shop"
    assert receiving_video(staff), "staff see no picture from the customer"
    wait_until(staff, "window.techanCallStats && window.techanCallStats.frames > 0", timeout=30_000)
    assert "信号" in staff.inner_text("#quality")

    customer.click("#hangup")
    wait_until(staff, "document.getElementById('status').textContent.includes('通话已结束')", timeout=30_000)
    history = api(url, "GET", f"/api/conversations/{handoff['conversation_id']}/calls", token)["calls"]
    assert history[-1]["end_reason"] == "customer_hangup" and history[-1]["connect_ms"] is not None
