from knowledge.catalog import Catalog, ProductRecord, fill
from knowledge.files import read_catalog_file
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
