"""End-to-end: the real stack (`techan run`: app + Rasa server) on free ports with a scratch data dir."""

from __future__ import annotations

import pytest

from tests.stack import Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    try:
        running = start_stack(tmp_path_factory.mktemp("stack"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield running
    stop_stack(running)
