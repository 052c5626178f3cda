"""Owner API for the knowledge base: edits are live at once (knowledge.live), every change is a revision."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from knowledge.files import TOPIC_NAMES, TOPICS, ImportFileError, read_kb_file, write_kb_file
from knowledge.inbox import AnsweredNow, group_questions
from knowledge.store import KB_ENTRIES, delete_entry, entry_history, kb_export_items, upsert_kb
from knowledge.live import KNOWLEDGE, reload_knowledge
from knowledge.revisions import Revisions, change_json
from web.i18n import render_page
from web.keys import SESSIONS
from web.auth import CSRF, require, require_page
from web.body import json_object, validated
from core.db import KBEntry, UnansweredQuestion, utcnow


ANSWERED_NOW = web.AppKey("answered_now", AnsweredNow)


def _entry_json(row: KBEntry) -> dict:
    return {"id": row.id, "topic": row.topic, "product": row.product, "questions": list(row.questions),
            "answer": row.answer, "answer_en": row.answer_en, "tags": list(row.tags), "revision": row.revision,
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
        rows = [r for r in rows if text in r.id.lower() or text in r.answer.lower() or text in r.answer_en.lower()
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
        "revisions": [change_json(change) for change in history],
    })


async def put_entry(request: web.Request) -> web.Response:
    """Create or replace an entry; the running index has it when this returns."""
    principal = await require(request, "owner")
    body = await json_object(request)
    body["id"] = request.match_info["entry_id"]
    return await _save(request, principal, body)


async def new_entry(request: web.Request) -> web.Response:
    """Create an entry whose id the shop makes: readable, from its product and topic (puer-ripe-cake-storage,
    then -2, -3 … when taken), so owners never have to invent one."""
    principal = await require(request, "owner")
    body = await json_object(request)
    stem = "-".join(part for part in (str(body.get("product") or "shop"), str(body.get("topic") or "other"))
                    ).replace("_", "-").lower()
    stem = re.sub(r"[^a-z0-9.\-]+", "-", stem).strip("-.")[:80] or "entry"
    async with request.app[SESSIONS]() as session:
        body["id"] = await session.run_sync(KB_ENTRIES.free_id, stem)
    return await _save(request, principal, body, status=201)


async def _save(request: web.Request, principal, body: dict, status: int = 200) -> web.Response:
    entry = await save_revisioned(request, KB_ENTRIES, body, principal, _entry_json)
    return web.json_response({"entry": entry}, status=status)


async def save_revisioned(request: web.Request, revisions: Revisions, body: dict, principal, as_json) -> dict:
    """Validate, save as a new revision, and reload the running index: what an owner's save does, for KB
    entries and catalog products alike; returns the record as ``as_json`` shows it."""
    item = validated(revisions.form, body)
    async with request.app[SESSIONS]() as session:
        row = await session.run_sync(revisions.save, item, principal.name)
        await session.commit()
        result = as_json(row or await session.get(revisions.model, item.id))
    await reload_knowledge(request.app)
    return result


async def restore_revision(request: web.Request, revisions: Revisions, record_id: str, principal, as_json) -> dict:
    """The rollback route of both owner pages: body {"revision": N}; 404 for a revision the record never had."""
    revision = (await json_object(request, '{"revision": 3}')).get("revision")
    if not isinstance(revision, int):
        raise web.HTTPBadRequest(text='body must be {"revision": N}')
    async with request.app[SESSIONS]() as session:
        try:
            await session.run_sync(revisions.rollback, record_id, revision, principal.name)
        except LookupError as exc:
            raise web.HTTPNotFound(text=str(exc)) from None
        await session.commit()
        result = as_json(await session.get(revisions.model, record_id))
    await reload_knowledge(request.app)
    return result


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
    entry = await restore_revision(request, KB_ENTRIES, request.match_info["entry_id"], principal, _entry_json)
    return web.json_response({"entry": entry})


async def try_question(request: web.Request) -> web.Response:
    """The "try a question" box: top hits with their scores, as the bot would rank them."""
    await require(request, "owner")
    body = await json_object(request)
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


async def admin_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "owner")
    return render_page(request, "admin_kb.html", user=principal.name, role=principal.role, csrf=request[CSRF],
                       topics=TOPICS, topic_names=TOPIC_NAMES,
                       products=sorted(request.app[KNOWLEDGE].catalog.products.values(), key=lambda p: p.id))


async def export_kb(request: web.Request) -> web.Response:
    await require(request, "owner")
    kind = request.query.get("format", "yaml")
    if kind not in ("yaml", "csv"):
        raise web.HTTPBadRequest(text="format must be yaml or csv")
    async with request.app[SESSIONS]() as session:
        items = await session.run_sync(kb_export_items)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"kb.{'yml' if kind == 'yaml' else 'csv'}"
        try:
            write_kb_file(path, items)
        except ImportFileError as exc:
            raise web.HTTPUnprocessableEntity(text=str(exc)) from None
        body = path.read_bytes()
    return web.Response(body=body, content_type="text/csv" if kind == "csv" else "application/yaml",
                        charset="utf-8", headers={"Content-Disposition": f'attachment; filename="{path.name}"'})


async def import_kb(request: web.Request) -> web.Response:
    """Upload a YAML or CSV file: validated whole, then upserted in one transaction."""
    principal = await require(request, "owner")
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise web.HTTPBadRequest(text="send the file as multipart field `file`")
    suffix = Path(upload.filename or "").suffix.lower()
    if suffix not in (".yml", ".yaml", ".csv"):
        raise web.HTTPBadRequest(text="the file must end in .yml, .yaml or .csv")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(upload.file.read())
        try:
            items = read_kb_file(path)
        except ImportFileError as exc:
            message = str(exc).replace(str(path), upload.filename or "upload")
            raise web.HTTPUnprocessableEntity(text=f"{message} (nothing was changed)") from None
    async with request.app[SESSIONS]() as session:
        created, updated = await session.run_sync(upsert_kb, items, principal.name)
        await session.commit()
    await reload_knowledge(request.app)
    return web.json_response({"created": created, "updated": updated})


def open_questions(knowledge, answered_now: AnsweredNow, rows: list[UnansweredQuestion]) -> list[tuple]:
    """The inbox rows still open: one per customer message, none the knowledge base now answers."""
    seen: set[int] = set()
    still_open = []
    for row in rows:
        if row.message_id in seen:
            continue
        seen.add(row.message_id)
        if not answered_now(knowledge, row.text, row.answer):
            still_open.append((row.id, row.text, row.reason, row.answer))
    return still_open


async def unanswered(request: web.Request) -> web.Response:
    """Open questions grouped by meaning: unsure, handed to staff, or answered no help (with that answer)."""
    await require(request, "owner")
    async with request.app[SESSIONS]() as session:
        rows = (await session.scalars(select(UnansweredQuestion).where(UnansweredQuestion.resolved_at.is_(None))
                                      .order_by(UnansweredQuestion.id).limit(2000))).all()
    knowledge = request.app[KNOWLEDGE]
    questions = await asyncio.to_thread(open_questions, knowledge, request.app[ANSWERED_NOW], rows)
    groups = await asyncio.to_thread(group_questions, knowledge, questions)
    reasons = {question_id: reason for question_id, _text, reason, _answer in questions}
    return web.json_response({"groups": [
        {"ids": g.ids, "texts": g.texts, "count": len(g.ids), "reasons": sorted(g.reasons),
         "items": [{"id": i, "text": t, "reason": reasons[i], "answer": a}
                   for i, t, a in zip(g.ids, g.texts, g.answers)],
         "suggestion": {"id": g.suggestion[0], "score": g.suggestion[1]} if g.suggestion else None}
        for g in groups]})


async def resolve_unanswered(request: web.Request) -> web.Response:
    """Close inbox questions once an entry (new, or with them added as phrasings) answers them."""
    await require(request, "owner")
    body = await json_object(request)
    ids, entry_id = body.get("ids"), body.get("entry_id")
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids) or not isinstance(entry_id, str):
        raise web.HTTPBadRequest(text='body must be {"ids": [..], "entry_id": "..."}')
    async with request.app[SESSIONS]() as session:
        if await session.get(KBEntry, entry_id) is None:
            raise web.HTTPNotFound(text=f"no entry {entry_id!r}")
        rows = (await session.scalars(select(UnansweredQuestion).where(UnansweredQuestion.id.in_(ids)))).all()
        for row in rows:
            row.entry_id, row.resolved_at = entry_id, utcnow()
        await session.commit()
    return web.json_response({"resolved": len(rows)})


def setup(app: web.Application) -> None:
    app[ANSWERED_NOW] = AnsweredNow()
    app.router.add_get("/api/kb/entries", list_entries)
    app.router.add_get("/api/kb/entries/{entry_id}", get_entry)
    app.router.add_put("/api/kb/entries/{entry_id}", put_entry)
    app.router.add_post("/api/kb/entries", new_entry)
    app.router.add_delete("/api/kb/entries/{entry_id}", remove_entry)
    app.router.add_post("/api/kb/entries/{entry_id}/rollback", rollback)
    app.router.add_post("/api/kb/search", try_question)
    app.router.add_get("/api/kb/export", export_kb)
    app.router.add_post("/api/kb/import", import_kb)
    app.router.add_get("/api/kb/unanswered", unanswered)
    app.router.add_post("/api/kb/unanswered/resolve", resolve_unanswered)
    app.router.add_get("/admin/kb", admin_page)
