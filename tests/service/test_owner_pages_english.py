"""The owner's pages in English: with the techan-lang=en cookie (the header's switch) each page says no Chinese
of its own, only the shop's data; without it, Chinese. That every text is in the catalogue at all is
tests/unit/test_staff_pages_language.py's."""

from __future__ import annotations

import json
import re

import pytest

from tests.service.test_login import make_account, sign_in

CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")  # with CJK punctuation

PAGES = {  # page: English it must say (from the page, its labels and the shared header)
    "/admin/kb": ["Try a question", "Unanswered questions", "English answer (optional)", "Restore this revision",
                  '<option value="shelf_life">Shelf life</option>', "Import / export", "Specialty Shop"],
    "/admin/catalog": ["New product", '<option value="teaware">Teaware</option>', 'value="elder">Elders</label>',
                       'value="hospital_visit">Visiting someone ill</label>', "Ships from (province)",
                       "Origin, shelf life and storage"],
    "/admin/metrics": ["Resolved by the bot", "By day", "Handoffs · Bot could not answer twice",
                       "Median time to connect", "Nothing was marked “not helpful” in this period."],
    "/admin/accounts": ['<td class="role">Owner</td>', "laoban-en (me)", "Sign out everywhere", "Add an account",
                        '<option value="staff" selected>Staff</option>', 'aria-label="New password for laoban-en"'],
}
CHINESE = {"/admin/kb": "试一试", "/admin/catalog": "新建商品", "/admin/metrics": "按天明细", "/admin/accounts": "添加账号"}


def the_pages_own_text(html: str) -> str:
    """The page without the scripts' catalogue, the language switch (its 中文 link) and the shop's data
    (product names in the knowledge base's product lists, the chart figures' JSON)."""
    html = re.sub(r'<script type="application/json" id="(page-text|metrics-data)">.*?</script>', "", html, flags=re.S)
    html = re.sub(r'<nav class="language".*?</nav>', "", html, flags=re.S)
    html = re.sub(r'(<select id="[fe]-product">)(<option value="">[^<]*</option>)(?:<option value="[^"]+">[^<]*</option>)*',
                  r"\1\2", html)
    return html


@pytest.mark.parametrize("page", list(PAGES))
async def test_an_owner_page_is_all_english_with_the_english_cookie_and_chinese_without(client, page):
    make_account(client, "laoban-en", "owner")
    assert (await sign_in(client, "laoban-en", next_path=page)).status == 303

    chinese = await (await client.get(page)).text()
    assert '<html lang="zh-CN">' in chinese and CHINESE[page] in chinese
    assert not any(english_text in chinese for english_text in PAGES[page]), page
    assert json.loads(re.search(r'id="page-text">(.*?)</script>', chinese, re.S).group(1)) == {}

    switched = await client.get(f"/language/en?next={page}")  # the header's switch sets the cookie
    assert switched.status == 200 and switched.url.path == page
    shown = await switched.text()
    assert '<html lang="en">' in shown
    missing = [english_text for english_text in PAGES[page] if english_text not in shown]
    assert missing == [], page
    left = CJK.findall(the_pages_own_text(shown))
    assert left == [], (page, "".join(left))
    scripts = json.loads(re.search(r'id="page-text">(.*?)</script>', shown, re.S).group(1))
    assert scripts["第 {n} 版"] == "Revision {n}" and scripts["恢复到第 {n} 版？"] == "Restore revision {n}?"

    await client.get(f"/language/zh?next={page}")
    assert '<html lang="zh-CN">' in await (await client.get(page)).text()


async def test_a_refusal_the_server_has_in_both_languages_comes_in_the_readers(client):
    """A signed-in owner's upload of a too-small picture: the page's language picks the half of the server's
    bilingual refusal (the console and the owner pages show it as it comes)."""
    from tests.service.test_catalog_admin import picture, upload

    make_account(client, "laoban-lang", "owner")
    assert (await sign_in(client, "laoban-lang", next_path="/admin/catalog")).status == 303
    html = await (await client.get("/admin/catalog")).text()
    csrf = {"X-CSRF-Token": re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)}
    said = {}
    for language in ("zh", "en"):
        await client.get(f"/language/{language}?next=/admin/catalog")
        response = await upload(client, csrf, picture((120, 90)))
        assert response.status == 422
        said[language] = (await response.json())["error"]
    assert said == {"zh": "图片太小：至少 200×200 像素。", "en": "The picture is too small: at least 200×200 pixels."}


async def test_the_sign_in_page_and_its_refusals_follow_the_browsers_language(client):
    """An English browser signs in on an English page, and a wrong password is told in English; a refusal on
    the accounts page too (the English written for the CLI, as a sentence)."""
    from tests.service.test_login import error_on

    make_account(client, "laoban-words", "owner")
    client.session.headers["Accept-Language"] = "en-US,en;q=0.9"
    try:
        page = await (await client.get("/login")).text()
        assert '<html lang="en">' in page and "<h1>Specialty Shop · Staff sign-in</h1>" in page
        wrong = await sign_in(client, "laoban-words", password="not the password")
        assert wrong.status == 401 and error_on(await wrong.text()) == "Wrong name or password."
        assert '<h1>特产小店 · 店员登录</h1>' in await switched(client, await wrong.text())  # not the POST again
        await client.get("/language/en?next=/login")
        assert (await sign_in(client, "laoban-words", next_path="/admin/accounts")).status == 303
        html = await (await client.get("/admin/accounts")).text()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
        change = re.search(r'action="(/admin/accounts/\d+/password)"', html).group(1)  # a form's own route
        short = await client.post(change, data={"csrf_token": csrf, "password": "short"})
        refused = re.search(r'<p class="panel error" id="error" role="alert">([^<]*)</p>', await short.text())
        assert short.status == 400 and refused.group(1) == "Password must be at least 8 characters."
        assert "<h2>添加账号</h2>" in await switched(client, await short.text())  # the accounts page, in Chinese
    finally:
        del client.session.headers["Accept-Language"]


async def switched(client, page: str) -> str:
    """Follow a page's language switch (to Chinese) and return what it leads to (an error if not a page)."""
    link = re.search(r'<a href="(/language/zh\?next=[^"]+)"', page).group(1).replace("&amp;", "&")
    response = await client.get(link)
    assert response.status == 200, (link, response.status)
    return await response.text()
