"""Product pictures owners upload: checked by decoding them, turned upright, shrunk and saved as JPEG.

What reaches customers is always a picture this module wrote (no camera metadata, no location, no
oversized file), whatever the owner's phone produced.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 12 * 1024 * 1024
MAX_PIXELS = 50_000_000  # a photo from any phone; a "decompression bomb" is refused before it is decoded
MIN_SIDE = 200  # smaller is a thumbnail that would look blurred on a card
LONGEST_SIDE = 1024  # enough for a card and for Telegram's photo view
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")


class PictureError(ValueError):
    """An upload that is not a usable product picture; the message is for the owner, in Chinese and English."""


def product_picture(data: bytes) -> bytes:
    """The upload as the JPEG the shop shows: at most ``LONGEST_SIDE`` pixels on its longer side."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise PictureError(f"图片太大：上限 {MAX_UPLOAD_BYTES >> 20} MB。 The picture is over {MAX_UPLOAD_BYTES >> 20} MB.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise PictureError("只收 JPEG、PNG、WebP 或 GIF 图片。 Only JPEG, PNG, WebP or GIF pictures.")
            if image.width * image.height > MAX_PIXELS:
                raise PictureError("图片像素太多。 The picture has too many pixels.")
            image.load()
            picture = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise PictureError("这不是能打开的图片文件。 The file is not a picture that can be opened.") from exc
    if min(picture.size) < MIN_SIDE:
        raise PictureError(f"图片太小：至少 {MIN_SIDE}×{MIN_SIDE} 像素。 "
                           f"The picture is too small: at least {MIN_SIDE}×{MIN_SIDE} pixels.")
    picture.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
    if picture.mode in ("RGBA", "LA", "P"):  # transparent parts on white, as on the shop's cards
        picture = picture.convert("RGBA")
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture, mask=picture.getchannel("A"))
        picture = flat
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()
