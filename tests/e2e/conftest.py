"""End-to-end: the real stack (`techan run`: app + Rasa server) on free ports with a scratch data dir.

Telegram's servers cannot be reached, so the stack's Telegram channel talks to a fake Bot API
server on 127.0.0.1 that the tests drive.
"""

from __future__ import annotations

import pytest

from tests.fake_telegram import TOKEN, FakeBotAPIThread
from tests.stack import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def telegram() -> FakeBotAPIThread:
    with FakeBotAPIThread() as fake:
        yield fake


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, telegram: FakeBotAPIThread) -> Stack:
    try:
        running = start_stack(tmp_path_factory.mktemp("stack"), {
            "TECHAN_TELEGRAM_TOKEN": TOKEN, "TECHAN_TELEGRAM_API_URL": telegram.base_url})
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    stop_stack(running)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The Ctrl-C test stops the shared stack, so it runs after every other end-to-end test."""
    items.sort(key=lambda item: item.name == "test_ctrl_c_stops_both_processes")
