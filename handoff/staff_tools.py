"""What staff use beside the transcript: canned replies, private notes, and handing a chat to a colleague
(the notes and the transfer through the desk)."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handoff.desk import DESK
from handoff.transcript import note_json
from web.keys import SESSIONS
from web.auth import require
from core.db import CannedReply, StaffAccount
from web.body import json_object, path_id

SHORTCUT = re.compile(r"^[a-z0-9_-]{1,32}$")
MAX_CANNED_TEXT = 2000
MAX_NOTE_TEXT = 4000


def canned_json(reply: CannedReply) -> dict:
    return {"id": reply.id, "shortcut": reply.shortcut, "text": reply.text, "updated_by": reply.updated_by}


def _text(body: dict, field: str, limit: int) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise web.HTTPBadRequest(text=f"{field} is empty")
    if len(value) > limit:
        raise web.HTTPBadRequest(text=f"{field} is over {limit} characters")
    return value.strip()


def _canned_fields(body: dict) -> tuple[str, str]:
    shortcut = body.get("shortcut")
    if not isinstance(shortcut, str) or not SHORTCUT.match(shortcut.strip().lstrip("/")):
        raise web.HTTPBadRequest(text="shortcut must be 1-32 lowercase letters, digits, '-' or '_' (e.g. \"hi\")")
    return shortcut.strip().lstrip("/"), _text(body, "text", MAX_CANNED_TEXT)


async def list_canned(request: web.Request) -> web.Response:
    await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        replies = (await session.scalars(select(CannedReply).order_by(CannedReply.shortcut))).all()
    return web.json_response({"canned": [canned_json(r) for r in replies]})


async def save_canned(request: web.Request) -> web.Response:
    """Create (POST) or change (PUT /{id}) a canned reply: owners only."""
    principal = await require(request, "owner")
    shortcut, text = _canned_fields(await json_object(request, '{"shortcut": "hi", "text": "..."}'))
    async with request.app[SESSIONS]() as session:
        if "canned_id" in request.match_info:
            reply = await session.get(CannedReply, path_id(request, "canned_id"))
            if reply is None:
                raise web.HTTPNotFound(text="no such canned reply")
        else:
            reply = CannedReply()
            session.add(reply)
        reply.shortcut, reply.text, reply.updated_by = shortcut, text, principal.name
        try:
            await session.commit()
        except IntegrityError:
            raise web.HTTPConflict(text=f"the shortcut /{shortcut} is taken") from None
    return web.json_response({"canned": canned_json(reply)}, status=200 if "canned_id" in request.match_info else 201)


async def delete_canned(request: web.Request) -> web.Response:
    await require(request, "owner")
    async with request.app[SESSIONS]() as session:
        reply = await session.get(CannedReply, path_id(request, "canned_id"))
        if reply is None:
            raise web.HTTPNotFound(text="no such canned reply")
        await session.delete(reply)
        await session.commit()
    return web.json_response({"deleted": reply.id})


async def add_note(request: web.Request) -> web.Response:
    """A private note on the conversation: colleagues see it in the console, the customer never does."""
    principal = await require(request, "staff")
    text = _text(await json_object(request, '{"text": "..."}'), "text", MAX_NOTE_TEXT)
    note = await request.app[DESK].note(path_id(request, "conversation_id"), principal, text)
    return web.json_response({"note": note_json(note)}, status=201)


async def transfer(request: web.Request) -> web.Response:
    """Hand an assigned chat to another active staff member (the one who has it, or an owner)."""
    principal = await require(request, "staff")
    target_name = (await json_object(request, '{"to": "staff name"}')).get("to")
    if not isinstance(target_name, str) or not target_name.strip():
        raise web.HTTPBadRequest(text="say whom to transfer to: {\"to\": \"staff name\"}")
    conversation, target = await request.app[DESK].transfer(path_id(request, "conversation_id"), principal,
                                                            target_name.strip())
    return web.json_response({"conversation_id": conversation.id, "state": conversation.state, "claimed_by": target})


async def staff_list(request: web.Request) -> web.Response:
    """Active colleagues, for the console's transfer menu."""
    await require(request, "staff")
    async with request.app[SESSIONS]() as session:
        accounts = (await session.scalars(select(StaffAccount).where(StaffAccount.active.is_(True))
                                          .order_by(StaffAccount.name))).all()
    return web.json_response({"staff": [{"name": a.name, "role": a.role} for a in accounts]})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/canned", list_canned)
    app.router.add_post("/api/canned", save_canned)
    app.router.add_put("/api/canned/{canned_id}", save_canned)
    app.router.add_delete("/api/canned/{canned_id}", delete_canned)
    app.router.add_post("/api/conversations/{conversation_id}/notes", add_note)
    app.router.add_post("/api/conversations/{conversation_id}/transfer", transfer)
    app.router.add_get("/api/staff", staff_list)
