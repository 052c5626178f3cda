"""Real browsers (headless Chromium): a customer in the web chat, the owner on the knowledge-base page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.pages import wait_until

CHROMIUM = os.environ.get("TECHAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not shutil.which(CHROMIUM),
                                reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(stack, browser):
    page = browser.new_page(locale="zh-CN")
    page.goto(stack.app_url + "/")
    return page


def bot_messages(page) -> list[str]:
    return page.locator(".msg.bot").all_inner_texts()


def test_question_typed_in_the_web_chat_gets_the_kb_answer(page):
    before = len(bot_messages(page))
    page.fill("#input", "普洱茶保质期多久？")
    page.press("#input", "Enter")
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    answer = bot_messages(page)[-1]
    assert "普洱茶" in answer and "长期存放" in answer
    assert page.locator(".msg.me").last.inner_text() == "普洱茶保质期多久？"


def test_an_english_browser_gets_an_english_page_and_english_gift_cards(stack, browser):
    page = browser.new_page(locale="en-US")
    page.goto(stack.app_url + "/")
    assert page.locator("#send").inner_text() == "Send"
    assert bot_messages(page)[0].startswith("Hello! I'm the shop's assistant")
    assert page.get_attribute("#input", "placeholder") == "Type your question…"
    page.fill("#input", "hi")  # says nothing of its language: the page's decides
    page.press("#input", "Enter")
    wait_until(page, "document.querySelectorAll('.msg.bot').length > 1", timeout=30_000)
    assert bot_messages(page)[1].startswith("Hello! I'm the shop's assistant 🍵"), bot_messages(page)
    page.get_by_role("button", name="Help me choose a gift").click()
    page.wait_for_selector(".msg.bot .products", timeout=30_000)
    assert "Here are a few I picked for you:" in bot_messages(page)
    assert " · " in page.locator(".msg.bot .products").first.inner_text()  # English name beside the Chinese


def test_buttons_are_clickable_and_customer_text_is_not_html(page):
    page.fill("#input", "<img src=x onerror=window.pwned=1>火星快递量子纠缠")
    page.press("#input", "Enter")
    page.wait_for_selector(".msg.bot .buttons button", timeout=30_000)
    assert page.evaluate("window.pwned === undefined")
    assert page.locator(".msg.me img").count() == 0
    buttons = page.locator(".msg.bot .buttons button")
    count = page.locator(".msg.bot").count()
    buttons.first.click()
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {count}", timeout=30_000)
    assert buttons.first.is_disabled()


def test_owner_edits_an_answer_and_the_bot_uses_it_at_once(stack, browser, tmp_path):
    name, password = f"owner{uuid.uuid4().hex[:6]}", "tea-and-porcelain"
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", "owner", "--password", password],
                   env=stack.env, check=True, capture_output=True)
    # A customer question nobody could answer, with markup in it, waits in the owner's inbox.
    customer = f"web-{uuid.uuid4().hex[:8]}"
    stack.chat(customer, {"text": "<img src=x onerror=window.pwned=1>熊猫玩偶有卖吗"})
    stack.chat(customer, {"text": "转人工"})

    owner = browser.new_page(locale="zh-CN")
    owner.goto(stack.app_url + "/admin/kb")
    owner.fill("input[name=name]", name)
    owner.fill("input[name=password]", password)
    owner.click("button[type=submit]")
    owner.wait_for_selector("#entries tbody tr", timeout=30_000)
    topics = set(owner.locator("#entries tbody tr td:nth-child(2)").all_inner_texts())
    assert "保质期" in topics and not topics & {"shelf_life", "storage", "other"}  # topics in Chinese
    owner.wait_for_selector("#inbox li button", timeout=30_000)
    assert "熊猫玩偶有卖吗" in owner.locator("#inbox").inner_text()
    assert owner.evaluate("window.pwned === undefined") and owner.locator("#inbox img").count() == 0

    owner.locator("#inbox li").first.get_by_text("建新条目").click()
    assert owner.input_value("#e-id") == ""  # left empty: the shop names it from its product and topic
    owner.fill("#e-questions", "熊猫玩偶有卖吗\n有没有熊猫公仔")
    owner.fill("#e-answer", "有的！熊猫玩偶59元一只，成都发货。")
    owner.click("#entry-form button:has-text('保存')")
    owner.wait_for_selector("#history li", timeout=30_000)
    owner.fill("#try-q", "熊猫公仔有卖吗")
    owner.click("#try-form button")
    owner.wait_for_selector("#try-hits li", timeout=30_000)
    assert owner.input_value("#e-id") == "shop-other"
    assert owner.locator("#try-hits li").first.locator("button").inner_text() == "shop-other"

    status, body = stack.chat(f"web-{uuid.uuid4().hex[:8]}", {"text": "熊猫玩偶有卖吗"})
    assert body["replies"][0]["text"] == "有的！熊猫玩偶59元一只，成都发货。"

    # a second version, then back to the first: the two side by side first, what changed marked, asked once
    owner.fill("#e-answer", "熊猫玩偶卖完了，下周到货。")
    owner.click("#entry-form button:has-text('保存')")
    wait_until(owner, "document.querySelectorAll('#history li').length === 2", timeout=30_000)
    owner.locator("#history li", has_text="第 1 版").locator("button", has_text="恢复到这一版").click()
    assert owner.inner_text("#rollback-title") == "恢复到第 1 版？"
    assert owner.locator("#diff-now .diff-changed").all_inner_texts() == ["熊猫玩偶卖完了，下周到货。"]
    assert owner.locator("#diff-then .diff-changed").all_inner_texts() == ["有的！熊猫玩偶59元一只，成都发货。"]
    owner.set_viewport_size({"width": 1366, "height": 900})
    owner.screenshot(path=tmp_path / "kb-rollback-diff.png")
    owner.click("#rollback button[value=no]")  # cancelled: nothing changes
    assert owner.locator("#history li").count() == 2
    owner.locator("#history li", has_text="第 1 版").locator("button", has_text="恢复到这一版").click()
    owner.click("#rollback-yes")
    wait_until(owner, "document.querySelectorAll('#history li').length === 3", timeout=30_000)
    assert owner.locator("#history li").first.inner_text().startswith("第 3 版 · 恢复第 1 版 · ")  # names the one restored
    shown = owner.locator("#history li").first.inner_text().split(" · ")[3].split()[0]  # in the shop's time zone
    shop_now = datetime.now(ZoneInfo("Asia/Shanghai"))
    assert shown in {(shop_now - timedelta(minutes=m)).strftime("%H:%M") for m in range(3)}
    assert owner.input_value("#e-answer") == "有的！熊猫玩偶59元一只，成都发货。"


def test_customer_sees_staff_replies_and_rates_the_service(stack, page, tmp_path):
    """Staff join by name (「店员 小李 已接入」), their messages labelled and styled apart from the bot's."""
    from tests.e2e.test_stack import call
    from tests.stack import staff_token

    name = f"li{uuid.uuid4().hex[:6]}"
    renamed = subprocess.run([sys.executable, "-m", "techan", "staff", "rename", name, "小李"],
                             env=stack.env, capture_output=True, text=True)
    assert renamed.returncode == 1 and f"no account named {name!r}" in renamed.stderr  # a clear error, nothing made

    page.fill("#input", "转人工")
    page.press("#input", "Enter")
    wait_until(page, "document.getElementById('status').textContent.includes('转接')", timeout=30_000)
    assert page.locator(".msg.bot .buttons button", has_text="取消").last.is_visible()  # while waiting
    token = staff_token(stack, name=name)
    renamed = subprocess.run([sys.executable, "-m", "techan", "staff", "rename", name, "小李"],
                             env=stack.env, capture_output=True, text=True)
    assert renamed.returncode == 0 and renamed.stdout.strip() == f"customers now see {name!r} as '小李'"
    sender = page.evaluate("localStorage.getItem('techan-sender')")
    handoff = next(h for h in call(stack.app_url, "GET", "/api/handoffs", token)["handoffs"] if h["state"] == "waiting"
                   and call(stack.app_url, "GET", f"/api/conversations/{h['conversation_id']}", token)["transcript"][0]["text"]
                   == "转人工")
    call(stack.app_url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    call(stack.app_url, "POST", f"/api/conversations/{handoff['conversation_id']}/messages", token,
         {"text": "<b>您好</b>，我是店员小李"})
    wait_until(page, "[...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('店员小李'))",
                           timeout=30_000)
    assert page.locator(".msg.bot b").count() == 0  # staff text is text too
    assert "店员 小李 已接入，为您服务。" in bot_messages(page)
    assert page.locator(".msg.staff").all_inner_texts() == ["店员 小李\n<b>您好</b>，我是店员小李"]
    assert page.locator(".msg.staff .from").inner_text() == "店员 小李"
    assert not any(button.is_visible() for button in page.locator(".msg.bot .buttons button", has_text="取消").all())
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=tmp_path / "staff-joined.png")
    call(stack.app_url, "POST", f"/api/conversations/{handoff['conversation_id']}/resolve", token)
    stars = page.locator(".msg.bot .buttons button", has_text="⭐⭐⭐⭐⭐")
    stars.wait_for(timeout=30_000)
    stars.click()
    wait_until(page, "[...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('谢谢您的评价'))",
                           timeout=30_000)
    assert sender.startswith("web-")


def test_staff_console_and_customer_chat_end_to_end(stack, browser):
    name = f"staff{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", "staff", "--password",
                    "long enough password"], env=stack.env,
                   check=True, capture_output=True)
    console = browser.new_page(locale="zh-CN")
    console.goto(stack.app_url + "/console")
    console.fill("input[name=name]", name)
    console.fill("input[name=password]", "long enough password")
    console.click("button[type=submit]")
    console.wait_for_selector("#live:has-text('实时')", timeout=30_000)

    customer = browser.new_page(locale="zh-CN")
    customer.goto(stack.app_url + "/")
    marker = uuid.uuid4().hex[:6]
    customer.fill("#input", f'<script>window.pwned=2</script><img src=x "onerror="window.pwned=1">紫砂壶{marker}有证书吗')
    customer.press("#input", "Enter")
    customer.wait_for_selector(".msg.bot >> nth=1", timeout=30_000)
    customer.fill("#input", "转人工")
    customer.press("#input", "Enter")
    wait_until(customer, "document.getElementById('status').textContent.includes('转接')", timeout=30_000)

    entry = console.locator("#queue li", has_text=marker)  # pushed over the WebSocket, no reload
    entry.wait_for(timeout=30_000)
    entry.locator("button", has_text="接入").click()
    console.wait_for_selector("#reply:not([hidden])", timeout=30_000)
    assert console.evaluate("window.pwned === undefined") and console.locator("#transcript img").count() == 0
    assert console.locator("#transcript script").count() == 0
    assert "<script>window.pwned=2</script>" in console.locator("#transcript").inner_text()  # shown as text
    assert marker in console.locator("#context").inner_text()

    # a private note stays in the console; a canned reply is typed as /shortcut + space
    console.fill("#note-text", "顾客在问证书，注意附照片")
    console.press("#note-text", "Enter")
    console.locator("#notes li", has_text="注意附照片").wait_for(timeout=30_000)
    console.locator("#reply-text").press_sequentially("/hi ")
    assert console.input_value("#reply-text").startswith("您好！我是店员")
    console.fill("#reply-text", "")

    console.fill("#reply-text", "有的，每把壶都附证书")
    console.press("#reply-text", "Enter")
    wait_until(customer, "[...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('附证书'))",
                               timeout=30_000)
    assert not customer.locator(".msg", has_text="注意附照片").count()
    customer.fill("#input", "太好了，谢谢")
    customer.press("#input", "Enter")
    console.locator("#transcript li", has_text="太好了，谢谢").wait_for(timeout=30_000)
    console.click("#resolve")
    console.click("#confirm-yes")  # 结束服务 asks first
    stars = customer.locator(".msg.bot .buttons button", has_text="⭐⭐⭐⭐⭐")
    stars.wait_for(timeout=30_000)
    stars.click()
    wait_until(customer, "[...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('谢谢您的评价'))", timeout=30_000)


def test_tapping_not_helpful_offers_the_two_closest_questions(page):
    page.fill("#input", "运费多少钱？")
    page.press("#input", "Enter")
    bar = page.locator(".msg.bot .feedback").last
    bar.wait_for(timeout=30_000)
    assert bar.locator("button").all_inner_texts() == ["有用", "没用"]
    assert "包邮" in page.locator(".msg.bot").last.inner_text()
    count = page.locator(".msg.bot").count()
    bar.get_by_role("button", name="没用").click()
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {count}", timeout=30_000)
    sorry = page.locator(".msg.bot").last
    assert sorry.inner_text().startswith("抱歉没帮上忙。您是想问下面哪一个？也可以直接找店员。")
    titles = sorry.locator(".buttons button").all_inner_texts()
    assert len(titles) == 3 and titles[-1] == "找店员" and all(t.strip() for t in titles[:2])
    assert sorry.locator(".feedback").count() == 0
    # both disabled after one tap, the chosen one marked; the tap is no chat bubble of its own
    states = bar.locator("button").evaluate_all("bs => bs.map(b => [b.disabled, b.getAttribute('aria-pressed')])")
    assert states == [[True, "false"], [True, "true"]]
    assert page.locator(".msg.me").last.inner_text() == "运费多少钱？"


def test_a_send_whose_answer_was_lost_is_retried_as_the_same_message(stack, page):
    """The shop stored and answered the message but the answer never reached the page (the network
    dropped it): the page sends it again with the same client id and shows the one answer, no failure."""
    import json

    bodies: list[dict] = []

    def lose_the_first_answer(route) -> None:
        if route.request.method != "POST":
            return route.continue_()
        bodies.append(json.loads(route.request.post_data))
        if len(bodies) == 1:
            route.fetch()  # the shop gets it and answers...
            return route.abort("connectionreset")  # ...and the answer is lost on the way back
        return route.continue_()

    page.route("**/api/chat/*", lose_the_first_answer)
    question = "牛肉干能抽真空吗"
    page.fill("#input", question)
    page.press("#input", "Enter")
    wait_until(page, "document.querySelectorAll('.msg.bot').length > 1", timeout=60_000)
    page.wait_for_timeout(1000)  # time for a second answer to show, were there one
    assert len(bodies) == 2 and bodies[0] == bodies[1] and bodies[0]["client_id"]
    answers = bot_messages(page)[1:]  # after the greeting
    assert len(answers) == 1 and "真空" in answers[0]
    assert page.locator(".msg.notice").count() == 0 and page.locator(".msg.me.sending").count() == 0
    sender = page.evaluate("localStorage.getItem('techan-sender')")
    stored = stack.query("SELECT m.text FROM messages m JOIN conversations c ON m.conversation_id = c.id "
                         "JOIN customers u ON c.customer_id = u.id WHERE u.external_id = :sender "
                         "AND m.direction = 'in'", sender=sender)
    assert stored == [(question,)]


def test_a_second_browser_opening_the_same_sender_id_sees_nothing_and_starts_its_own_chat(stack, browser):
    """The sender id is no key: another browser that copies it (into its localStorage) is refused by the shop,
    shows none of the first customer's chat (the staff message, the call link) and starts a fresh chat."""

    from core.accounts import unsign
    from core.settings import Settings
    from tests.e2e.test_stack import call
    from tests.stack import staff_token

    first = browser.new_page(locale="zh-CN")
    first.goto(stack.app_url + "/")
    first.fill("#input", "转人工")
    first.press("#input", "Enter")
    wait_until(first, "document.getElementById('status').textContent.includes('转接')", timeout=30_000)
    sender = first.evaluate("localStorage.getItem('techan-sender')")
    token = staff_token(stack)
    handoff = next(h for h in call(stack.app_url, "GET", "/api/handoffs", token)["handoffs"]
                   if h["state"] == "waiting" and h["customer"] == sender[:12])  # the queue shows 12 characters
    conversation = handoff["conversation_id"]
    call(stack.app_url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    marker = uuid.uuid4().hex[:6]
    call(stack.app_url, "POST", f"/api/conversations/{conversation}/messages", token, {"text": f"您的取件码 {marker}"})
    video = call(stack.app_url, "POST", f"/api/conversations/{conversation}/calls", token, {"kind": "video"})
    wait_until(first, "[...document.querySelectorAll('.msg.bot a.link-button')].some(a => a.hash.startsWith('#chat='))",
               timeout=30_000)
    assert marker in first.locator(".msg.bot", has_text="取件码").inner_text()
    href = first.locator(".msg.bot a.link-button").last.get_attribute("href")
    assert href.startswith(video["customer_url"] + "#chat=")  # the page added its pass to the link
    claims = unsign(Settings(_env_file=None, data_dir=stack.data_dir).secret, href.split("#chat=", 1)[1])
    assert (claims["kind"], claims["sub"], claims["call"]) == ("web_call", sender, video["call_id"])

    second = browser.new_context(locale="zh-CN").new_page()  # another browser, told the sender id
    second.add_init_script(f"localStorage.setItem('techan-sender', {sender!r})")
    second.goto(stack.app_url + "/")
    wait_until(second, f"localStorage.getItem('techan-sender') !== {sender!r}", timeout=30_000)  # refused: fresh
    second.wait_for_timeout(3000)  # time for a poll or a push to show anything, were there any
    assert second.locator(".msg", has_text=marker).count() == 0
    assert second.locator(".msg a.link-button").count() == 0
    assert second.locator("#status").inner_text() == "智能助手在线"
    second.fill("#input", "你好")
    second.press("#input", "Enter")
    wait_until(second, "document.querySelectorAll('.msg.bot').length > 1", timeout=30_000)
    assert second.locator(".msg.notice").count() == 0 and second.locator(".msg", has_text=marker).count() == 0
    fresh = second.evaluate("localStorage.getItem('techan-sender')")
    stored = stack.query("SELECT u.external_id, m.text FROM messages m JOIN conversations c "
                         "ON m.conversation_id = c.id JOIN customers u ON c.customer_id = u.id WHERE "
                         "m.direction = 'in' AND u.external_id IN (:sender, :fresh) ORDER BY m.id",
                         sender=sender, fresh=fresh)
    assert sorted(stored) == sorted([(sender, "转人工"), (fresh, "你好")])
    call(stack.app_url, "POST", f"/api/conversations/{conversation}/resolve", token)


def test_quick_messages_of_a_new_chat_stay_in_that_chat(stack, browser):
    """A new customer's second message, sent before the first one's answer (and its token) is back, waits for
    it: both land in one chat, and nobody is told the chat started anew."""

    page = browser.new_page(locale="zh-CN")
    page.goto(stack.app_url + "/")
    for text in ("你好", "普洱茶能放多久", "寄到北京要几天"):
        page.fill("#input", text)
        page.press("#input", "Enter")
    wait_until(page, "document.querySelectorAll('.msg.bot').length >= 4", timeout=60_000)
    assert page.locator(".msg.notice").count() == 0
    # Read once the chat exists: a new page's first look at its id (unknown to the shop) may give it a fresh one
    # before the first message goes, which is not a chat started anew. Three messages under one id, below, are.
    sender = page.evaluate("localStorage.getItem('techan-sender')")
    stored = stack.query("SELECT u.external_id, m.text FROM messages m JOIN conversations c ON m.conversation_id = "
                         "c.id JOIN customers u ON c.customer_id = u.id WHERE m.direction = 'in' AND m.created_at "
                         ">= (SELECT first_seen FROM customers WHERE external_id = :sender) ORDER BY m.id",
                         sender=sender)
    assert stored == [(sender, "你好"), (sender, "普洱茶能放多久"), (sender, "寄到北京要几天")]


def test_a_double_tap_on_a_quick_question_sends_it_once(stack, browser):
    """The quick questions rest while a message is on its way: a double tap asks once, gets one answer."""
    page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    page.goto(stack.app_url + "/")
    page.locator("#suggestions button", has_text="寄到北京要几天").dblclick()
    wait_until(page, "document.querySelectorAll('.msg.bot').length >= 2", timeout=30_000)
    wait_until(page, "!document.querySelector('#suggestions button').disabled", timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.locator(".msg.me").all_inner_texts() == ["寄到北京要几天？"]
    assert len([t for t in page.locator(".msg.bot").all_inner_texts() if t.startswith("寄到北京")]) == 1


def test_a_customer_whose_cookies_were_cleared_is_told_a_new_chat_started(stack, browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(stack.app_url + "/")
    page.fill("#input", "普洱茶能放多久")
    page.press("#input", "Enter")
    wait_until(page, "document.querySelectorAll('.msg.bot').length > 1", timeout=30_000)
    sender = page.evaluate("localStorage.getItem('techan-sender')")
    context.clear_cookies()
    page.reload()
    wait_until(page, "document.querySelectorAll('.msg.notice').length > 0", timeout=30_000)
    assert page.locator(".msg.notice").all_inner_texts() == ["之前的对话无法在这里继续，已为您开始新的对话。"]
    assert page.evaluate("localStorage.getItem('techan-sender')") != sender
    fresh = browser.new_page(locale="zh-CN")  # a first visit is no "earlier chat"
    fresh.goto(stack.app_url + "/")
    fresh.wait_for_timeout(2000)
    assert fresh.locator(".msg.notice").count() == 0


def test_a_reloaded_page_shows_the_chat_so_far_and_can_still_cancel(stack, browser, tmp_path):
    """Reloading while waiting for staff: the chat so far (asked, answered, queued) comes back from the shop,
    with the 取消 button of the last message live; staff messages sent meanwhile show once."""
    page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    page.goto(stack.app_url + "/")
    for text in ("普洱茶能放多久", "转人工"):
        before = page.locator(".msg.bot").count()
        page.fill("#input", text)
        page.press("#input", "Enter")
        wait_until(page, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    wait_until(page, "document.getElementById('status').textContent.includes('转接')", timeout=30_000)
    page.wait_for_timeout(500)
    # as they were, less the 有用/没用 bar (asked once, when the answer came)
    shown = [text.replace("\n这个回答有帮助吗？\n有用\n没用", "") for text in page.locator("#messages li").all_inner_texts()]
    page.reload()
    wait_until(page, f"document.querySelectorAll('#messages li').length >= {len(shown)}", timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.locator("#messages li").all_inner_texts() == shown  # the same chat, in the same order
    assert page.locator(".msg.me").all_inner_texts() == ["普洱茶能放多久", "转人工"]
    assert "转接" in page.inner_text("#status")
    assert page.get_attribute("#input", "placeholder") == "输入您的问题…"  # one language, whole at 390 px
    page.screenshot(path=tmp_path / "reloaded-waiting.png")
    cancel = page.locator(".msg.bot").last.locator("button", has_text="取消")
    assert cancel.count() == 1 and page.locator(".msg.bot .buttons button:not([disabled])").count() == 1
    cancel.click()
    wait_until(page, "[...document.querySelectorAll('.msg.bot')].some(m => m.textContent.includes('已取消转人工'))",
               timeout=30_000)
    assert "在线" in page.inner_text("#status")

    page.fill("#input", "茶" * 3000)  # well before the limit: no counter
    assert page.locator("#counter").is_hidden()
    page.fill("#input", "茶" * 3300)  # near it: what is used of the limit
    assert page.locator("#counter").inner_text() == "3300 / 4000"
    page.fill("#input", "茶" * 5000)  # the box takes no more than the limit, and says so
    assert page.locator("#counter").inner_text() == "4000 / 4000" and "full" in page.get_attribute("#counter", "class")
    page.screenshot(path=tmp_path / "counter.png")


def test_gift_cards_sit_side_by_side_in_a_row_that_scrolls_on_a_phone(stack, browser, tmp_path):
    """Three gifts on a 390×844 phone: one row of compact cards (not three full-width cards filling the screen),
    the next one peeking in, each still tappable to ask about it."""
    page = browser.new_page(locale="zh-CN", viewport={"width": 390, "height": 844})
    page.goto(stack.app_url + "/")
    page.locator("#suggestions button", has_text="帮我挑礼物").click()  # for parents, New Year, about 300
    page.wait_for_selector(".msg.bot .products", timeout=30_000)
    row = page.locator(".msg.bot .products").last
    boxes = [card.bounding_box() for card in row.locator(".product").all()]
    assert len(boxes) == 3
    assert len({round(box["y"]) for box in boxes}) == 1  # one row
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    assert row.bounding_box()["height"] < 260  # a third of the screen at most, not a screenful
    assert row.evaluate("r => r.scrollWidth > r.clientWidth")  # the third card waits to the right, scrolled to
    assert boxes[1]["x"] < 390  # the second in view beside the first
    page.screenshot(path=tmp_path / "gift-cards-phone.png")
    first = [card.get_attribute("data-product-id") for card in row.locator(".product").all()]

    page.locator(".msg.bot .buttons button", has_text="换一批").last.click()  # three others, none shown before
    wait_until(page, "document.querySelectorAll('.msg.bot .products').length === 2", timeout=30_000)
    row = page.locator(".msg.bot .products").last
    others = [card.get_attribute("data-product-id") for card in row.locator(".product").all()]
    assert len(others) == 3 and not set(others) & set(first), (first, others)
    page.screenshot(path=tmp_path / "gift-cards-others.png")

    name = row.locator(".product .name").first.inner_text()
    before = page.locator(".msg.bot").count()
    row.locator(".product").first.dblclick()  # a double tap still asks about that product, once
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.locator(".msg.me").all_inner_texts()[-2:] == ["换一批", name]
    assert page.locator(".msg.bot").count() == before + 1


@pytest.mark.parametrize("locale, sent, answer", [
    ("zh-CN", "🍵👍", "收到 😊 还有想问的，直接打字告诉我就好。"),
    ("en-US", "🙏", "Got it 😊 If there's anything else, just type your question."),
])
def test_an_emoji_alone_gets_one_friendly_line_on_a_phone(stack, browser, tmp_path, locale, sent, answer):
    """A customer who sends only emoji sees their emoji and one friendly line back: no handoff, no "not sure"."""
    page = browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
    page.goto(stack.app_url + "/")
    before = len(bot_messages(page))
    page.fill("#input", sent)
    page.press("#input", "Enter")
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    page.wait_for_timeout(1000)  # time for a second reply to show, if one were sent
    assert bot_messages(page)[before:] == [answer]
    assert page.locator(".msg.me").last.inner_text() == sent
    assert page.locator("#status").inner_text() == ("智能助手在线" if locale == "zh-CN" else "Assistant online")
    page.screenshot(path=tmp_path / f"emoji-{locale}.png")
