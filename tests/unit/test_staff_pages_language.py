"""The staff and owner pages in English: every text they show is in the catalogue, and the language is the
reader's choice. Pages are written in Chinese; a text that skips ``_()`` / ``t()`` would stay Chinese on an
English page, so these checks read the files themselves."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from core.language import Say
from techan import PROJECT_ROOT
from web.i18n import COOKIE, english, one_half, page_language, translator

CJK = re.compile(r"[\u4e00-\u9fff]")
TEMPLATE_TEXT = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*")""")
SCRIPT_TEXT = re.compile(r"""\bt\(\s*("(?:[^"\\]|\\.)*")""")
STRING = re.compile(r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`""")
COMMENT = re.compile(r"^\s*//.*$|\s//\s.*$", re.M)


def staff_templates() -> list[Path]:
    """Every page a staff member or owner sees: those built on the staff frame, and the sign-in page."""
    found = []
    for path in sorted(PROJECT_ROOT.glob("*/templates/*.html")):
        text = path.read_text(encoding="utf-8")
        if '{% extends "staff_base.html" %}' in text or path.name in ("staff_base.html", "login.html",
                                                                    "language_switch.html", "rollback_dialog.html"):
            found.append(path)
    return found


def staff_scripts() -> list[Path]:
    """The scripts those pages load (a customer's page speaks through its own words; call.js serves both)."""
    names = set()
    for template in staff_templates():
        names |= set(re.findall(r'src="/static/([\w.-]+\.js)"', template.read_text(encoding="utf-8")))
    names -= {"call.js", "i18n.js", "shop-time.js", "chart.umd.min.js"}
    return sorted(path for path in PROJECT_ROOT.glob("*/static/*.js") if path.name in names)


def test_the_pages_and_their_scripts_are_found():
    assert {p.name for p in staff_templates()} >= {"console.html", "staff_base.html", "login.html", "call_staff.html"}
    assert {p.name for p in staff_scripts()} >= {"console.js"}


@pytest.mark.parametrize("path", staff_templates(), ids=lambda p: p.name)
def test_every_text_of_a_staff_template_is_translated(path):
    text = path.read_text(encoding="utf-8")
    wanted = [json.loads(m) for m in TEMPLATE_TEXT.findall(text)]
    assert [w for w in wanted if w not in english()] == []
    # Chinese outside {{ _("…") }} would show as it is on an English page (the switch's own 中文 aside).
    bare = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", text, flags=re.S).replace('lang="zh-CN">中文<', "")
    bare = bare.replace("<strong>中文</strong>", "")
    assert CJK.findall(bare) == [], f"{path.name}: Chinese outside _(): {CJK.findall(bare)[:10]}"


@pytest.mark.parametrize("path", staff_scripts(), ids=lambda p: p.name)
def test_every_text_of_a_staff_script_is_translated(path):
    text = path.read_text(encoding="utf-8")
    wanted = [json.loads(m) for m in SCRIPT_TEXT.findall(text)]
    assert [w for w in wanted if w not in english()] == []
    code = COMMENT.sub("", text)
    literals = {m.start(): m.group() for m in STRING.finditer(code)}
    untranslated = [literal for start, literal in literals.items()
                    if CJK.search(literal) and not re.search(r"\bt\(\s*$", code[max(0, start - 8):start])]
    assert untranslated == [], f"{path.name}: Chinese outside t(): {untranslated[:10]}"


def test_the_catalogue_has_no_leftovers_and_keeps_placeholders():
    used = set()
    for path in staff_templates():
        used |= {json.loads(m) for m in TEMPLATE_TEXT.findall(path.read_text(encoding="utf-8"))}
    for path in staff_scripts():
        used |= {json.loads(m) for m in SCRIPT_TEXT.findall(path.read_text(encoding="utf-8"))}
    from core.bot_payload import REASON_LABELS  # shown through t(label) / _(label)
    from knowledge.catalog_admin import CATEGORY_ZH, OCCASION_ZH, RECIPIENT_ZH
    from knowledge.files import TOPIC_NAMES
    from web.staff_accounts import ROLE_NAMES
    labels = {*REASON_LABELS.values(), *CATEGORY_ZH.values(), *OCCASION_ZH.values(), *RECIPIENT_ZH.values(),
              *TOPIC_NAMES.values(), *ROLE_NAMES.values()}
    assert sorted(set(english()) - used - labels) == []
    for chinese, said in english().items():
        assert set(re.findall(r"\{(\w+)\}", said)) <= set(re.findall(r"\{(\w+)\}", chinese)), chinese
        assert not CJK.search(said), chinese


def test_the_reader_chooses_the_language():
    def asked(headers):
        return page_language(make_mocked_request("GET", "/console", headers=headers))
    assert asked({}) == "zh"
    assert asked({"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.8"}) == "en"
    assert asked({"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}) == "zh"
    assert asked({"Accept-Language": "en-US", "Cookie": f"{COOKIE}=zh"}) == "zh"  # the switch wins
    assert asked({"Cookie": f"{COOKIE}=en"}) == "en"
    assert asked({"Cookie": f"{COOKIE}=fr"}) == "zh"


def test_texts_in_both_languages_come_out_in_the_readers():
    assert translator("en")("等待 {wait}", wait="3 min") == "Waiting 3 min"
    assert translator("zh")("等待 {wait}", wait="3 分钟") == "等待 3 分钟"
    bilingual = "图片太大：上限 12 MB。 The picture is over 12 MB."
    assert one_half(bilingual, "en") == "The picture is over 12 MB."
    assert one_half(bilingual, "zh") == "图片太大：上限 12 MB。"
    assert one_half("没有这个商品。 No product 'x'.", "en") == "No product 'x'."
    assert one_half("内容太大：上限 1 MB。 The request body is over the limit of 1 MB.", "zh") == "内容太大：上限 1 MB。"
    for whole in ("小王 already has this chat", "知识库 backup.yml: line 3: 回答不能为空。 (nothing was changed)"):
        assert one_half(whole, "en") == one_half(whole, "zh") == whole  # names and files are not a Chinese half
    assert one_half("just English", "zh") == "just English"
    assert Say("好", "good").to("en") == "good"
