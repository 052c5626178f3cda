"""Attachments: pictures staff send (checked by content) and customers' photos, voice notes and videos
from Telegram; stored under the data dir, served by unguessable name."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from aiohttp import web

from web.keys import SETTINGS

MAX_IMAGE_BYTES = 8 * 1024 * 1024
EXTENSIONS = ("jpg", "png", "webp", "gif", "ogg", "oga", "mp3", "m4a", "mp4", "webm", "pdf", "bin")
NAME = re.compile(rf"^[A-Za-z0-9_-]{{22}}\.({'|'.join(EXTENSIONS)})$")
# The format is decided by the bytes, never by the file name or the declared type.
SIGNATURES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))


def image_kind(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in SIGNATURES if data.startswith(magic)), None)


def media_dir(app: web.Application) -> Path:
    return app[SETTINGS].data_path / "media"


def store_image(app: web.Application, data: bytes) -> str:
    """Keep a picture and return the URL path it is served at; refuses anything that is not one."""
    if len(data) > MAX_IMAGE_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_IMAGE_BYTES, actual_size=len(data),
                                            text=f"the picture is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    kind = image_kind(data)
    if kind is None:
        raise web.HTTPBadRequest(text="the file is not a JPEG, PNG, WebP or GIF picture")
    return save_media(media_dir(app), data, kind)


def save_media(folder: Path, data: bytes, extension: str, under: str = "") -> str:
    """Write an attachment under a fresh random name (in ``under``, a kept folder such as the catalog's pictures,
    which the retention purge leaves alone); returns its URL path."""
    if extension not in EXTENSIONS:
        raise ValueError(f"attachments of type .{extension} are not kept")
    (folder / under).mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_urlsafe(16)}.{extension}"
    (folder / under / name).write_bytes(data)
    return f"/media/{under}/{name}" if under else f"/media/{name}"


async def serve_media(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    path = media_dir(request.app) / request.match_info.get("folder", "") / name
    if not NAME.match(name) or not path.is_file():
        raise web.HTTPNotFound(text="no such picture")
    return web.FileResponse(path, headers={"X-Content-Type-Options": "nosniff",
                                           "Cache-Control": "private, max-age=86400"})


def setup(app: web.Application) -> None:
    app.router.add_get("/media/{name}", serve_media)
    app.router.add_get("/media/{folder:products}/{name}", serve_media)
