"""Shared by all tiers: scratch settings, the provisioned embedding model, and under CI no skipped tests."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from techan import PROJECT_ROOT
from core.settings import Settings
from tests.postgres_server import on_postgres, run_cluster, scratch_database

CI_SKIPS_HEADING = "skipped tests fail the run under CI"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


class Clock:
    """A monotonic clock a test moves by hand (``clock.now += 61``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class SkipsFailTheRun:
    """Under CI a skipped test (skip, skipif, importorskip, in a test, a fixture or at collection) fails
    the session: what the tests need is installed there, so a skip means something was not tested.
    xfail is not a skip and is left alone."""

    def __init__(self) -> None:
        self.skipped: list[tuple[str, str]] = []  # (node id, reason)

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        self.skipped.append((report.nodeid or ".", reason.removeprefix("Skipped: ")))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.skipped:
            return
        terminalreporter.write_sep("=", f"{CI_SKIPS_HEADING}: {len(self.skipped)} skipped", red=True, bold=True)
        for nodeid, reason in self.skipped:
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.write_line("Install what they need (.ci/run does) or fix the test; "
                                    "skips are allowed only outside CI.")


def pytest_configure(config: pytest.Config) -> None:
    if running_in_ci():
        config.pluginmanager.register(SkipsFailTheRun(), "techan-ci-skips")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL the tests about SQLite itself are deselected (listed as such, not skipped)."""
    if not on_postgres():
        return
    about_sqlite = [item for item in items if item.get_closest_marker("sqlite_only")]
    if about_sqlite:
        config.hook.pytest_deselected(items=about_sqlite)
        items[:] = [item for item in items if not item.get_closest_marker("sqlite_only")]


SHARED_DATA = Path(os.environ.get("TECHAN_DATA_DIR", PROJECT_ROOT / "var")).resolve()


def shared_models_dir() -> Path:
    """Where `make setup` provisioned the embedding model (tests never build their own)."""
    return Path(os.environ.get("TECHAN_MODELS_DIR", SHARED_DATA / "models")).resolve()


def shared_rasa_model() -> Path:
    return Path(os.environ.get("TECHAN_RASA_MODEL", SHARED_DATA / "rasa" / "models" / "techan.tar.gz")).resolve()


@pytest.fixture(scope="session", autouse=True)
def test_cluster() -> Iterator[str | None]:
    """Under ``TECHAN_TEST_DATABASE=postgresql``: one scratch PostgreSQL cluster for the whole run."""
    with run_cluster() as url:
        yield url


@pytest.fixture
def database_url(test_cluster: str | None) -> Iterator[str]:
    """Each test's own database: a fresh one in the scratch cluster, or (empty) SQLite in its data dir."""
    if test_cluster is None:
        yield ""
        return
    with scratch_database(test_cluster) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a scratch shop: its own data dir and database, the shared model.

    Rasa is down here (a closed port) and a message that cannot reach it goes to staff at once
    (``bot_grace_s=0``), which the handoff tests use; the warm-start tests give it a grace."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url,
                    models_dir=shared_models_dir(),
                    rasa_url="http://127.0.0.1:9", secret_key="test-secret", demo=True,
                    business_hours="mon-sun 00:00-24:00", bot_grace_s=0)


def command_env(settings: Settings, **more: str) -> dict[str, str]:
    """The environment for a `techan` command on the scratch shop of ``settings`` (its data dir and database)."""
    return {**os.environ, "TECHAN_DATA_DIR": str(settings.data_path),
            **({"TECHAN_DATABASE_URL": settings.database_url} if settings.database_url else {}), **more}


async def wait_until(check, timeout: float = 20.0, what: str = "the call") -> None:
    """Poll ``check`` every 50 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


HANG_REPORT_S = 240  # before pytest-timeout's 300 s, whose report shows threads but not asyncio's tasks


@pytest.fixture(autouse=True)
def report_a_hang(request) -> Iterator[None]:
    """A test (its set-up and teardown included) still running after ``HANG_REPORT_S``: print every asyncio
    task of its event loop with where it waits, so a hang in an app's teardown names what it waits for."""
    def report() -> None:
        running = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
        print(f"\n=== {request.node.nodeid} still running after {HANG_REPORT_S} s; its asyncio tasks:", flush=True)
        for loop in running:
            for task in list(asyncio.all_tasks(loop)):
                print(f"--- {task!r}", flush=True)
                task.print_stack(limit=12, file=sys.stdout)

    timer = threading.Timer(HANG_REPORT_S, report)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()
