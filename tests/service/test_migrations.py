"""Migrations build the schema the models describe, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select

from core.db import Base, Conversation, Customer, Message, make_async_engine, make_async_session_factory
from core.migrate import downgrade, upgrade
from core.settings import Settings
from tests.postgres_server import postgres_cluster

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


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_cluster() as url:
        yield url


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
