"""The owner's accounts page in a real browser (the real stack): disabling a staff member signs their open console out."""

from __future__ import annotations

import subprocess
import sys
import uuid

from tests.e2e.pages import wait_until
from tests.e2e.test_browser_console import PASSWORD, staff_console, watch_policy
from tests.e2e.test_browser_webchat import browser  # noqa: F401 (a fixture)


def owner_page(browser, stack, locale: str = "zh-CN"):
    """A new owner signed in on the accounts page (1366×900; Chinese unless ``locale`` says otherwise)."""
    name = f"owner{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", "owner", "--password", PASSWORD],
                   env=stack.env, check=True, capture_output=True)
    page = browser.new_page(locale=locale, viewport={"width": 1366, "height": 900})
    page.refused = watch_policy(page)
    page.goto(stack.app_url + "/admin/accounts")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#accounts", timeout=30_000)
    return page, name


def test_an_owner_disables_a_staff_member_whose_open_console_is_signed_out(stack, browser, tmp_path):
    console, staff = staff_console(browser, stack)  # signed in, live updates on
    owner, me = owner_page(browser, stack)
    assert owner.locator("header a", has_text="账号").count() == 1
    row = owner.locator(f"#accounts tr[data-account='{staff}']")
    assert row.locator(".status").inner_text() == "在用"
    assert owner.locator(f"#accounts tr[data-account='{me}'] td").first.inner_text() == f"{me}（我）"
    owner.screenshot(path=tmp_path / "accounts-before.png")

    assert owner.locator(f"#accounts tr[data-account='{me}'] button", has_text="停用").count() == 0  # not oneself
    asked: list[str] = []
    owner.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.locator("button", has_text="停用").click()  # asked first; "cancel" changes nothing
    owner.wait_for_timeout(500)
    assert asked == [f"停用 {staff}？TA 会立刻退出登录，之后不能再登录，直到重新启用。"]
    assert row.locator(".status").inner_text() == "在用"
    owner.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="停用").click()
    owner.wait_for_selector("#notice", timeout=10_000)
    assert owner.inner_text("#notice") == f"{staff} 已停用，TA 已在所有设备上退出登录。"
    row = owner.locator(f"#accounts tr[data-account='{staff}']")
    assert row.locator(".status").inner_text() == "已停用"
    assert row.locator("button", has_text="启用").count() == 1
    owner.screenshot(path=tmp_path / "accounts-disabled.png")

    wait_until(console, "location.pathname === '/login'", timeout=15_000)  # the open console, signed out
    assert console.url.endswith("/login?next=%2Fconsole")
    assert console.locator("h1").inner_text() == "特产小店 · 店员登录"
    console.fill("input[name=name]", staff)
    console.fill("input[name=password]", PASSWORD)
    console.click("button[type=submit]")
    console.wait_for_selector("p.error", timeout=10_000)
    assert console.inner_text("p.error") == (  # disabled: no way back in, and told whom to ask
        "这个账号已停用，请联系店主。")
    console.screenshot(path=tmp_path / "console-signed-out.png")
    assert owner.refused == [] and console.refused == []


def test_back_after_signing_out_does_not_show_the_console_again(stack, browser):
    console, _staff = staff_console(browser, stack)
    console.click("header form[action='/logout'] button")
    wait_until(console, "location.pathname === '/login'", timeout=15_000)
    console.go_back()
    wait_until(console, "location.pathname === '/login'", timeout=15_000)  # asked again, and sent to sign in
    assert console.locator("#queue").count() == 0


def test_an_english_speaking_owner_adds_an_account_and_is_answered_in_english(stack, browser, tmp_path):
    """The sign-in page, the accounts page, its confirmation and its notices in English, as the browser asks."""
    owner, me = owner_page(browser, stack, locale="en-US")
    assert owner.locator("header a", has_text="Accounts").count() == 1
    assert owner.locator(f"#accounts tr[data-account='{me}'] .status").inner_text() == "Active"
    name = f"new{uuid.uuid4().hex[:6]}"
    form = owner.locator("#add-account")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button").click()
    owner.wait_for_selector("#notice", timeout=10_000)
    assert owner.inner_text("#notice") == f"Account {name} added."
    row = owner.locator(f"#accounts tr[data-account='{name}']")
    assert row.locator(".status").inner_text() == "Active"
    asked: list[str] = []
    owner.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.locator("button", has_text="Disable").click()
    owner.wait_for_timeout(500)
    assert asked and asked[0].startswith(f"Disable {name}?"), asked
    owner.screenshot(path=tmp_path / "accounts-en.png")
    assert owner.refused == []
