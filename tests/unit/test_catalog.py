from dataclasses import replace

from knowledge.catalog import Catalog, ProductRecord, fill
from knowledge.files import ProductIn, read_catalog_file
from knowledge.store import DEMO_DIR


def demo_catalog() -> Catalog:
    products = read_catalog_file(DEMO_DIR / "catalog.yml")
    return Catalog({p.id: ProductRecord.from_row(p) for p in products})


def test_longest_product_name_wins():
    catalog = demo_catalog()
    assert catalog.find_in_text("普洱熟茶能放多久") == "puer-ripe-cake"
    assert catalog.find_in_text("普洱生茶能放多久") == "puer-raw-cake"
    assert catalog.find_in_text("Can you vacuum pack the Beef Jerky?") == "beef-jerky"
    assert catalog.find_in_text("今天天气不错") is None


def test_resolve_accepts_ids_and_names():
    catalog = demo_catalog()
    assert catalog.resolve("dahongpao") == "dahongpao"
    assert catalog.resolve("大红袍") == "dahongpao"
    assert catalog.resolve("不存在的东西") is None
    assert catalog.resolve(None) is None


def test_fill_uses_catalog_fields_and_keeps_unknown_placeholders():
    record = demo_catalog().get("flower-cake-rose")
    text = fill("{name}：{shelf_life}。{unknown} {不是占位符}", record.fields())
    assert text.startswith("玫瑰鲜花饼：45天")
    assert "{unknown}" in text and "{不是占位符}" in text


def test_english_fields_fall_back_to_chinese():
    chinese = demo_catalog().get("flower-cake-rose")
    bare = replace(chinese, name_en="", unit_en="", shelf_life_en="", storage_en="", description_en="")
    english = replace(bare, name_en="Rose Flower Cakes", unit_en="box of 6", shelf_life_en="45 days unopened",
                      storage_en="Keep cool and dry.", description_en="Fresh rose petals in flaky pastry. Baked daily.")
    assert english.fields() == {**bare.fields(), "name_en": "Rose Flower Cakes"}  # Chinese unchanged
    assert bare.fields()["shelf_life"].startswith("45天")
    values = english.fields("en")
    assert {k: values[k] for k in ("name", "unit", "shelf_life", "storage", "description")} == {
        "name": "Rose Flower Cakes", "unit": "box of 6", "shelf_life": "45 days unopened",
        "storage": "Keep cool and dry.", "description": "Fresh rose petals in flaky pastry. Baked daily."}
    assert values["price"] == bare.fields()["price"] and values["name_en"] == "Rose Flower Cakes"
    fallback = bare.fields("en")
    assert {k: fallback[k] for k in ("name", "unit", "shelf_life", "storage", "description")} == {
        "name": bare.name, "unit": bare.unit, "shelf_life": bare.shelf_life, "storage": bare.storage,
        "description": bare.description}
    assert fill("{name}: {shelf_life}", values) == "Rose Flower Cakes: 45 days unopened"


def test_english_card_reason_is_the_english_description():
    chinese = demo_catalog().get("flower-cake-rose")
    english = replace(chinese, name_en="Rose Flower Cakes",
                      description_en="Fresh rose petals in flaky pastry. Baked daily.")
    assert english.card(language="en")["reason"] == "Fresh rose petals in flaky pastry"
    assert english.card(language="en")["name"] == f"Rose Flower Cakes · {chinese.name}"
    assert english.card()["reason"] == chinese.description.split("。")[0]
    assert replace(english, description_en="").card(language="en")["reason"] == chinese.description.split("。")[0]
    assert english.card("送长辈很体面", language="en")["reason"] == "送长辈很体面"


def test_from_row_copies_the_english_fields():
    product = ProductIn(id="tea-1", name="普洱", name_en="Pu'er", region="云南", origin="云南", category="茶",
                        price=98, unit="饼", unit_en="cake", weight_g=357, shelf_life="长期",
                        shelf_life_en="keeps for years", storage="阴凉干燥", storage_en="cool and dry",
                        description="老树普洱。", description_en="Old-tree Pu'er.")
    record = ProductRecord.from_row(product)
    assert (record.unit_en, record.shelf_life_en, record.storage_en, record.description_en) == (
        "cake", "keeps for years", "cool and dry", "Old-tree Pu'er.")


def test_every_demo_product_has_a_picture_of_its_own():
    """Cards side by side used to show one checkerboard per category; each product's picture is now its own."""
    from hashlib import sha256
    from pathlib import Path

    static = Path(__file__).parents[2] / "handoff" / "static"
    products = read_catalog_file(DEMO_DIR / "catalog.yml")
    files = [static / p.image.removeprefix("/static/") for p in products]
    assert all(f.is_file() for f in files), [str(f) for f in files if not f.is_file()]
    assert len({sha256(f.read_bytes()).digest() for f in files}) == len(products)
    assert sorted(static.joinpath("products").iterdir()) == sorted(files)  # and no picture nobody shows
