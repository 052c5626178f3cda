"""What every response and every request body gets, whatever the route: security headers and a byte limit."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

# A path of this app: one leading slash, then printable ASCII without backslashes. Browsers drop tabs and
# newlines from a Location and read a backslash as a slash, so "/\t/evil.com" or "/\\evil.com" would leave the site.
SAME_SITE_PATH = re.compile(r"/(?![/\\])[\x21-\x5b\x5d-\x7e]*")


def same_site_path(target: str) -> str:
    """Where a redirect may go: a path of this app, else the console (never another site, however spelt)."""
    return target if SAME_SITE_PATH.fullmatch(target) else "/console"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The browser runs only the app's own files: no inline script, no other site's code, no plugins.
CONTENT_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                  "media-src 'self' blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; "
                  "form-action 'self'; frame-ancestors {ancestors}")
# Customer pages may be framed by Telegram's web client (a Mini App) and by the sites an owner names.
TELEGRAM_WEB = "https://web.telegram.org"


def security_headers(*, https: bool, customer_pages: Sequence[str], embed_origins: Sequence[str] = ()
                     ) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook: CSP, frame ancestors, Referrer-Policy, nosniff, and HSTS over HTTPS.

    ``customer_pages``: paths a customer opens (one ending in "/" is a prefix, "/" itself only the root)."""
    customer_ancestors = " ".join(["'self'", TELEGRAM_WEB, *embed_origins])

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        customer = any(request.path == p or (p != "/" and p.endswith("/") and request.path.startswith(p))
                       for p in customer_pages)
        headers = response.headers
        headers.setdefault("Content-Security-Policy",
                           CONTENT_POLICY.format(ancestors=customer_ancestors if customer else "'none'"))
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if not customer:
            headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return add


def body_limits(limits: Sequence[tuple[str, int]], default: int) -> Callable:
    """A middleware: the bytes a route may read, by path prefix (first match), counted as they arrive, so a
    chunked body without Content-Length is held to the same limit; over it, 413 with the limit in words."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        allowed = next((size for prefix, size in limits if request.path.startswith(prefix)), default)
        try:
            return await handler(request.clone(client_max_size=allowed))
        except web.HTTPRequestEntityTooLarge as exc:
            if not (exc.text or "").startswith("Maximum request body size"):  # a handler's own limit, worded
                raise
            raise web.HTTPRequestEntityTooLarge(
                max_size=allowed, actual_size=request.content_length or allowed + 1,
                text=f"内容太大：上限 {_size(allowed)}。 The request body is over the limit of {_size(allowed)}.") from None
    return limit


def _size(size: int) -> str:
    return f"{size // (1 << 20)} MB" if size >= 1 << 20 else f"{size // 1024} KB"
