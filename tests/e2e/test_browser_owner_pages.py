"""The owner's pages in a real browser (the real stack): metrics as totals and charts drawn by the app's own copy
of Chart.js, with Chinese labels, showing what is stored; the knowledge base's editor beside its list."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from core.db import Call, Conversation, Customer, Handoff
from core.settings import Settings
from tests.e2e.pages import wait_until
from tests.e2e.test_browser_console import customer_page, customer_says, staff_console
from tests.e2e.test_browser_webchat import browser  # noqa: F401 (a fixture)
from tests.stack import shop_database_url

SHOP = ZoneInfo("Asia/Shanghai")
CHARTS = ("chart-conversations", "chart-handoffs", "chart-times", "chart-service")


def seed_a_past_day(stack, days_ago: int) -> str:
    """At noon (shop time) ``days_ago`` days back: four chats, three handed to staff for three reasons (waits of
    3 and 1 minutes, one handled in 10, ratings 5 and 3), one answered by the bot; two calls, one connected.
    Returns the day as the charts label it (MM/DD)."""
    day = datetime.now(SHOP).date() - timedelta(days=days_ago)
    noon = datetime.combine(day, time(12), SHOP).astimezone(ZoneInfo("UTC"))
    settings = Settings(_env_file=None, data_dir=stack.data_dir, database_url=shop_database_url(stack.data_dir))
    engine = create_engine(settings.sqlalchemy_url)
    try:
        with Session(engine) as session:
            chats = []
            for _ in range(4):
                customer = Customer(channel="web", external_id=f"web-metrics-{uuid.uuid4().hex[:8]}")
                session.add(customer)
                session.flush()
                chats.append(Conversation(customer_id=customer.id, channel="web", state="bot", created_at=noon))
            session.add_all(chats)
            session.flush()
            session.add_all([
                Handoff(conversation_id=chats[0].id, reason="customer_request", created_at=noon,
                        claimed_at=noon + timedelta(minutes=3), ended_at=noon + timedelta(minutes=13),
                        ended_by="staff", rating=5),
                Handoff(conversation_id=chats[1].id, reason="low_confidence", created_at=noon,
                        claimed_at=noon + timedelta(minutes=1), ended_at=noon + timedelta(minutes=20),
                        ended_by="customer", rating=3),
                Handoff(conversation_id=chats[2].id, reason="bot_unavailable", created_at=noon,
                        ended_at=noon + timedelta(minutes=5), ended_by="customer"),  # cancelled while waiting
                Call(conversation_id=chats[0].id, kind="video", mode="p2p", started_by="seed", token_nonce="a",
                     created_at=noon, connect_ms=400, ended_at=noon + timedelta(minutes=8), end_reason="staff_hangup"),
                Call(conversation_id=chats[0].id, kind="voice", mode="p2p", started_by="seed", token_nonce="b",
                     created_at=noon, ended_at=noon + timedelta(minutes=9), end_reason="customer_dropped"),
            ])
            session.commit()
    finally:
        engine.dispose()
    return day.strftime("%m/%d")


def charted(page, chart_id: str, label: str) -> dict[str, float | None]:
    """What the chart shows for one day: each dataset's label and its value on that day."""
    return page.evaluate("""([id, day]) => {
        const chart = Chart.getChart(document.getElementById(id));
        const at = chart.data.labels.indexOf(day);
        return Object.fromEntries(chart.data.datasets.map((set) => [set.label, at < 0 ? "no such day" : set.data[at]]));
    }""", [chart_id, label])


def test_the_owner_sees_the_periods_totals_and_charts_of_what_is_stored(stack, browser, tmp_path):  # noqa: F811
    label = seed_a_past_day(stack, 3)
    owner, _name = staff_console(browser, stack, live=False, role="owner")
    asked_for: list[str] = []
    owner.on("request", lambda request: asked_for.append(request.url))
    owner.goto(stack.app_url + "/admin/metrics?days=7")
    wait_until(owner, "window.Chart && " + " && ".join(f"Chart.getChart(document.getElementById('{c}'))"
                                                      for c in CHARTS), timeout=15_000)

    assert charted(owner, "chart-conversations", label) == {"机器人解决": 1, "没解决（转人工、点“没用”或重复问）": 3}
    assert charted(owner, "chart-handoffs", label) == {
        "顾客要找店员": 1, "顾客要视频看货": 0, "两次没答上": 1, "机器人不可用": 1, "店员主动接手": 0}
    assert charted(owner, "chart-times", label) == {"等店员（分钟）": 2, "处理（分钟）": 10}
    assert charted(owner, "chart-service", label) == {"满意度": 4, "通话接通": 1, "通话没接通": 1}
    days = owner.evaluate("Chart.getChart(document.getElementById('chart-conversations')).data.labels")
    assert len(days) == 7 and days.index(label) == 3  # oldest first: three days back is the fourth of seven

    api = owner.evaluate("fetch('/api/metrics?days=7').then((response) => response.json())")
    period = api["period"]
    assert period["handoffs"]["customer_request"] >= 1 and period["calls"] >= 2
    totals = {box: owner.inner_text(f"#{box}") for box in (
        "total-conversations", "total-handoffs", "total-calls", "resolved-rate")}
    assert totals == {"total-conversations": str(period["conversations"]),
                      "total-handoffs": str(sum(period["handoffs"].values())),
                      "total-calls": f"{period['calls_connected']} / {period['calls']}",
                      "resolved-rate": f"{round(period['resolved_by_bot_rate'] * 100)}%"}
    assert f"两次没答上 {period['handoffs']['low_confidence']}" in owner.inner_text("#totals")
    assert not owner.locator("#metrics").is_visible()  # the day-by-day table is folded under the charts
    owner.click("#by-day summary")
    assert owner.locator(f"#metrics tr[data-day='{datetime.now(SHOP).date() - timedelta(days=3)}']").is_visible()
    assert "转人工 · 两次没答上" in owner.inner_text("#metrics thead")
    owner.screenshot(path=tmp_path / "metrics.png", full_page=True)

    assert [url for url in asked_for if not url.startswith(stack.app_url)] == []  # no CDN: the app serves it
    assert any(url.endswith("/static/vendor/chart.umd.min.js") for url in asked_for)
    assert owner.refused == []


def test_the_knowledge_bases_editor_opens_beside_the_list_where_the_owner_clicked(stack, browser, tmp_path):  # noqa: F811
    owner, _name = staff_console(browser, stack, live=False, role="owner")
    owner.goto(stack.app_url + "/admin/kb")
    owner.wait_for_selector("#entries tbody tr", timeout=30_000)
    assert owner.locator("#editor").is_hidden()
    row = owner.locator("#entries tbody tr").nth(120)  # far down the list
    row.scroll_into_view_if_needed()
    entry_id = row.get_attribute("data-entry")
    row.click()
    wait_until(owner, f"document.getElementById('e-title').textContent === {entry_id!r}", timeout=15_000)
    table, editor = owner.locator("#entries").bounding_box(), owner.locator("#editor").bounding_box()
    assert editor["x"] >= table["x"] + table["width"]  # beside the list, not below it
    assert 0 <= editor["y"] and editor["y"] + 200 <= 900  # in view where the owner is, no scrolling to find it
    assert row.get_attribute("class") == "active" and owner.locator("#entries tr.active").count() == 1
    stored = owner.evaluate(f"fetch('/api/kb/entries/{entry_id}').then((response) => response.json())")
    assert owner.input_value("#e-questions") == "\n".join(stored["entry"]["questions"])
    owner.screenshot(path=tmp_path / "kb-editor-beside.png")
    owner.click("#e-close")
    assert owner.locator("#editor").is_hidden()
    assert owner.locator("#entries").bounding_box()["width"] > table["width"]  # the list has the page again


def last_reply(page) -> tuple[str, list[str]]:
    """The bot's last bubble as the customer reads it, and the pictures of the cards under it."""
    reply = page.locator(".msg.bot").last
    return reply.inner_text(), [img.get_attribute("src") for img in page.locator(".product img").all()[-3:]]


def test_the_owner_edits_a_product_with_a_photo_and_customers_see_it_at_once_until_rolled_back(stack, browser, tmp_path):  # noqa: F811
    """Price, stock and a phone photo changed on /admin/catalog: the next answer in Chinese and in English quotes the
    new price with the new picture on its card; the history's side-by-side look marks the price, and the restore
    brings the old one back for customers too. Ends as it began (the shared stack's later tests ask about it)."""
    from tests.service.test_catalog_admin import picture

    owner, _name = staff_console(browser, stack, live=False, role="owner")
    owner.goto(stack.app_url + "/admin/catalog")
    owner.wait_for_selector("#products tbody tr", timeout=30_000)
    assert owner.locator("#products tbody tr").count() == 49
    wait_until(owner, "[...document.querySelectorAll('#products img.thumb')].every((i) => i.complete && i.naturalWidth > 0)")
    thumbs = owner.evaluate("[...document.querySelectorAll('#products img.thumb')].map((i) => i.getAttribute('src'))")
    assert len(set(thumbs)) == 49  # a picture of its own each
    owner.screenshot(path=tmp_path / "catalog-list.png")

    owner.fill("#f-q", "普洱生茶")
    assert owner.locator("#products tbody tr").count() == 1
    owner.locator("#products tbody tr").first.click()
    wait_until(owner, "document.getElementById('e-title').textContent === '勐海古树普洱生茶饼'")
    table, editor = owner.locator("#products").bounding_box(), owner.locator("#editor").bounding_box()
    assert editor["x"] >= table["x"] + table["width"] and editor["y"] + 200 <= 900  # beside the list, in view
    assert owner.input_value("#e-price") == "398.00"
    assert owner.is_checked('input[name="recipients"][value="elder"]')

    photo = tmp_path / "phone-photo.jpg"
    photo.write_bytes(picture((1600, 1200), orientation=6))
    owner.set_input_files("#e-file", str(photo))
    wait_until(owner, "document.getElementById('e-picture-note').textContent.includes('已上传')")
    uploaded = owner.get_attribute("#e-picture", "src")
    assert uploaded.startswith("/media/products/")
    owner.fill("#e-price", "")
    owner.click("#e-save")
    assert owner.inner_text("#e-error") == "请填写价格（0 或以上的数字）"  # in Chinese, in the page
    owner.fill("#e-price", "428")
    owner.fill("#e-stock", "7")
    owner.uncheck('input[name="recipients"][value="elder"]')
    owner.fill("#e-tags", owner.input_value("#e-tags") + "，限量")
    owner.click("#e-save")
    wait_until(owner, "document.querySelector('#history li') && document.querySelector('#history li').textContent.startsWith('第 2 版')")
    row = owner.locator("#products tbody tr.active")
    assert "¥428.00" in row.inner_text() and row.locator("td").nth(4).inner_text() == "7"
    assert row.locator("img").get_attribute("src") == uploaded
    owner.screenshot(path=tmp_path / "catalog-saved.png")
    stored = owner.evaluate("fetch('/api/catalog/products/puer-raw-cake').then((response) => response.json())")
    assert "elder" not in stored["product"]["recipients"] and "teacher" in stored["product"]["recipients"]
    assert stored["product"]["tags"][-1] == "限量" and stored["product"]["image"] == uploaded

    customer = customer_page(browser, stack)
    customer_says(customer, "勐海古树普洱生茶饼多少钱")
    text, images = last_reply(customer)
    assert "428" in text and "398" not in text, text
    assert images and images[-1] == uploaded
    wait_until(customer, "[...document.querySelectorAll('.product img')].pop().naturalWidth > 0")
    customer.screenshot(path=tmp_path / "customer-new-price.png")
    english = browser.new_page(locale="en-US", viewport={"width": 390, "height": 844})
    english.goto(stack.app_url + "/")
    customer_says(english, "How much is the Menghai Old-tree Raw Pu'er Cake?")
    text, images = last_reply(english)
    assert "428" in text and "398" not in text, text
    english.screenshot(path=tmp_path / "customer-new-price-en.png")

    owner.locator("#history li").nth(1).locator("button").click()  # 第 1 版, as imported
    owner.wait_for_selector("#rollback[open]")
    changed = owner.evaluate("[...document.querySelectorAll('#diff-then .diff-changed')].map((d) => d.textContent)")
    assert "¥398.00 / 357克/饼" in changed and "¥428.00 / 357克/饼" not in changed
    owner.screenshot(path=tmp_path / "catalog-rollback.png")
    owner.click("#rollback-yes")
    wait_until(owner, "document.querySelector('#history li') && document.querySelector('#history li').textContent.startsWith('第 3 版 · 恢复第 1 版 · ')")
    assert owner.input_value("#e-price") == "398.00" and owner.input_value("#e-stock") == "50"
    customer_says(customer, "那勐海古树普洱生茶饼现在多少钱")
    text, images = last_reply(customer)
    assert "398" in text and "428" not in text, text
    assert images[-1] == "/static/products/puer-raw-cake.png"
    assert owner.refused == [] and customer.refused == []
    english.close()
    customer.close()


def test_an_english_speaking_owner_reads_the_knowledge_base_catalog_and_metrics_in_english(stack, browser, tmp_path):  # noqa: F811
    """With the browser in English the owner's pages speak English: the lists, the editors, a refusal, a
    revision's history and the charts' labels. Nothing is saved (the shared stack's later tests read the
    catalog)."""
    from tests.e2e.test_browser_console import CJK, page_words

    owner, _name = staff_console(browser, stack, live=False, role="owner", locale="en-US")
    owner.goto(stack.app_url + "/admin/kb")
    owner.wait_for_selector("#entries tbody tr", timeout=30_000)
    owner.locator("#entries tbody tr").first.click()
    wait_until(owner, "!document.getElementById('editor').hidden", timeout=15_000)
    wait_until(owner, "document.querySelector('#history li') !== null", timeout=15_000)
    assert owner.locator("#history li").first.inner_text().startswith("Revision ")
    frame = "header.bar, main h2, main label, main button"  # (the history quotes the entry: data)
    assert CJK.findall(page_words(owner, frame)) == [], page_words(owner, frame)
    owner.screenshot(path=tmp_path / "kb-en.png")

    owner.goto(stack.app_url + "/admin/catalog")
    owner.wait_for_selector("#products tbody tr", timeout=30_000)
    owner.fill("#f-q", "普洱生茶")
    owner.locator("#products tbody tr").first.click()
    wait_until(owner, "document.getElementById('e-title').textContent === '勐海古树普洱生茶饼'")
    owner.fill("#e-price", "")
    owner.click("#e-save")
    assert owner.inner_text("#e-error") == "Please fill in the price (a number, 0 or more)"
    assert CJK.findall(page_words(owner, "header.bar, main legend, #editor label, #editor button")) == []
    owner.screenshot(path=tmp_path / "catalog-en.png")

    owner.goto(stack.app_url + "/admin/metrics?days=7")
    wait_until(owner, "window.Chart && " + " && ".join(f"Chart.getChart(document.getElementById('{c}'))"
                                                      for c in CHARTS), timeout=15_000)
    labels = owner.evaluate("""[...%s].flatMap((id) => Chart.getChart(document.getElementById(id)).data.datasets
                               .map((set) => set.label))""" % list(CHARTS))
    assert "Asked for staff" in labels and [label for label in labels if CJK.search(label)] == [], labels
    assert CJK.findall(page_words(owner, "header.bar, main h2, #totals")) == []
    owner.screenshot(path=tmp_path / "metrics-en.png", full_page=True)
    assert owner.refused == []
