from pathlib import Path

import pytest

from knowledge.files import (
    ImportFileError, KBEntryIn, read_catalog_file, read_kb_file, read_shipping_file, write_kb_csv, write_yaml,
)
from knowledge.store import DEMO_DIR


def test_demo_shop_meets_its_brief():
    products = read_catalog_file(DEMO_DIR / "catalog.yml")
    entries = read_kb_file(DEMO_DIR / "kb.yml")
    rates = read_shipping_file(DEMO_DIR / "shipping.yml")
    assert len(products) >= 40
    assert len({p.region for p in products}) >= 8 and len({p.category for p in products}) >= 8
    assert len(entries) >= 120 and all(len(e.questions) >= 3 for e in entries)
    topics = {e.topic for e in entries}
    assert {"shelf_life", "storage", "vacuum_packing", "shipping", "payment", "after_sales"} <= topics
    ids = {p.id for p in products}
    assert all(e.product in ids for e in entries if e.product)
    origins = {p.origin for p in products}
    destinations = {r.destination for r in rates}
    assert len(destinations) == 31  # every province-level division of the mainland
    assert {(o, d) for o in origins for d in destinations} <= {(r.origin, r.destination) for r in rates}


def test_yaml_error_names_line_and_field(tmp_path: Path):
    path = tmp_path / "kb.yml"
    path.write_text("entries:\n- id: ok-1\n  topic: storage\n  questions: [怎么保存]\n  answer: 阴凉处\n"
                    "- id: bad-1\n  topic: weather\n  questions: [天气]\n  answer: 晴\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"line 6: field `topic`"):
        read_kb_file(path)


def test_csv_error_names_line_and_field(tmp_path: Path):
    path = tmp_path / "kb.csv"
    path.write_text("id,topic,product,questions,answer\nok-1,storage,,怎么保存|要冷藏吗,阴凉处\n"
                    "bad-2,storage,,,没有问题的条目\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"line 3: field `questions`"):
        read_kb_file(path)


def test_csv_missing_column_is_reported(tmp_path: Path):
    path = tmp_path / "kb.csv"
    path.write_text("id,topic,questions\nx,storage,a\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="missing column"):
        read_kb_file(path)


def test_duplicate_ids_are_refused(tmp_path: Path):
    path = tmp_path / "kb.yml"
    path.write_text("entries:\n- {id: a, topic: other, questions: [q], answer: x}\n"
                    "- {id: a, topic: other, questions: [q2], answer: y}\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="duplicate 'a'"):
        read_kb_file(path)


def test_broken_yaml_is_reported(tmp_path: Path):
    path = tmp_path / "kb.yml"
    path.write_text("entries:\n- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="not valid YAML"):
        read_kb_file(path)


def test_yaml_and_csv_round_trip(tmp_path: Path):
    entries = read_kb_file(DEMO_DIR / "kb.yml")
    write_yaml(tmp_path / "out.yml", "entries", entries)
    write_kb_csv(tmp_path / "out.csv", entries)
    assert read_kb_file(tmp_path / "out.yml") == entries
    assert read_kb_file(tmp_path / "out.csv") == entries


def test_answer_en_round_trips_through_yaml_and_csv(tmp_path: Path):
    entries = [
        KBEntryIn(id="puer-keep", topic="shelf_life", product="puer-raw-cake", questions=["普洱能放多久"],
                  answer="{name}越陈越香，{shelf_life}。",
                  answer_en='{name} improves with age: "{shelf_life}", kept dry, away from odours.\nAsk us anything.'),
        KBEntryIn(id="pay", topic="payment", questions=["能用微信吗"], answer="可以。", tags=["微信"]),
    ]
    write_yaml(tmp_path / "out.yml", "entries", entries)
    write_kb_csv(tmp_path / "out.csv", entries)
    for name in ("out.yml", "out.csv"):
        back = read_kb_file(tmp_path / name)
        assert back == entries
        assert back[0].answer_en.startswith('{name} improves with age: "{shelf_life}", kept dry')
        assert back[1].answer_en == ""
    assert (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0] == \
        "id,topic,product,questions,answer,tags,answer_en"


def test_csv_without_answer_en_column_still_imports(tmp_path: Path):
    path = tmp_path / "kb.csv"
    path.write_text("id,topic,product,questions,answer\nok-1,storage,,怎么保存|要冷藏吗,阴凉处\n", encoding="utf-8")
    [entry] = read_kb_file(path)
    assert (entry.id, entry.questions, entry.answer, entry.answer_en) == ("ok-1", ["怎么保存", "要冷藏吗"], "阴凉处", "")
    assert "answer_en" not in entry.model_fields_set  # so an import keeps a stored English answer


def test_product_english_fields_are_read(tmp_path: Path):
    path = tmp_path / "catalog.yml"
    path.write_text("products:\n- id: tea-1\n  name: 普洱\n  name_en: Pu'er\n  region: 云南\n  origin: 云南\n"
                    "  category: 茶\n  price: 98\n  unit: 饼\n  unit_en: cake\n  weight_g: 357\n"
                    "  shelf_life: 长期\n  shelf_life_en: keeps for years\n  storage: 阴凉干燥\n"
                    "  storage_en: cool and dry\n  description: 老树普洱。\n  description_en: Old-tree Pu'er.\n"
                    "- id: tea-2\n  name: 红茶\n  region: 云南\n  origin: 云南\n  category: 茶\n  price: 60\n"
                    "  weight_g: 250\n  shelf_life: 两年\n  storage: 密封\n", encoding="utf-8")
    english, plain = read_catalog_file(path)
    assert (english.unit_en, english.shelf_life_en, english.storage_en, english.description_en) == (
        "cake", "keeps for years", "cool and dry", "Old-tree Pu'er.")
    assert (plain.unit_en, plain.shelf_life_en, plain.storage_en, plain.description_en) == ("", "", "", "")
