"""Errors as a client can read them: JSON with a message on the API, never a stack trace."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from web.auth import SESSION_COOKIE
from web.i18n import one_half, page_language

log = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """API errors as JSON with a clear message; never a stack trace to the client."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith(("/api/", "/webhook")) or exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        if SESSION_COOKIE in request.cookies:  # staff pages: a "中文。 English." refusal in the reader's half
            message = one_half(message, page_language(request))
        return web.json_response({"error": message}, status=exc.status)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if request.path.startswith(("/api/", "/webhook")):
            return web.json_response({"error": "internal error; it has been logged"}, status=500)
        return web.Response(status=500, text="Something went wrong on our side; please try again.")
