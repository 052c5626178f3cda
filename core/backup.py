"""`techan backup` and `techan restore`: one archive holds a whole shop, so it can be kept, moved to another
machine, or moved from SQLite to PostgreSQL (and back).

The archive (a .tar.gz, readable by the owner only) holds every table's rows as JSON lines, read in one
transaction while the shop keeps running; the customers' photos and files (``media/``); the call recordings
(``recordings/``); and the secret key that signs chat and call links, so customers' open chats carry on after a
restore. A restore goes into an empty shop: the database is brought to the archive's schema revision, the rows
are loaded, and then it is upgraded to this version's schema like any other database."""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.util.exc import CommandError
from sqlalchemy import (Connection, Date, DateTime, Engine, MetaData, Numeric, Table, func, insert, inspect, select,
                        text)
from sqlalchemy import table as named_table
from sqlalchemy.exc import SQLAlchemyError

from core.db import Base, aware, make_engine
from core.migrate import downgrade, upgrade
from core.settings import Settings

FORMAT = 1
FOLDERS = ("media", "recordings")
SECRET_FILE = "secret_key"
BATCH = 500


class BackupError(Exception):
    """Something the owner can act on: said in one line, no stack trace."""


def backup(settings: Settings, target: Path, progress: Callable[[str], None] = print) -> dict[str, int]:
    """Write the shop into ``target``; returns each table's row count."""
    with _database_errors_said():
        return _backup(settings, Path(target), progress)


def restore(settings: Settings, source: Path, progress: Callable[[str], None] = print) -> dict[str, int]:
    """Load the archive at ``source`` into this (empty) shop; returns each table's row count."""
    with _database_errors_said():
        return _restore(settings, Path(source), progress)


@contextmanager
def _database_errors_said() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise BackupError(f"the database refused: {getattr(exc, 'orig', None) or exc}") from exc


def _backup(settings: Settings, target: Path, progress: Callable[[str], None]) -> dict[str, int]:
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    engine = make_engine(settings)
    counts: dict[str, int] = {}
    partial = target.with_name(f".{target.name}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the secret key
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as archive, \
                engine.connect() as connection:
            _one_snapshot(connection)
            revision = MigrationContext.configure(connection).get_current_revision()
            if revision is None:
                raise BackupError("this shop's database has no tables yet (run `techan db upgrade` or start it once)")
            for table in tables_as_stored(connection):
                counts[table.name] = _add_rows(archive, connection, table)
                progress(f"  {table.name}: {counts[table.name]} row(s)")
            connection.rollback()
            files = 0
            for folder in FOLDERS:
                path = settings.data_path / folder
                if path.is_dir():
                    archive.add(path, arcname=folder)
                    files += sum(1 for item in path.rglob("*") if item.is_file())
            progress(f"  media and recordings: {files} file(s)")
            secret = settings.data_path / SECRET_FILE
            if not settings.secret_key and secret.exists():
                archive.add(secret, arcname=SECRET_FILE)
            manifest = {"format": FORMAT, "revision": revision, "dialect": engine.dialect.name,
                        "created_at": datetime.now().astimezone().isoformat(timespec="seconds"), "rows": counts}
            _add_bytes(archive, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        partial.rename(target)
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    return counts


def _restore(settings: Settings, source: Path, progress: Callable[[str], None]) -> dict[str, int]:
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    try:
        archive = tarfile.open(source, mode="r:gz")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{source} is not a techan backup ({exc})") from exc
    with archive:
        manifest = _manifest(archive, source)
        engine = make_engine(settings)
        try:
            _schema_at(engine, manifest["revision"])
            with engine.begin() as connection:
                counts = {}
                for table in tables_as_stored(connection):
                    counts[table.name] = _load_rows(archive, connection, table)
                    progress(f"  {table.name}: {counts[table.name]} row(s)")
                if connection.dialect.name == "postgresql":
                    _advance_sequences(connection)
            upgrade(engine)
        finally:
            engine.dispose()
        files = _extract_files(archive, settings.data_path)
        progress(f"  media and recordings: {files} file(s)")
    loaded = {name: counts.get(name, 0) for name in manifest["rows"]}
    if loaded != manifest["rows"]:
        raise BackupError(f"the archive's rows did not all load: {loaded} against {manifest['rows']}")
    return counts


# ------------------------------------------------------------------ writing


def tables_as_stored(connection: Connection) -> list[Table]:
    """The shop's tables as the database has them now (a shop not yet upgraded lacks newer columns and tables),
    in the order the models' foreign keys need."""
    existing = set(inspect(connection).get_table_names())
    reflected = MetaData()
    return [Table(table.name, reflected, autoload_with=connection)
            for table in Base.metadata.sorted_tables if table.name in existing]


def _one_snapshot(connection: Connection) -> None:
    """Every table read as of one moment, while the app goes on writing."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:  # Python's sqlite3 only opens a transaction before a write: open the read transaction by hand
        connection.exec_driver_sql("BEGIN")


def _add_rows(archive: tarfile.TarFile, connection: Connection, table: Table) -> int:
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as lines:
        for row in connection.execute(select(table).order_by(*table.primary_key.columns)).mappings():
            lines.write(json.dumps(dict(row), default=_plain, ensure_ascii=False).encode() + b"\n")
            count += 1
        size = lines.tell()
        lines.seek(0)
        info = tarfile.TarInfo(f"db/{table.name}.jsonl")
        info.size, info.mtime, info.mode = size, int(datetime.now().timestamp()), 0o600
        archive.addfile(info, lines)
    return count


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(datetime.now().timestamp()), 0o600
    archive.addfile(info, io.BytesIO(data))


def _plain(value):
    if isinstance(value, datetime):
        return aware(value).isoformat()  # SQLite hands back UTC without its zone: written with it
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} into a backup")


# ------------------------------------------------------------------ reading


def _manifest(archive: tarfile.TarFile, source: Path) -> dict:
    try:
        manifest = json.loads(archive.extractfile("manifest.json").read())
    except (KeyError, AttributeError, ValueError) as exc:
        raise BackupError(f"{source} is not a techan backup (no readable manifest.json)") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} has backup format {manifest.get('format')}; this version reads {FORMAT}")
    return manifest


def _schema_at(engine: Engine, revision: str) -> None:
    """An empty shop's database brought to the archive's schema revision (down first if it is newer)."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        existing = set(inspect(connection).get_table_names())
        used = {table.name: n for table in Base.metadata.sorted_tables if table.name in existing
                and (n := connection.execute(select(func.count()).select_from(named_table(table.name))).scalar_one())}
    if used:
        listed = ", ".join(f"{name} ({n})" for name, n in used.items())
        raise BackupError(f"a restore goes into an empty shop, and this one has rows: {listed}. Point "
                          "TECHAN_DATA_DIR (and TECHAN_DATABASE_URL) at a new shop, with TECHAN_DEMO=0")
    try:
        if current not in (None, revision):
            downgrade(engine, "base")
        upgrade(engine, revision)
    except CommandError as exc:
        raise BackupError(f"the backup's schema ({revision}) is not one this version knows: it was made by a "
                          f"newer techan; upgrade this one first ({exc})") from exc


def _rows(archive: tarfile.TarFile, table: Table) -> Iterator[dict]:
    try:
        member = archive.extractfile(f"db/{table.name}.jsonl")
    except KeyError:
        return  # a table this version has and the archive's does not: nothing to load
    decoders = {column.name: _decoder(column.type) for column in table.columns}
    for line in member:
        row = json.loads(line)
        yield {name: decoders[name](value) if value is not None and name in decoders else value
               for name, value in row.items() if name in decoders}


def _decoder(kind) -> Callable:
    if isinstance(kind, DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, Numeric):
        return Decimal
    return lambda value: value


def _load_rows(archive: tarfile.TarFile, connection: Connection, table: Table) -> int:
    count, batch = 0, []
    for row in _rows(archive, table):
        batch.append(row)
        if len(batch) == BATCH:
            connection.execute(insert(table), batch)
            count, batch = count + len(batch), []
    if batch:
        connection.execute(insert(table), batch)
        count += len(batch)
    return count


def _advance_sequences(connection: Connection) -> None:
    """Rows came with their ids: PostgreSQL's id sequences must start after them."""
    for table in tables_as_stored(connection):
        if (column := table.autoincrement_column) is not None:
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false)"))


def _extract_files(archive: tarfile.TarFile, data_path: Path) -> int:
    data_path.mkdir(parents=True, exist_ok=True)
    members = [m for m in archive.getmembers()
               if m.name.split("/", 1)[0] in FOLDERS or m.name == SECRET_FILE]
    archive.extractall(data_path, members=members, filter="data")  # no paths outside the data dir, no links out
    return sum(1 for m in members if m.isfile() and m.name != SECRET_FILE)
