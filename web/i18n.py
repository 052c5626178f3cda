"""The staff and owner pages in the reader's language: Chinese as written, English from a catalogue.

Pages are written in Chinese. ``_("认领")`` in a template and ``t("认领")`` in a page's script look the text up
in the English catalogue (``web/locale/en/*.json``, Chinese → English, one file per area of the pages) when
the page is in English; placeholders such as ``{name}`` are filled after the lookup. The language is the
``techan-lang`` cookie set by the header's 中文 / English switch, else the browser's first preference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web

from core.language import Say
from web.guards import same_site_path
from web.keys import TEMPLATES

LANGUAGES = ("zh", "en")
COOKIE = "techan-lang"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
CATALOGUE_DIR = Path(__file__).parent / "locale" / "en"


@cache
def english() -> dict[str, str]:
    """Every area's entries in one catalogue (an entry's Chinese is its key: two areas may both have one only
    with the same English, as one word must read the same on every page)."""
    catalogue: dict[str, str] = {}
    for path in sorted(CATALOGUE_DIR.glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        if differ := sorted(key for key in catalogue.keys() & entries.keys() if catalogue[key] != entries[key]):
            raise ValueError(f"{path.name} gives other English for {differ[:3]} than an earlier catalogue file")
        catalogue.update(entries)
    return catalogue


def page_language(request: web.Request) -> str:
    """The cookie's choice, else English for a browser that puts English before Chinese, else Chinese."""
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for part in request.headers.get("Accept-Language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("en"):
            return "en"
        if tag.startswith("zh"):
            return "zh"
    return "zh"


def translator(language: str) -> Callable[..., str]:
    """``_(text, **values)``: the text in ``language`` with its ``{placeholders}`` filled."""
    catalogue = english() if language == "en" else {}

    def translate(text: str, **values: Any) -> str:
        said = catalogue.get(text, text)
        return said.format(**values) if values else said
    return translate


def said(request: web.Request, words: Say) -> str:
    """A message the server has in both languages, in the page's."""
    return words.to(page_language(request))


# A Chinese sentence (or several) ended by 。！？, then an English sentence: a name or a file in a message
# ("小王 already has this chat") is not a Chinese half.
BILINGUAL = re.compile(r"^(?P<zh>.*[\u4e00-\u9fff].*[。！？])\s+(?P<en>[A-Z].*)$", re.S)


def one_half(text: str, language: str) -> str:
    """The reader's half of a "中文。 English." message; the whole text when it is not one."""
    match = BILINGUAL.match(text)
    return match.group(language) if match else text


def render_page(request: web.Request, template: str, *, status: int = 200, here: str | None = None,
                **context: Any) -> web.Response:
    """A staff or owner page in the reader's language: ``_`` for its own text, and for its scripts the
    catalogue (empty in Chinese) in a JSON block that ``/static/i18n.js`` reads. ``here``: where the language
    switch comes back to, for a page answering a form (a POST cannot be fetched again)."""
    language = page_language(request)
    back = here or (request.rel_url.raw_path_qs if request.method == "GET" else "/console")
    html = request.app[TEMPLATES].get_template(template).render(
        _=translator(language), lang=language, page_text=english() if language == "en" else {}, here=back,
        **context)
    return web.Response(text=html, content_type="text/html", status=status)


async def choose_language(request: web.Request) -> web.Response:
    """The header's switch: keeps the choice in a cookie and goes back to the page it came from."""
    response = web.HTTPSeeOther(same_site_path(request.query.get("next", "")))
    response.set_cookie(COOKIE, request.match_info["language"], max_age=COOKIE_MAX_AGE_S, path="/", samesite="Lax",
                        httponly=True)
    raise response
