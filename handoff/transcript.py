"""Messages and notes as the console and the web chat read them (JSON)."""

from __future__ import annotations

from core.db import Message, StaffNote, aware


def message_json(message: Message) -> dict:
    payload = message.payload or {}
    shown = {"id": message.id, "direction": message.direction, "author": message.author, "text": message.text,
             "buttons": payload.get("buttons", []), "products": payload.get("products", []),
             "image": payload.get("image"), "media": payload.get("media"),
             "delivery_status": message.delivery_status, "at": aware(message.created_at).isoformat()}
    if payload.get("feedback"):  # 有用 / 没用 under a knowledge answer delivered later (handoff.pending)
        shown["feedback"] = payload["feedback"]
    if payload.get("from"):  # the display name of the staff member who wrote it (or who joined)
        shown["from"] = payload["from"]
    if "edit_of" in payload:  # a customer's edit (Telegram): the message it changes, None if not kept
        shown["edit_of"] = payload["edit_of"]
    if payload.get("limit"):  # which abuse limit kept it from the bot (handoff.limits)
        shown["limit"] = payload["limit"]
    return shown


def note_json(note: StaffNote) -> dict:
    return {"id": note.id, "author": note.author, "text": note.text, "at": aware(note.created_at).isoformat()}
