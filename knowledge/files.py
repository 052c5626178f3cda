"""Reading and writing the KB, catalog and shipping files (YAML, and CSV for the KB).

Every record is validated before anything is written; an error names the file,
the line and the field, and the import changes nothing.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TOPICS = ("shelf_life", "storage", "vacuum_packing", "shipping", "product_info", "payment",
          "after_sales", "other")
TOPIC_NAMES = {"shelf_life": "保质期", "storage": "保存方法", "vacuum_packing": "真空包装", "shipping": "运费和发货",
               "product_info": "商品介绍", "payment": "付款和发票", "after_sales": "售后", "other": "其他"}  # for owners
RECIPIENTS = ("elder", "parent", "boss", "colleague", "friend", "child", "partner", "client",
              "teacher", "patient")
OCCASIONS = ("spring_festival", "mid_autumn", "dragon_boat", "birthday", "business_visit",
             "hospital_visit", "wedding", "housewarming", "teachers_day", "everyday")
CSV_COLUMNS = ("id", "topic", "product", "questions", "answer")
CSV_EXTRA_COLUMNS = ("tags", "answer_en")  # optional, after the required ones


class ImportFileError(ValueError):
    """A file that cannot be imported; the message says where and why."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class KBEntryIn(_Record):
    id: str = Field(min_length=1, max_length=96, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    topic: Literal[TOPICS]  # type: ignore[valid-type]
    product: str = Field(default="", max_length=64)
    questions: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1)
    answer_en: str = ""  # optional English answer
    tags: list[str] = Field(default_factory=list)

    @field_validator("questions")
    @classmethod
    def _questions_not_blank(cls, value: list[str]) -> list[str]:
        cleaned = [q.strip() for q in value]
        if any(not q for q in cleaned):
            raise ValueError("questions must not be empty strings")
        return cleaned


class ProductIn(_Record):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    name: str = Field(min_length=1, max_length=128)
    name_en: str = Field(default="", max_length=128)
    aliases: list[str] = Field(default_factory=list)
    region: str = Field(max_length=32)
    origin: str = Field(max_length=16)
    category: str = Field(max_length=32)
    price: Decimal = Field(ge=0, lt=100_000_000)
    unit: str = Field(default="", max_length=32)
    unit_en: str = Field(default="", max_length=32)
    weight_g: int = Field(ge=0)
    shelf_life_days: int | None = Field(default=None, ge=0)
    shelf_life: str
    shelf_life_en: str = ""
    storage: str
    storage_en: str = ""
    vacuum_packing: bool = False
    cold_chain: bool = False
    stock: int = Field(default=0, ge=0)
    recipients: list[Literal[RECIPIENTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    occasions: list[Literal[OCCASIONS]] = Field(default_factory=list)  # type: ignore[valid-type]
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    description_en: str = ""
    # A picture the app serves: the demo's under /static/products/, an owner's upload under /media/products/.
    image: str = Field(default="", max_length=256, pattern=r"^(/(static|media)/products/[A-Za-z0-9_\-][A-Za-z0-9_.\-]*)?$")

    @field_validator("price")
    @classmethod
    def _in_cents(cls, value: Decimal) -> Decimal:
        """Prices are kept to the fen, so 128 and 128.00 are one price (and one revision, not two)."""
        return value.quantize(Decimal("0.01"))


class ShippingRateIn(_Record):
    origin: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    days_min: int = Field(ge=0)
    days_max: int = Field(ge=0)
    fee: Decimal = Field(ge=0)
    cold_chain: bool = False
    cold_chain_fee: Decimal = Field(default=Decimal("0"), ge=0)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line each mapping starts on."""


def _construct_mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line)


def read_yaml_records(path: Path, key: str) -> list[dict[str, Any]]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ImportFileError(f"{path}:{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text") from exc
    if isinstance(document, dict) and key in document:
        records = document[key]
    elif isinstance(document, list):
        records = document
    else:
        raise ImportFileError(f"{path}: expected a top-level `{key}:` list")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ImportFileError(f"{path}: `{key}` must be a list of mappings")
    return records


def _read_csv_records(path: Path) -> list[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:  # newline="": keep \r inside fields
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ImportFileError(f"{path}: line 1: missing column(s) {', '.join(missing)}")
    records = []
    for row in reader:
        if None in row:
            raise ImportFileError(f"{path}: line {reader.line_num}: more fields than columns")
        record: dict[str, Any] = {k: (v or "") for k, v in row.items() if k in CSV_COLUMNS}
        record["questions"] = [q for q in record["questions"].split("|") if q.strip()]
        if row.get("tags"):
            record["tags"] = [t for t in row["tags"].split("|") if t.strip()]
        if "answer_en" in row:  # a file without the column leaves stored English answers alone
            record["answer_en"] = row["answer_en"] or ""
        record["__line__"] = reader.line_num
        records.append(record)
    return records


def _validate(path: Path, records: list[dict[str, Any]], model: type[BaseModel], unique) -> list:
    items, seen = [], {}
    for position, raw in enumerate(records, start=1):
        line = raw.pop("__line__", None)
        where = f"line {line}" if line else f"record {position}"
        try:
            item = model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(record)"
            raise ImportFileError(f"{path}: {where}: field `{field}`: {first['msg']}") from exc
        key = unique(item)
        if key in seen:
            raise ImportFileError(f"{path}: {where}: duplicate {key!r} (first at {seen[key]})")
        seen[key] = where
        items.append(item)
    return items


def read_kb_file(path: Path) -> list[KBEntryIn]:
    records = _read_csv_records(path) if path.suffix.lower() == ".csv" else read_yaml_records(path, "entries")
    return _validate(path, records, KBEntryIn, lambda e: e.id)


def read_catalog_file(path: Path) -> list[ProductIn]:
    return _validate(path, read_yaml_records(path, "products"), ProductIn, lambda p: p.id)


def read_shipping_file(path: Path) -> list[ShippingRateIn]:
    return _validate(path, read_yaml_records(path, "rates"), ShippingRateIn,
                     lambda r: (r.origin, r.destination))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def write_yaml(path: Path, key: str, records: list[BaseModel]) -> None:
    data = {key: [{k: _plain(v) for k, v in r.model_dump().items()} for r in records]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def write_kb_csv(path: Path, entries: list[KBEntryIn]) -> None:
    for entry in entries:
        bad = [q for q in entry.questions if "|" in q]
        if bad:
            raise ImportFileError(f"entry {entry.id}: a question contains '|', which CSV uses as separator; export as YAML")
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CSV_COLUMNS, *CSV_EXTRA_COLUMNS])
        for e in entries:
            writer.writerow([e.id, e.topic, e.product, "|".join(e.questions), e.answer, "|".join(e.tags),
                             e.answer_en])


def write_kb_file(path: Path, entries: list[KBEntryIn]) -> None:
    """YAML or CSV, by the file's ending."""
    if path.suffix.lower() == ".csv":
        write_kb_csv(path, entries)
    else:
        write_yaml(path, "entries", entries)
