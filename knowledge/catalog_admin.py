"""Owner API and page for the catalog: products edited live (the bot recommends and describes the new version as
soon as a save returns), every change a revision, pictures uploaded and made fit for cards."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web
from sqlalchemy import select

from core.db import Product
from knowledge.catalog import CATEGORY_WORDS
from knowledge.gifts import OCCASION_ZH, RECIPIENT_ZH
from knowledge.admin import restore_revision, save_revisioned
from knowledge.pictures import MAX_UPLOAD_BYTES, PictureError, product_picture
from knowledge.revisions import change_json
from knowledge.store import PRODUCTS, product_history
from web.auth import CSRF, require, require_page
from web.body import json_object
from web.i18n import render_page
from web.keys import SESSIONS
from web.media import media_dir, save_media

CATEGORY_ZH = {category: words[0] for category, words in CATEGORY_WORDS.items()}  # 茶, 茶具, 干果 …
SHELF = {category: place for place, category in enumerate(CATEGORY_ZH)}  # the list's order: tea first


def _product_json(row: Product) -> dict:
    return {**PRODUCTS.data(row), "revision": row.revision, "updated_at": row.updated_at.isoformat()}


async def list_products(request: web.Request) -> web.Response:
    await require(request, "owner")
    async with request.app[SESSIONS]() as session:
        rows = (await session.scalars(select(Product).order_by(Product.id))).all()
        products = [_product_json(row) for row in sorted(rows, key=lambda row: SHELF.get(row.category, len(SHELF)))]
    return web.json_response({"products": products})


async def get_product(request: web.Request) -> web.Response:
    await require(request, "owner")
    product_id = request.match_info["product_id"]
    async with request.app[SESSIONS]() as session:
        row = await session.get(Product, product_id)
        history = await session.run_sync(product_history, product_id)
        product = _product_json(row) if row else None
    if row is None and not history:
        raise web.HTTPNotFound(text=f"没有这个商品。 No product {product_id!r}.")
    return web.json_response({"product": product, "revisions": [change_json(change) for change in history]})


async def put_product(request: web.Request) -> web.Response:
    """Create or replace a product; the bot has the new version when this returns."""
    principal = await require(request, "owner")
    body = await json_object(request)
    body["id"] = request.match_info["product_id"]
    return await _save(request, principal, body)


async def new_product(request: web.Request) -> web.Response:
    """Create a product whose id the shop makes from its English name or category (dianhong-black-tea, tea-2 …):
    ids are what the KB and the bot refer to, so they stay readable and never change."""
    principal = await require(request, "owner")
    body = await json_object(request)
    stem = re.sub(r"[^a-z0-9]+", "-", str(body.get("name_en") or body.get("category") or "product").lower())
    stem = stem.strip("-")[:50] or "product"  # with -N, room for Telegram's 64-byte button data (ask:ID)
    async with request.app[SESSIONS]() as session:
        body["id"] = await session.run_sync(PRODUCTS.free_id, stem)
    return await _save(request, principal, body, status=201)


async def _save(request: web.Request, principal, body: dict, status: int = 200) -> web.Response:
    product = await save_revisioned(request, PRODUCTS, body, principal, _product_json)
    return web.json_response({"product": product}, status=status)


async def rollback(request: web.Request) -> web.Response:
    principal = await require(request, "owner")
    product = await restore_revision(request, PRODUCTS, request.match_info["product_id"], principal, _product_json)
    return web.json_response({"product": product})


async def upload_picture(request: web.Request) -> web.Response:
    """A picture for a product card: checked, turned upright, at most 1024 px, saved as JPEG. The product shows
    it once saved with its URL (so an upload alone changes nothing the customers see)."""
    await require(request, "owner")
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise web.HTTPBadRequest(text="send the picture as multipart field `file`")
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    try:
        picture = await asyncio.to_thread(product_picture, data)
    except PictureError as exc:
        raise web.HTTPUnprocessableEntity(text=str(exc)) from None
    url = await asyncio.to_thread(save_media, media_dir(request.app), picture, "jpg", "products")
    return web.json_response({"image": url}, status=201)


async def catalog_page(request: web.Request) -> web.Response:
    principal = await require_page(request, "owner")
    return render_page(request, "admin_catalog.html", user=principal.name, role=principal.role, csrf=request[CSRF],
                       categories=CATEGORY_ZH, recipients=RECIPIENT_ZH, occasions=OCCASION_ZH)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/catalog/products", list_products)
    app.router.add_post("/api/catalog/products", new_product)
    app.router.add_get("/api/catalog/products/{product_id}", get_product)
    app.router.add_put("/api/catalog/products/{product_id}", put_product)
    app.router.add_post("/api/catalog/products/{product_id}/rollback", rollback)
    app.router.add_post("/api/catalog/pictures", upload_picture)
    app.router.add_get("/admin/catalog", catalog_page)
