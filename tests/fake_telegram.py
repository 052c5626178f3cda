"""A fake Telegram Bot API server on 127.0.0.1: it records every request and serves the updates a test queues.

python-telegram-bot talks to it through ``base_url``, so the real client code runs unchanged.
Only the methods techan uses are implemented, with the fields python-telegram-bot requires.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-token-for-the-fake-server"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "特产小店", "username": "techan_test_bot"}
MAX_LONG_POLL_S = 1.0


@dataclass
class FakeBotAPI:
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    flood: dict[str, int] = field(default_factory=dict)  # method -> seconds to ask for, once
    flooded_chats: dict[str, float] = field(default_factory=dict)  # chat -> monotonic time its flood control ends
    refused: set[str] = field(default_factory=set)  # a call whose text, caption or topic name has one: 400
    group_limit: tuple[int, float] | None = None  # (calls, seconds) a group takes before flood control, as Telegram
    downloads: list[str] = field(default_factory=list)  # file paths fetched through /file/bot…
    forum_chats: set[int] = field(default_factory=set)
    removed_from: set[int] = field(default_factory=set)  # groups the bot was removed from: every call there is 403
    polls: int = 0  # getUpdates requests (kept out of ``calls``, which they would flood)
    conflicts: int = 0  # long polls ended by another one, as Telegram ends them (two pollers of one bot)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _arrived: asyncio.Event | None = None
    _waiting: list[dict[str, bool]] = field(default_factory=list)  # the long polls in wait: {"ended": ...}

    # ------------------------------------------------------------ what tests do
    def user(self, user_id: int, name: str = "小王", language: str = "zh-hans") -> dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": language}

    def push(self, update: dict[str, Any]) -> int:
        update = {"update_id": next(self._ids), **update}
        self.updates.append(update)
        if self._arrived is not None:
            self._arrived.set()
        return update["update_id"]

    def chat(self, chat_id: int, kind: str = "private") -> dict[str, Any]:
        return {"id": chat_id, "type": kind, **({"first_name": "小王"} if kind == "private" else {"title": "店员群"})}

    def text(self, user_id: int, text: str, chat_id: int | None = None, name: str = "小王", **extra) -> int:
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self.chat(chat_id or user_id, "private" if chat_id is None else "supergroup"),
                   "from": self.user(user_id, name), "text": text, **extra}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return self.push({"message": message})

    def voice(self, user_id: int, data: bytes, declared: bool = True) -> int:
        """A voice note; ``declared``: the update says its size (Telegram may leave it out)."""
        return self.push(self.voice_update(user_id, data, declared))

    def voice_update(self, user_id: int, data: bytes, declared: bool = True) -> dict[str, Any]:
        file_id = f"voice{len(self.files)}"
        self.files[file_id] = data
        voice = {"file_id": file_id, "file_unique_id": file_id, "duration": 2, "mime_type": "audio/ogg",
                 **({"file_size": len(data)} if declared else {})}
        return {"message": {"message_id": next(self._message_ids), "date": int(time.time()),
                            "chat": self.chat(user_id), "from": self.user(user_id), "voice": voice}}

    def message(self, user_id: int, language: str = "zh-hans", **content) -> dict[str, Any]:
        """A customer's message in their private chat, with ``content`` (a sticker, a contact, …)."""
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self.chat(user_id),
                "from": self.user(user_id, language=language), **content}

    def send(self, user_id: int, language: str = "zh-hans", **content) -> tuple[int, int]:
        """A customer (whose app is in ``language``) sends a message of any kind; returns (update id, message id)."""
        message = self.message(user_id, language, **content)
        return self.push({"message": message}), message["message_id"]

    def edit(self, user_id: int, message_id: int, text: str) -> int:
        """The customer edits a message they sent (Telegram sends it again as ``edited_message``)."""
        message = {**self.message(user_id, text=text), "message_id": message_id, "edit_date": int(time.time())}
        return self.push({"edited_message": message})

    def sticker(self, user_id: int, emoji: str) -> int:
        return self.send(user_id, sticker={"file_id": "sticker1", "file_unique_id": "st1", "width": 512,
                                           "height": 512, "is_animated": False, "is_video": False,
                                           "type": "regular", "emoji": emoji})[0]

    def attachment(self, user_id: int, kind: str, data: bytes, caption: str = "", language: str = "zh-hans",
                   **fields) -> int:
        """A photo or a document (``fields``: file_name, mime_type); the file is served for downloading."""
        file_id = f"{kind}{len(self.files)}"
        self.files[file_id] = data
        described = {"file_id": file_id, "file_unique_id": file_id, "file_size": len(data), **fields}
        content = [{**described, "width": 640, "height": 480}] if kind == "photo" else described
        return self.send(user_id, language, **{kind: content}, **({"caption": caption} if caption else {}))[0]

    def flood_chat(self, chat_id: int, seconds: float) -> None:
        """Telegram's flood control on one chat: every call to it is answered 429 for ``seconds``."""
        self.flooded_chats[str(chat_id)] = time.monotonic() + seconds

    def press(self, user_id: int, sent: dict[str, Any], data: str, chat_id: int | None = None) -> int:
        """Press a button on a message the bot sent (``sent`` is the recorded request's result)."""
        return self.push({"callback_query": {"id": str(next(self._ids)), "from": self.user(user_id),
                                             "chat_instance": "ci", "data": data, "message": sent}})

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Every call made (``_refused`` holds the error code of one the server refused)."""
        return [params for name, params in self.calls if (method is None or name == method)
                and (chat_id is None or str(params.get("chat_id")) == str(chat_id))]

    def delivered(self, method: str | None = None, chat_id: int | None = None) -> list[dict[str, Any]]:
        """The calls the server took."""
        return [params for params in self.sent(method, chat_id) if "_refused" not in params]

    # ------------------------------------------------------------ the server
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        params: dict[str, Any] = {}
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = {"file": value.filename, "size": len(value.file.read())}
                continue
            try:
                params[key] = json.loads(value) if value[:1] in "[{" else value
            except ValueError:
                params[key] = value
        return params

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method, params = request.match_info["method"], await self._params(request)
        record = {**params, "_at": time.monotonic()}
        if method == "getUpdates":
            self.polls += 1
        else:
            self.calls.append((method, record))
        if method in self.flood:
            return self._too_many(record, self.flood.pop(method))
        if wait := self._flood_wait(method, params):
            return self._too_many(record, wait)
        if str(params.get("chat_id")) in {str(chat) for chat in self.removed_from}:
            record["_refused"] = 403
            return web.json_response({"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was kicked from the supergroup chat"}, status=403)
        words = " ".join(str(params.get(key, "")) for key in ("text", "caption", "name"))
        if any(word in words for word in self.refused):
            record["_refused"] = 400
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": "Bad Request: can't parse entities"}, status=400)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404, "description": f"fake: no {method}"}, status=404)
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        if isinstance(result, dict) and "message_id" in result and method != "createForumTopic":
            record["_result"] = result
        return web.json_response({"ok": True, "result": result})

    def _flood_wait(self, method: str, params: dict[str, Any]) -> int:
        """Seconds Telegram would ask for: a flooded chat, or a group over its limit (counting taken calls)."""
        chat = str(params.get("chat_id", ""))
        if not chat or method == "getChat":
            return 0
        if (until := self.flooded_chats.get(chat, 0.0)) > time.monotonic():
            return math.ceil(until - time.monotonic())
        if self.group_limit and chat.startswith("-"):
            count, window = self.group_limit
            recent = [p for p in self.delivered(chat_id=chat)[:-1] if p["_at"] > time.monotonic() - window]
            if len(recent) >= count:
                return math.ceil(recent[0]["_at"] + window - time.monotonic())
        return 0

    @staticmethod
    def _too_many(record: dict[str, Any], wait: int) -> web.Response:
        record["_refused"], record["_retry_after"] = 429, wait
        return web.json_response({"ok": False, "error_code": 429, "parameters": {"retry_after": wait},
                                  "description": f"Too Many Requests: retry after {wait}"}, status=429)

    async def _file(self, request: web.Request) -> web.Response:
        self.downloads.append(request.match_info["path"])
        data = self.files.get(request.match_info["path"].removeprefix("files/"))
        return web.Response(body=data) if data is not None else web.Response(status=404)

    def _message(self, params: dict[str, Any], **content) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                   "chat": self.chat(chat_id, "private" if chat_id > 0 else "supergroup"), **content}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        if params.get("message_thread_id"):
            message["message_thread_id"] = int(params["message_thread_id"])
        return message

    async def _m_getMe(self, params):
        return {**BOT_USER, "can_join_groups": True, "can_read_all_group_messages": True,
                "supports_inline_queries": False}

    async def _m_getUpdates(self, params):
        for other in self._waiting:  # Telegram ends the poll in wait with 409 when another one comes
            other["ended"] = True
        if self._waiting and self._arrived is not None:
            self._arrived.set()
        offset = int(params.get("offset") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._arrived = asyncio.Event()
            me = {"ended": False}
            self._waiting.append(me)
            try:
                await asyncio.wait_for(self._arrived.wait(), min(float(params.get("timeout") or 0), MAX_LONG_POLL_S))
            except TimeoutError:
                pass
            finally:
                self._waiting.remove(me)
            if me["ended"]:
                self.conflicts += 1
                return web.json_response({"ok": False, "error_code": 409, "description": "Conflict: terminated by "
                                          "other getUpdates request; make sure that only one bot instance is "
                                          "running"}, status=409)
        return list(self.updates)

    async def _m_deleteWebhook(self, params):
        return True

    async def _m_setWebhook(self, params):
        return True

    async def _m_sendMessage(self, params):
        return self._message(params, text=params["text"])

    async def _m_sendPhoto(self, params):
        return self._message(params, caption=params.get("caption", ""),
                             photo=[{"file_id": "sent-photo", "file_unique_id": "sp", "width": 320, "height": 240}])

    async def _m_sendVoice(self, params):
        return self._message(params, caption=params.get("caption", ""),
                             voice={"file_id": "sent-voice", "file_unique_id": "sv", "duration": 2})

    async def _m_sendVideo(self, params):
        return self._message(params, caption=params.get("caption", ""),
                             video={"file_id": "sent-video", "file_unique_id": "sd", "width": 320, "height": 240,
                                    "duration": 2})

    async def _m_sendDocument(self, params):
        return self._message(params, caption=params.get("caption", ""),
                             document={"file_id": "sent-doc", "file_unique_id": "sc"})

    async def _m_editMessageReplyMarkup(self, params):
        return True

    async def _m_editMessageText(self, params):
        return True

    async def _m_answerCallbackQuery(self, params):
        return True

    async def _m_getFile(self, params):
        file_id = params["file_id"]
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files.get(file_id, b"")),
                "file_path": f"files/{file_id}"}

    async def _m_getChat(self, params):
        chat_id = int(params["chat_id"])
        return {**self.chat(chat_id, "supergroup"), "is_forum": chat_id in self.forum_chats, "accent_color_id": 0,
                "max_reaction_count": 11, "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                                                  "unique_gifts": False, "premium_subscription": False,
                                                                  "gifts_from_channels": False}}

    async def _m_createForumTopic(self, params):
        return {"message_thread_id": next(self._message_ids), "name": params["name"], "icon_color": 7322096}


class FakeBotAPIThread:
    """The fake server on its own thread and event loop, for tests whose app runs in another process."""

    def __init__(self) -> None:
        self.api = FakeBotAPI()
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0

    def __enter__(self) -> FakeBotAPIThread:
        started = threading.Event()

        async def serve() -> None:
            self.runner = web.AppRunner(self.api.app())
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            started.set()

        self.thread = threading.Thread(target=lambda: (self.loop.run_until_complete(serve()), self.loop.run_forever()),
                                       daemon=True)
        self.thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Telegram server did not start")
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def call(self, function, *args):
        """Run ``function(api, *args)`` on the server's loop (the api is not thread-safe)."""
        future = asyncio.run_coroutine_threadsafe(_apply(function, self.api, *args), self.loop)
        return future.result(10)

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def _apply(function, *args):
    return function(*args)
