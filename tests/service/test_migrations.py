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


def test_a_demo_shop_from_before_gets_a_picture_per_product_and_an_owners_own_are_kept(tmp_path: Path):
    """The category pictures are gone: a demo product still showing one now shows its own; nothing else moves."""
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine, "0013")
    rows = [("puer-raw-cake", "tea", "/static/products/tea.png"), ("beef-jerky", "snack", "/media/products/mine.jpg"),
            ("my-own-tea", "tea", "/static/products/tea.png")]
    with engine.begin() as connection:
        for product_id, category, image in rows:
            connection.exec_driver_sql(
                "INSERT INTO products (id, name, name_en, aliases, region, origin, category, price, unit, unit_en, "
                "weight_g, shelf_life, shelf_life_en, storage, storage_en, vacuum_packing, cold_chain, stock, "
                "recipients, occasions, tags, description, description_en, image, updated_at) VALUES "
                "(?, '茶', '', '[]', '云南', '云南', ?, 1, '', '', 1, '', '', '', '', 0, 0, 1, '[]', '[]', '[]', '', '', "
                "?, '2026-01-01')", (product_id, category, image))
    upgrade(engine)
    with engine.connect() as connection:
        images = dict(connection.exec_driver_sql("SELECT id, image FROM products").all())
        revisions = set(connection.exec_driver_sql("SELECT revision FROM products").scalars())
    assert images == {"puer-raw-cake": "/static/products/puer-raw-cake.png",
                      "beef-jerky": "/media/products/mine.jpg", "my-own-tea": "/static/products/tea.png"}
    assert revisions == {1}
    assert (Path(__file__).parents[2] / "handoff/static/products/puer-raw-cake.png").is_file()
