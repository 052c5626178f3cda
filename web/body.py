"""Reading what a request carries (a JSON object body, an id in the path), with the error a client can act on."""

from __future__ import annotations

from aiohttp import web


async def json_object(request: web.Request, example: str = '{"...": "..."}') -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text=f"body must be JSON like {example}") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=f"body must be a JSON object like {example}")
    return body


def path_id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(text=f"no such {name.removesuffix('_id')}") from None
