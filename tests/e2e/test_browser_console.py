"""The staff console as staff use it (real Chromium, the real stack): what they see at each step of a handoff."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.pages import wait_until
from tests.e2e.test_browser_webchat import browser  # noqa: F401 (a fixture)
from tests.stack import shop_env

PASSWORD = "long enough password"
NO_LIVE_UPDATES = "window.WebSocket = class { constructor() {} close() {} send() {} };"
# What the console asks of the browser, written down: the desktop notifications it shows (permission asked on a
# click, granted here) and the tones it starts, on top of the browser's own audio.
ALERTS_NOTED = """
window.noted = { notifications: [], asked: 0, tones: 0 };
window.Notification = class {
  constructor(title, options) { window.noted.notifications.push({ title, body: (options || {}).body }); }
  static requestPermission() { window.noted.asked += 1; window.Notification.permission = "granted";
                               return Promise.resolve("granted"); }
};
window.Notification.permission = "default";
const RealAudio = window.AudioContext;
window.AudioContext = function () {
  const audio = new RealAudio();
  const oscillator = audio.createOscillator.bind(audio);
  audio.createOscillator = () => {
    const tone = oscillator();
    const start = tone.start.bind(tone);
    tone.start = (...args) => { window.noted.tones += 1; return start(...args); };
    return tone;
  };
  return audio;
};
"""


def watch_policy(page) -> list[str]:
    """What the page's Content-Security-Policy refused (the pages run with it on, as in production)."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    return refused


def staff_console(browser, stack, *, live: bool = True, role: str = "staff", alerts_noted: bool = False,
                  locale: str = "zh-CN"):
    """A new staff member (or owner) signed in to the console (1366×900); ``live=False``: no pushed updates;
    ``alerts_noted``: the desktop notifications and tones the page makes are kept in ``window.noted``;
    ``locale``: the browser's language (the pages follow it until the reader picks one)."""
    name = f"{role}{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", role, "--password", PASSWORD],
                   env=shop_env(stack.data_dir), check=True, capture_output=True)
    page = browser.new_page(locale=locale, viewport={"width": 1366, "height": 900})
    page.refused = watch_policy(page)
    if not live:
        page.add_init_script(NO_LIVE_UPDATES)
    if alerts_noted:
        page.add_init_script(ALERTS_NOTED)
    page.goto(stack.app_url + "/console")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    english = locale.startswith("en")
    if live:
        page.wait_for_selector(f"#live:has-text('{'Live' if english else '实时'}')", timeout=30_000)
    else:
        page.wait_for_selector(f"#queue-count:has-text('{'(' if english else '（'}')", timeout=30_000)
    return page, name


def customer_page(browser, stack, locale: str = "zh-CN"):
    page = browser.new_page(locale=locale, viewport={"width": 390, "height": 844})
    page.refused = watch_policy(page)
    page.goto(stack.app_url + "/")
    return page


def customer_says(page, text: str) -> None:
    before = page.locator(".msg.bot").count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    wait_until(page, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)


def test_staff_see_a_finished_console_through_a_handoff(stack, browser, tmp_path):
    console, me = staff_console(browser, stack, alerts_noted=True)
    assert console.locator("#reply").is_hidden() and console.locator("#tools").is_hidden()  # no chat selected
    for _ in range(2):  # the first click asks for desktop notifications; later ones do not ask again
        console.locator("#queue-count").click()
    assert console.evaluate("window.noted.asked") == 1
    assert not console.title().startswith("(")

    customer = customer_page(browser, stack)
    marker = uuid.uuid4().hex[:6]
    customer_says(customer, "想给爸妈买点礼物")
    offered = customer.locator(".msg.bot").last.locator(".buttons button").first  # the occasions
    title = offered.inner_text()
    before = customer.locator(".msg.bot").count()
    offered.click()
    wait_until(customer, f"document.querySelectorAll('.msg.bot').length > {before}", timeout=30_000)
    customer_says(customer, "三百左右")
    customer.wait_for_selector(".product", timeout=30_000)  # the gift cards
    customer_says(customer, f"紫砂壶{marker}有证书吗")
    customer_says(customer, "转人工")
    customer.screenshot(path=tmp_path / "customer-waiting.png")

    entry = console.locator("#queue li", has_text=marker)
    entry.wait_for(timeout=30_000)  # pushed over the WebSocket, no reload
    wait_until(console, "document.title.startsWith('(')", timeout=30_000)  # the count in the tab title
    wait_until(console, "window.noted.notifications.length >= 1")  # a desktop notification, and a tone with it
    note = console.evaluate("window.noted.notifications.at(-1)")
    assert note["title"].startswith("新的转人工 · ") and note["body"].startswith("顾客要找店员"), note
    assert console.evaluate("window.noted.tones") >= 1
    late, _colleague = staff_console(browser, stack, live=False)  # a colleague whose page will not refresh
    late.locator("#queue li", has_text=marker).wait_for(timeout=30_000)

    entry.locator("button", has_text="接入").dblclick()  # a double-click claims once, no false error
    console.wait_for_selector("#reply:not([hidden])", timeout=30_000)
    console.locator(".notice.ok", has_text="已接入").wait_for(timeout=10_000)
    assert console.locator(".notice.error").count() == 0
    assert console.locator("#tools").is_visible()
    assert "店员接待中" in console.inner_text("#chat-title")

    transcript = console.locator("#transcript")
    assert "/request" not in transcript.inner_text() and "/inform" not in transcript.inner_text()
    assert console.locator("#transcript .tapped", has_text=title).count() == 1  # the button's title, not its payload
    cards = console.locator("#transcript .card")  # the gifts the customer was shown: picture, name, price
    assert cards.locator("strong").all_inner_texts()[:3] == customer.locator(".msg.bot .product .name").all_inner_texts()[:3]
    assert all(re.fullmatch(r"\d+(\.\d+)?元", price) for price in cards.locator(".price").all_inner_texts()[:3])
    wait_until(console, "[...document.querySelectorAll('#transcript .card img')].slice(0, 3)"
                        ".every((i) => i.complete && i.naturalWidth > 0)")
    first_time = console.locator("#transcript .who").first.inner_text().split(" · ")[-1]
    shop_now = datetime.now(ZoneInfo("Asia/Shanghai"))  # the shop's time zone, not the browser's (UTC here)
    assert first_time in {(shop_now - timedelta(minutes=m)).strftime("%H:%M") for m in range(3)}

    # what the bot did, in words on the context card (not ids and scores)
    assert "推荐了 3 件商品" in console.inner_text("#context .bot-did")

    # a product card found by name goes into the chat at any time
    console.fill("#product-name", "牛肉干")
    wait_until(console, "document.querySelectorAll('#product-options option').length === 1")
    console.fill("#product-name", "内蒙古风干牛肉干")
    console.click("#push-product button")
    console.locator(".notice.ok", has_text="已发给顾客：内蒙古风干牛肉干").wait_for(timeout=10_000)
    wait_until(customer, "[...document.querySelectorAll('.msg.staff .product .name')].some("
                         "(n) => n.textContent === '内蒙古风干牛肉干')", timeout=30_000)
    pushed = console.locator("#transcript li.staff").last  # in the console too, under the author's name
    pushed.locator(".card strong", has_text="内蒙古风干牛肉干").wait_for(timeout=30_000)
    assert pushed.locator(".who").inner_text().startswith(f"店员 {me} · ")

    # the page stays put: the header and the chat title do not scroll away with a long transcript
    assert console.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight + 1")
    title_top = console.locator("#chat-title").bounding_box()["y"]
    console.locator("#transcript").evaluate("t => t.scrollTop = t.scrollHeight")
    assert console.locator("#chat-title").bounding_box()["y"] == title_top
    console.screenshot(path=tmp_path / "console-claimed.png")

    # the colleague's page still offers 接入: pressing it says, in Chinese, that someone has it
    late.locator("#queue li", has_text=marker).locator("button", has_text="接入").click()
    problem = late.locator(".notice.error")
    problem.wait_for(timeout=10_000)
    assert problem.inner_text() == "这个对话刚被别人处理了（已被接入或已结束）"
    wait_until(late, f"document.getElementById('chat-title').textContent.includes('由 {me} 接待')",
                           timeout=10_000)
    assert late.locator("#reply").is_hidden() and late.locator("#tools").is_hidden()  # not theirs to answer
    late.screenshot(path=tmp_path / "console-colleague.png")

    # 结束服务 asks first; cancelling keeps the chat, a double-click confirms once
    console.click("#resolve")
    dialog = console.locator("#confirm")
    assert dialog.is_visible() and "结束这次服务" in dialog.inner_text()
    console.screenshot(path=tmp_path / "console-confirm.png")
    console.click("#confirm button[value=no]")
    assert dialog.is_hidden() and "店员接待中" in console.inner_text("#chat-title")
    console.dblclick("#resolve")
    console.click("#confirm-yes")
    wait_until(console, "document.getElementById('chat-title').textContent.includes('服务已结束，机器人继续接待')",
                              timeout=30_000)
    assert console.locator("#reply").is_hidden()
    customer.locator(".msg.bot .buttons button", has_text="⭐⭐⭐⭐⭐").wait_for(timeout=30_000)
    customer.wait_for_timeout(1500)  # time for a second prompt to show, if one were sent
    assert customer.locator(".msg.bot", has_text="⭐⭐⭐⭐⭐").count() == 1
    assert console.refused == late.refused == customer.refused == []  # nothing the CSP had to block


CJK = re.compile(r"[\u4e00-\u9fff]")


def page_words(page, selector: str) -> str:
    """The page's own words in ``selector``: text, placeholders, titles and labels — not the shop's data in it
    (the owner's canned replies, colleagues' names in a list) nor the language switch, which says 中文."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map((original) => {
        const root = original.cloneNode(true);
        root.querySelectorAll('nav.language, select option:not(:first-child)').forEach((e) => e.remove());
        return [root.textContent, ...[...root.querySelectorAll('[placeholder],[title],[aria-label]')].map((e) =>
          [e.placeholder, e.title, e.getAttribute('aria-label')].filter(Boolean).join(' '))].join(' ');
      }).join(' ')""", selector)


def test_an_english_speaking_staff_member_works_a_handoff_in_english(stack, browser, tmp_path):
    """A browser set to English gets the console in English at every step (the customer's words stay theirs),
    and the header's switch changes the language for good."""
    console, me = staff_console(browser, stack, locale="en-US")
    assert console.evaluate("document.documentElement.lang") == "en" and console.title() == "Staff console"
    frame = "header.bar, .queue h2, .queue summary, .queue .hint, .chat h2, #reply, #tools, #note, .context h2, #context"
    assert CJK.findall(page_words(console, frame)) == [], page_words(console, frame)
    assert console.inner_text("header.bar nav.language") == "中文 · English"  # the way back is in its own language
    console.screenshot(path=tmp_path / "console-en-empty.png")

    customer = customer_page(browser, stack, locale="en-US")
    marker = uuid.uuid4().hex[:6]
    customer_says(customer, f"How long does Pu'er keep? ({marker})")
    customer_says(customer, "I want to talk to a person")
    entry = console.locator("#queue li", has_text=marker)
    entry.wait_for(timeout=30_000)
    assert entry.locator(".title").inner_text().endswith(" · Asked for staff")
    assert entry.locator(".summary").inner_text().startswith(f"Asked: How long does Pu'er keep? ({marker})")
    assert re.fullmatch(r"Waiting \d+ (s|min)", entry.locator(".meta").inner_text())
    entry.locator("button", has_text="Claim").click()
    console.locator(".notice.ok", has_text="Claimed").wait_for(timeout=10_000)
    console.wait_for_selector("#reply:not([hidden])", timeout=30_000)
    assert console.inner_text("#chat-title").endswith(" · With staff")
    context = console.inner_text("#context")
    assert "Reason\nAsked for staff" in context and "What the bot did" in context, context
    assert re.search(r"Answered “How long does Pu'er keep\? \(" + marker + r"\)” with the entry “.+”", context), context
    authors = console.locator("#transcript .who").all_inner_texts()
    assert authors[0].startswith("Customer · ") and any(a.startswith("Bot · ") for a in authors), authors
    assert CJK.findall(page_words(console, "header.bar, .chat h2, #reply, #tools, #note, .context h2")) == []
    customer.locator(".msg", has_text=f"{me} from our staff is with you now.").wait_for(timeout=30_000)
    console.screenshot(path=tmp_path / "console-en-claimed.png")

    console.click("#resolve")
    assert console.inner_text("#confirm-text").startswith("End this chat? The customer will be asked for a rating")
    assert console.locator("#confirm button").all_inner_texts() == ["Cancel", "OK"]
    console.screenshot(path=tmp_path / "console-en-confirm.png")
    console.click("#confirm-yes")
    console.locator(".notice.ok", has_text="Chat ended").wait_for(timeout=10_000)
    wait_until(console, "document.getElementById('chat-title').textContent.endsWith('Ended; the bot is serving again')",
               timeout=30_000)

    console.click("header.bar nav.language a[lang=zh-CN]")  # 中文: the page in Chinese from now on, whatever the browser says
    console.wait_for_selector("#live:has-text('实时')", timeout=30_000)
    assert console.evaluate("document.documentElement.lang") == "zh-CN" and console.title() == "店员工作台"
    assert console.inner_text(".queue h2 >> nth=0").startswith("排队")
    console.reload()
    console.wait_for_selector("#live:has-text('实时')", timeout=30_000)
    assert console.inner_text("header.bar nav.language") == "中文 · English"
    console.screenshot(path=tmp_path / "console-zh-after-switch.png")
    assert console.refused == customer.refused == []


def test_a_staff_group_the_bot_cannot_post_to_is_told_in_the_console(stack, browser, tmp_path):
    """When /healthz says the Telegram staff group refuses the bot, the console says so in the staff member's
    language (new handoffs reach staff only there), and says nothing once the group works again."""
    failing = {"status": "degraded", "rasa": True, "processes": {},
               "telegram": {"staff_group": "failing", "staff_group_error": "Forbidden: bot was kicked"}}
    for locale, expected in (("zh-CN", "⚠ 机器人发不进 Telegram 店员群（Forbidden: bot was kicked），新的转人工只在工作台显示"),
                             ("en-US", "⚠ The bot cannot post to the Telegram staff group (Forbidden: bot was kicked); "
                                       "new handoffs show only here in the console")):
        health = {"body": failing}
        console, _me = staff_console(browser, stack, locale=locale)
        console.route("**/healthz", lambda route: route.fulfill(json=health["body"]))
        console.reload()
        console.locator("#system:not([hidden])").wait_for(timeout=30_000)
        assert console.inner_text("#system-text") == expected
        console.screenshot(path=tmp_path / f"console-group-failing-{locale}.png")
        health["body"] = {**failing, "status": "ok", "telegram": {"staff_group": "ok"}}
        wait_until(console, "document.getElementById('system').hidden", timeout=30_000)  # checked every 10 s
        console.close()


def test_an_owner_takes_a_chat_held_by_a_colleague_who_was_disabled(stack, browser, tmp_path):
    """The chat stays 「由 … 接待」 when its holder is disabled; the owner's console offers 接手, asks first, and
    then the reply box is theirs and the customer is told who took over."""
    from tests.e2e.test_stack import call
    from tests.stack import staff_token

    holder = f"away{uuid.uuid4().hex[:6]}"
    token = staff_token(stack, name=holder)
    sender = f"web-{uuid.uuid4().hex[:12]}"
    call(stack.app_url, "POST", f"/api/chat/{sender}", None, {"text": "转人工"})
    handoff = next(h for h in call(stack.app_url, "GET", "/api/handoffs", token)["handoffs"]
                   if h["customer"] == sender[:12])
    call(stack.app_url, "POST", f"/api/handoffs/{handoff['id']}/claim", token)
    subprocess.run([sys.executable, "-m", "techan", "staff", "disable", holder], check=True, capture_output=True,
                   env=stack.env)

    owner, me = staff_console(browser, stack, role="owner")
    owner.locator("#queue li", has_text=sender[:12]).click()
    wait_until(owner, f"document.getElementById('chat-title').textContent.includes('由 {holder} 接待')", timeout=15_000)
    assert owner.locator("#reply").is_hidden() and owner.locator("#take-from").is_visible()
    owner.click("#take-from")
    assert f"从 {holder} 手里接过这个对话" in owner.inner_text("#confirm")
    owner.click("#confirm-yes")
    owner.wait_for_selector("#reply:not([hidden])", timeout=15_000)
    assert owner.locator("#take-from").is_hidden() and "店员接待中" in owner.inner_text("#chat-title")
    owner.locator(".notice.ok", has_text="已接手").wait_for(timeout=10_000)
    owner.screenshot(path=tmp_path / "owner-took-over.png")
    told = [m["text"] for m in call(stack.app_url, "GET", f"/api/conversations/{handoff['conversation_id']}",
                                    token_of(stack, me))["transcript"] if m["author"] == "system"]
    assert told[-1] == f"已为您转给店员 {me}，TA 会接着为您服务。"
    assert owner.refused == []


def token_of(stack, name: str) -> str:
    return subprocess.run([sys.executable, "-m", "techan", "staff", "token", name], check=True, capture_output=True,
                          text=True, env=stack.env).stdout.strip()


# A chat bubble's own words (its text nodes), without the staff label or the buttons under it.
OWN_TEXT = "((m) => [...m.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(''))"


def test_staff_assist_offers_the_bots_answer_and_products_for_the_last_question(stack, browser, tmp_path):
    """Beside a held chat: the customer's last question (not 转人工), the bot's own answer to it and the closest
    entries and products, each put into the reply with one click; a new question from the customer refreshes it."""
    console, _me = staff_console(browser, stack)
    customer = customer_page(browser, stack)
    marker = uuid.uuid4().hex[:6]
    customer_says(customer, "熟普洱能放多久？")
    bot_answer = customer.evaluate(f"{OWN_TEXT}(document.querySelector('.msg.bot:last-of-type'))")
    customer_says(customer, f"转人工 {marker}")
    entry = console.locator("#queue li", has_text="熟普洱")
    entry.last.wait_for(timeout=30_000)
    entry.last.locator("button", has_text="接入").click()
    console.wait_for_selector("#reply:not([hidden])", timeout=30_000)

    assist = console.locator("#assist")
    assist.locator(".asked").wait_for(timeout=15_000)
    assert assist.locator(".asked").inner_text() == "顾客问：「熟普洱能放多久？」"
    first = assist.locator(".suggestions li").first
    assert first.locator(".badge").inner_text() == "推荐回答"
    assert first.locator(".text").inner_text() == bot_answer
    assert 2 <= assist.locator(".suggestions li").count() <= 3
    assert assist.locator(".cards .card").count() >= 1 and "普洱" in assist.locator(".cards .card").first.inner_text()
    console.screenshot(path=tmp_path / "console-assist.png")

    console.fill("#reply-text", "您好，")
    first.locator("button", has_text="插入").click()
    assert console.input_value("#reply-text") == "您好，\n" + bot_answer  # appended on a line of its own
    console.press("#reply-text", "Enter")
    wait_until(customer, f"[...document.querySelectorAll('.msg.staff')].some((m) => {OWN_TEXT}(m) === "
                         + json.dumps("您好，\n" + bot_answer) + ")", timeout=30_000)

    customer.fill("#input", "那寄到常州要几天？")
    customer.press("#input", "Enter")
    wait_until(console, "(document.querySelector('#assist .asked') || {}).textContent === '顾客问：「那寄到常州要几天？」'",
               timeout=30_000)
    assert "常州" in console.locator("#assist .suggestions li .text").first.inner_text()
    assert console.locator("#assist button.insert").first.is_visible()
    console.screenshot(path=tmp_path / "console-assist-new-question.png")
    assert console.refused == customer.refused == []
