"""Migrations build the schema the models describe, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from core.db import Base, Conversation, Customer, Message, make_async_engine, make_async_session_factory
from core.migrate import downgrade, upgrade
from core.settings import Settings

TABLES = {"customers", "conversations", "messages", "conversation_events", "products", "kb_entries",
          "shipping_rates", "alembic_version"}


def assert_schema_matches_models(engine) -> None:
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_sqlite_upgrade_is_idempotent_and_matches_models(tmp_path: Path):
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    upgrade(engine)
    assert_schema_matches_models(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL cluster on a free loopback port (Debian's postgresql package)."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql); .ci/run installs them")
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data = Path(tempfile.mkdtemp(prefix="techan-pg-"))
    if as_postgres:
        shutil.chown(data, "postgres")
    port = _free_port()
    subprocess.run([*as_postgres, initdb, "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data / "db"), "-w", "-t", "60", "-l", str(data / "log"), "-o",
                    f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, timeout=90)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data / "db"), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def test_postgres_migrations_apply_and_match_models(postgres_url):
    settings = Settings(_env_file=None, database_url=postgres_url)
    engine = create_engine(settings.sqlalchemy_url)
    upgrade(engine)
    assert_schema_matches_models(engine)
    engine.dispose()


async def test_app_engine_reads_and_writes_postgres(postgres_url, tmp_path: Path):
    settings = Settings(_env_file=None, database_url=postgres_url, data_dir=tmp_path)
    upgrade(create_engine(settings.sqlalchemy_url))
    engine = make_async_engine(settings)
    sessions = make_async_session_factory(engine)
    async with sessions() as session:
        customer = Customer(channel="web", external_id="pg-1", name="王")
        session.add(customer)
        await session.flush()
        conversation = Conversation(customer_id=customer.id, channel="web")
        session.add(conversation)
        await session.flush()
        session.add(Message(conversation_id=conversation.id, direction="in", author="customer", channel="web",
                            text="普洱茶保质期多久？🍵", payload={"meta": {"kb": [{"id": "x"}]}}))
        await session.commit()
    async with sessions() as session:
        message = await session.scalar(select(Message))
        assert message.text == "普洱茶保质期多久？🍵" and message.payload["meta"]["kb"][0]["id"] == "x"
    await engine.dispose()
