"""Service tier: in-process servers on 127.0.0.1, one embedding model loaded per session."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from knowledge.service import Knowledge, Snapshot, read_snapshot
from knowledge.store import load_demo
from techan.app import create_app
from core.db import Conversation, Customer, make_engine
from core.migrate import upgrade
from core.settings import Settings
from tests.conftest import shared_models_dir


def migrated_demo_shop(settings: Settings) -> None:
    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        load_demo(session, progress=lambda _m: None)
    engine.dispose()


@pytest.fixture(scope="session")
def demo_knowledge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Knowledge, Snapshot]:
    """The real embedding model and the demo KB, loaded once for the whole tier."""
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("kb"), models_dir=shared_models_dir())
    if not (settings.models_path / "intfloat__multilingual-e5-small" / "modules.json").exists():
        pytest.fail(f"no provisioned embedding model under {settings.models_path}: run `make setup` first")
    migrated_demo_shop(settings)
    service = Knowledge.from_settings(settings)
    engine = make_engine(settings)
    with Session(engine) as session:
        snapshot = read_snapshot(session)
    engine.dispose()
    service.apply(snapshot)
    return service, snapshot


@pytest.fixture
def knowledge(demo_knowledge) -> Knowledge:
    """The shared service, reset to the demo shop (tests that edit the KB change it)."""
    service, snapshot = demo_knowledge
    service.apply(snapshot)
    return service


@pytest.fixture
async def client(aiohttp_client, settings: Settings, knowledge: Knowledge):
    """The app on a scratch demo shop; Rasa points at a closed port unless a test says otherwise."""
    migrated_demo_shop(settings)
    return await aiohttp_client(create_app(settings, knowledge=knowledge))


def db_session(settings: Settings) -> Session:
    return Session(make_engine(settings))


def bot_conversation(session: Session, external_id: str) -> Conversation:
    """A web customer and their conversation with the bot, stored directly (flushed, not committed)."""
    customer = Customer(channel="web", external_id=external_id)
    session.add(customer)
    session.flush()
    conversation = Conversation(customer_id=customer.id, channel="web", state="bot")
    session.add(conversation)
    session.flush()
    return conversation
