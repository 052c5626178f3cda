"""Owner API for the knowledge base: edits are live at once, every change is a revision."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge.files import TOPICS, KBEntryIn
from knowledge.service import read_snapshot
from knowledge.store import delete_entry, entry_history, rollback_entry, save_entry
from techan.appkeys import KNOWLEDGE, SESSIONS
from techan.auth import require
from techan.db import KBEntry

log = logging.getLogger(__name__)

KB_RELOAD = web.AppKey("kb_reload", asyncio.Lock)
KB_VERSION = web.AppKey("kb_version", list)
POLL_SECONDS = 0.5


def kb_version(session: Session) -> tuple:
    """Changes whenever any entry is added, edited or deleted, by this process or another."""
    return tuple(session.execute(select(func.count(KBEntry.id), func.coalesce(func.sum(KBEntry.revision), 0),
                                        func.max(KBEntry.updated_at))).one())


async def reload_knowledge(app: web.Application) -> None:
    """Swap in a fresh snapshot of the KB, catalog and shipping table (only new text is embedded)."""
    async with app[KB_RELOAD]:
        async with app[SESSIONS]() as session:
            snapshot = await session.run_sync(read_snapshot)
            version = await session.run_sync(kb_version)
        await asyncio.to_thread(app[KNOWLEDGE].apply, snapshot)
        app[KB_VERSION][:] = [version]


async def watch_database(app: web.Application) -> None:
    """Pick up edits made outside this process (``techan kb import``) within a second."""
    while True:
        await asyncio.sleep(POLL_SECONDS)
        try:
            async with app[SESSIONS]() as session:
                version = await session.run_sync(kb_version)
            if app[KB_VERSION] != [version]:
                log.info("knowledge base changed in the database; reloading")
                await reload_knowledge(app)
        except Exception:  # keep watching; the next poll retries
            log.exception("knowledge base watch failed")


async def kb_watch_ctx(app: web.Application) -> AsyncIterator[None]:
    app[KB_RELOAD] = asyncio.Lock()
    app[KB_VERSION] = []
    await reload_knowledge(app)
    task = asyncio.create_task(watch_database(app))
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def _entry_json(row: KBEntry) -> dict:
    return {"id": row.id, "topic": row.topic, "product": row.product, "questions": list(row.questions),
            "answer": row.answer, "tags": list(row.tags), "revision": row.revision,
            "updated_at": row.updated_at.isoformat()}


async def list_entries(request: web.Request) -> web.Response:
    await require(request, "owner")
    query = select(KBEntry).order_by(KBEntry.id)
    if topic := request.query.get("topic"):
        query = query.where(KBEntry.topic == topic)
    if product := request.query.get("product"):
        query = query.where(KBEntry.product == product)
    async with request.app[SESSIONS]() as session:
        rows = (await session.scalars(query)).all()
    text = request.query.get("q", "").strip().lower()
    if text:
        rows = [r for r in rows if text in r.id.lower() or text in r.answer.lower()
                or any(text in q.lower() for q in r.questions)]
    return web.json_response({"entries": [_entry_json(r) for r in rows]})


async def get_entry(request: web.Request) -> web.Response:
    await require(request, "owner")
    entry_id = request.match_info["entry_id"]
    async with request.app[SESSIONS]() as session:
        row = await session.get(KBEntry, entry_id)
        history = await session.run_sync(entry_history, entry_id)
    if row is None and not history:
        raise web.HTTPNotFound(text=f"no entry {entry_id!r}")
    return web.json_response({
        "entry": _entry_json(row) if row else None,
        "revisions": [{"revision": h.revision, "action": h.action, "author": h.author,
                       "at": h.created_at.isoformat(), "before": h.before, "after": h.after} for h in history],
    })


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return body


async def put_entry(request: web.Request) -> web.Response:
    """Create or replace an entry; the running index has it when this returns."""
    principal = await require(request, "owner")
    body = await _json_body(request)
    body["id"] = request.match_info["entry_id"]
    try:
        item = KBEntryIn.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise web.HTTPUnprocessableEntity(text=f"field `{field}`: {first['msg']}") from None
    async with request.app[SESSIONS]() as session:
        row = await session.run_sync(save_entry, item, principal.name)
        await session.commit()
        if row is None:
            row = await session.get(KBEntry, item.id)
        result = _entry_json(row)
    await reload_knowledge(request.app)
    return web.json_response({"entry": result})


async def remove_entry(request: web.Request) -> web.Response:
    principal = await require(request, "owner")
    entry_id = request.match_info["entry_id"]
    async with request.app[SESSIONS]() as session:
        deleted = await session.run_sync(delete_entry, entry_id, principal.name)
        await session.commit()
    if not deleted:
        raise web.HTTPNotFound(text=f"no entry {entry_id!r}")
    await reload_knowledge(request.app)
    return web.json_response({"deleted": entry_id})


async def rollback(request: web.Request) -> web.Response:
    principal = await require(request, "owner")
    body = await _json_body(request)
    revision = body.get("revision")
    if not isinstance(revision, int):
        raise web.HTTPBadRequest(text='body must be {"revision": N}')
    entry_id = request.match_info["entry_id"]
    async with request.app[SESSIONS]() as session:
        try:
            await session.run_sync(rollback_entry, entry_id, revision, principal.name)
        except LookupError as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        await session.commit()
        row = await session.get(KBEntry, entry_id)
        result = _entry_json(row)
    await reload_knowledge(request.app)
    return web.json_response({"entry": result})


async def try_question(request: web.Request) -> web.Response:
    """The "try a question" box: top hits with their scores, as the bot would rank them."""
    await require(request, "owner")
    body = await _json_body(request)
    question = str(body.get("q", "")).strip()
    if not question:
        raise web.HTTPBadRequest(text="q is empty")
    topic = body.get("topic") or None
    if topic is not None and topic not in TOPICS:
        raise web.HTTPBadRequest(text=f"topic must be one of {', '.join(TOPICS)}")
    k = body.get("k", 5)
    if not isinstance(k, int) or not 1 <= k <= 20:
        raise web.HTTPBadRequest(text="k must be 1-20")
    knowledge = request.app[KNOWLEDGE]
    hits = await asyncio.to_thread(knowledge.search, question, k, topic=topic,
                                   product=knowledge.catalog.resolve(body.get("product")))
    return web.json_response({"hits": [
        {"id": h.id, "score": round(h.score, 4), "dense": round(h.dense, 4), "lexical": round(h.lexical, 4),
         "matched": h.matched, "answer": h.entry.answer} for h in hits]})


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(kb_watch_ctx)
    app.router.add_get("/api/kb/entries", list_entries)
    app.router.add_get("/api/kb/entries/{entry_id}", get_entry)
    app.router.add_put("/api/kb/entries/{entry_id}", put_entry)
    app.router.add_delete("/api/kb/entries/{entry_id}", remove_entry)
    app.router.add_post("/api/kb/entries/{entry_id}/rollback", rollback)
    app.router.add_post("/api/kb/search", try_question)
