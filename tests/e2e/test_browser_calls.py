"""Two headless Chromium pages (customer and staff, fake camera and microphone) on a video call, P2P and bridged."""

from __future__ import annotations

import shutil

import pytest

from tests.browser_call import (CHROMIUM, call_browser, api, open_call, receiving_video, serve_app,
                                shop_with_chat, stop_app, wait_for_video)
from tests.e2e.pages import wait_until

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module", params=["p2p", "bridge"])
def app_alone(request, tmp_path_factory):
    """The app by itself (`techan serve`; calls need no Rasa) in the given call mode."""
    data_dir = tmp_path_factory.mktemp(f"calls-{request.param}")
    try:
        process, url = serve_app(data_dir, request.param)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield url, data_dir, request.param
    stop_app(process)


@pytest.fixture
def browser():
    with call_browser() as launched:
        yield launched


def test_customer_and_staff_see_each_other(app_alone, browser):
    url, data_dir, mode = app_alone
    shop = shop_with_chat(url, data_dir, f"staff{mode}", f"web-call-{mode}")
    call, staff, customer = open_call(shop, browser)
    assert call["mode"] == mode

    assert customer.locator("#controls").is_hidden()  # the call's buttons come after joining, not over "Join"
    customer.click("#join")
    wait_for_video([staff, customer])
    assert receiving_video(customer), "the customer sees no picture from the shop"
    assert receiving_video(staff), "staff see no picture from the customer"
    for page in (staff, customer):  # both pages judge the call's quality in words
        wait_until(page, "window.techanCallStats && window.techanCallStats.frames > 0", timeout=30_000)
        assert "信号" in page.inner_text("#quality")

    customer.click("#hangup")
    wait_until(staff, "document.getElementById('status').textContent.includes('通话已结束')", timeout=30_000)
    history = api(url, "GET", f"/api/conversations/{shop.conversation_id}/calls", shop.token)["calls"]
    assert history[-1]["end_reason"] == "customer_hangup" and history[-1]["connect_ms"] is not None
    transcript = api(url, "GET", f"/api/conversations/{shop.conversation_id}", shop.token)["transcript"]
    ended = [m["text"] for m in transcript if m["author"] == "system" and "通话已结束" in m["text"]]
    assert len(ended) == 1 and ended[0].startswith("视频通话已结束，通话时长 ")  # in the chat, once, with its length
