from pathlib import Path

import pytest

from knowledge.files import ImportFileError, read_catalog_file, read_kb_file, read_shipping_file, write_kb_csv, write_yaml
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
