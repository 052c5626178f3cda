"""Draw the demo shop's product pictures: one per product, so cards side by side are told apart at a glance.

A real shop uploads photos on the catalog page; the demo has none, so each product gets a picture in its
category's colours with its short name large and its full name below. Run after changing the demo catalog:

    .venv/bin/python -m knowledge.demo_pictures      (needs fonts-noto-cjk)
"""

from __future__ import annotations

import colorsys
import hashlib
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

from knowledge.store import DEMO_DIR

OUT = Path(__file__).resolve().parent.parent / "handoff" / "static" / "products"
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
SIZE = (480, 360)
HUES = {  # a colour family per category, in degrees
    "tea": 95, "coffee": 25, "condiment": 8, "cured_meat": 0, "dried_fruit": 35, "mushroom": 45, "nuts": 30,
    "pastry": 330, "pickle": 80, "porcelain": 215, "silk": 280, "snack": 15, "teaware": 20,
}


def colour(hue: float, saturation: float, lightness: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb((hue % 360) / 360, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


def fitted(draw: ImageDraw.ImageDraw, text: str, largest: int, width: int) -> ImageFont.FreeTypeFont:
    """The font at the largest size (down from ``largest``) at which ``text`` fits in ``width`` pixels."""
    for size in range(largest, 12, -2):
        font = ImageFont.truetype(str(FONT), size)
        if draw.textlength(text, font=font) <= width:
            return font
    return ImageFont.truetype(str(FONT), 12)


def draw(product: dict) -> Image.Image:
    """The product's picture: hue from its category, shade and pattern from its id, so no two look alike."""
    seed = hashlib.sha256(product["id"].encode()).digest()
    hue = HUES.get(product["category"], 40) + (seed[0] % 30) - 15
    image = Image.new("RGB", SIZE, colour(hue, 0.45, 0.86))
    pen = ImageDraw.Draw(image)
    for i in range(6):  # soft rings, placed by the id
        x, y, r = seed[1 + i] * SIZE[0] // 255, seed[7 + i] * SIZE[1] // 255, 30 + seed[13 + i] % 70
        pen.ellipse((x - r, y - r, x + r, y + r), outline=colour(hue, 0.4, 0.78), width=6)
    pen.rounded_rectangle((28, 70, SIZE[0] - 28, 290), radius=26, fill=colour(hue, 0.55, 0.32))
    short = (product.get("aliases") or [product["name"]])[0]
    big = fitted(pen, short, 110, SIZE[0] - 100)
    pen.text((SIZE[0] / 2, 165), short, font=big, fill="white", anchor="mm")
    small = fitted(pen, product["name"], 34, SIZE[0] - 100)
    pen.text((SIZE[0] / 2, 252), product["name"], font=small, fill=colour(hue, 0.5, 0.88), anchor="mm")
    return image


def main() -> None:
    products = yaml.safe_load((DEMO_DIR / "catalog.yml").read_text(encoding="utf-8"))["products"]
    for old in OUT.glob("*.png"):
        old.unlink()
    for product in products:
        path = OUT / f"{product['id']}.png"
        draw(product).quantize(colors=64).save(path, optimize=True)
        print(f"{path.relative_to(OUT.parent.parent.parent)}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
