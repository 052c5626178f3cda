"""Reading what a request carries (a JSON object body, an id in the path), with the error a client can act on."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

Form = TypeVar("Form", bound=BaseModel)


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


def validated(form: type[Form], body: dict) -> Form:
    """``body`` as ``form``, or 422 naming the first field that is wrong and why."""
    try:
        return form.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise web.HTTPUnprocessableEntity(text=f"field `{field}`: {first['msg']}") from None
