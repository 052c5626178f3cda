"""Two headless Chromium pages (customer and staff, fake camera and microphone) on a video call, P2P and bridged."""

from __future__ import annotations

import shutil

import pytest

from tests.browser_call import (CHROMIUM, Shop, call_browser, api, open_call, receiving_video, serve_app,
                                shop_with_chat, staff_call_page, stop_app, wait_for_video)
from tests.e2e.pages import wait_until
from tests.stack import staff_token

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
        box, view = page.locator("#quality").bounding_box(), page.viewport_size
        assert 0 <= box["y"] and box["y"] + box["height"] <= view["height"] / 4  # at the top, on screen
        # (on the customer's page the word had slid below the picture, out of sight, once the call was judged)

    customer.click("#hangup")
    wait_until(staff, "document.getElementById('status').textContent.includes('通话已结束')", timeout=30_000)
    history = api(url, "GET", f"/api/conversations/{shop.conversation_id}/calls", shop.token)["calls"]
    assert history[-1]["end_reason"] == "customer_hangup" and history[-1]["connect_ms"] is not None
    transcript = api(url, "GET", f"/api/conversations/{shop.conversation_id}", shop.token)["transcript"]
    ended = [m["text"] for m in transcript if m["author"] == "system" and "通话已结束" in m["text"]]
    assert len(ended) == 1 and ended[0].startswith("视频通话已结束，通话时长 ")  # in the chat, once, with its length


def test_an_english_call_reads_in_english_on_both_sides(app_alone, browser, tmp_path):
    """Staff whose browser is in English get the call page in English (its frame, buttons and the chat's
    context), and so does an English-speaking customer; both judge the signal in English words."""
    url, data_dir, mode = app_alone
    shop = shop_with_chat(url, data_dir, f"english{mode}", f"web-call-en-{mode}")
    call, staff, customer = open_call(shop, browser, locale="en-US")
    assert staff.evaluate("document.documentElement.lang") == "en" and staff.title() == "Video call"
    assert [staff.inner_text(f"#{b}") for b in ("mute", "camera", "hangup")] == ["🎙 Mute", "📷 Camera off", "Hang up"]
    assert staff.locator(".panel h2").all_inner_texts() == ["Context", "Products mentioned"]
    assert "Reason\nBot unavailable\nSummary\nAsked: 想视频看看茶饼" in staff.inner_text(".panel dl")  # no Rasa here
    assert customer.inner_text("#join") == "Join the call"
    customer.click("#join")
    wait_for_video([staff, customer])
    for page in (staff, customer):
        wait_until(page, "window.techanCallStats && window.techanCallStats.frames > 0", timeout=30_000)
        assert page.inner_text("#quality").startswith("● Signal: ")
    staff.screenshot(path=tmp_path / f"call-staff-en-{mode}.png")
    customer.screenshot(path=tmp_path / f"call-customer-en-{mode}.png")
    customer.click("#hangup")
    wait_until(staff, "document.getElementById('status').textContent.includes('The call has ended')", timeout=30_000)


def test_a_call_opens_inside_the_customers_chat_and_gives_the_chat_back_when_it_ends(app_alone, browser, tmp_path):
    """A phone (390×844) chatting on the web: the invitation's button opens the call in a panel above the chat;
    a product staff show during the call lands in the chat below the picture, in view; when staff hang up the
    panel closes, the button says the call ended, and the chat says how long it lasted."""
    url, data_dir, mode = app_alone
    chat = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}).new_page()
    chat.goto(url + "/")
    chat.fill("#input", "想视频看看茶饼")  # no Rasa here: the chat goes to staff
    chat.press("#input", "Enter")
    sender = chat.evaluate("localStorage.getItem('techan-sender')")
    name = f"inchat{mode}"
    token = staff_token(data_dir, "staff", name)
    handoff = None
    for _ in range(100):  # bounded: the message reaches the queue within seconds
        handoff = next((h for h in api(url, "GET", "/api/handoffs", token)["handoffs"]
                        if h["customer"] == sender[:12]), None)
        if handoff:
            break
        chat.wait_for_timeout(200)
    assert handoff is not None, "the chat never reached the staff queue"
    api(url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    shop = Shop(url, name, token, handoff["conversation_id"], sender, None)
    call = api(url, "POST", f"/api/conversations/{shop.conversation_id}/calls", token, {"kind": "video"})
    staff = staff_call_page(shop, browser, call)

    join = chat.locator("a.link-button", has_text="加入视频通话")
    join.wait_for(timeout=30_000)
    wait_until(chat, "document.querySelector('a.link-button').hash.startsWith('#chat=')", timeout=15_000)
    join.click()
    assert chat.locator("#call-panel").is_visible() and len(chat.context.pages) == 1  # no new tab
    frame = chat.frame_locator("#call-frame")
    frame.locator("#join").click()
    inside = next(f for f in chat.frames if "/call/" in f.url)
    assert wait_for_video([staff, inside]), "no picture both ways with the call inside the chat"

    api(url, "POST", f"/api/conversations/{shop.conversation_id}/products", token, {"product": "beef-jerky"})
    card = chat.locator(".msg.staff .product", has_text="内蒙古风干牛肉干")
    card.wait_for(timeout=30_000)
    panel, shown = chat.locator("#call-panel").bounding_box(), card.bounding_box()
    assert panel["y"] + panel["height"] <= shown["y"] and shown["y"] + 40 <= 844  # below the picture, in view
    chat.screenshot(path=tmp_path / f"call-in-chat-{mode}.png")

    staff.click("#hangup")
    wait_until(chat, "document.getElementById('call-panel').hidden", timeout=15_000)
    ended = chat.locator("a.link-button.ended")
    assert ended.inner_text() == "通话已结束" and ended.get_attribute("href") is None  # cannot be tapped again
    line = chat.locator(".msg", has_text="视频通话已结束，通话时长")
    line.wait_for(timeout=30_000)
    assert line.count() == 1
    chat.screenshot(path=tmp_path / f"call-in-chat-ended-{mode}.png")
    chat.reload()  # the page opened again: the invitation is there, shown as ended (the line came after it)
    chat.locator(".msg", has_text="视频通话已结束，通话时长").wait_for(timeout=30_000)
    ended = chat.locator("a.link-button")
    assert ended.count() == 1 and ended.inner_text() == "通话已结束" and ended.get_attribute("href") is None
