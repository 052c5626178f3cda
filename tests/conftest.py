"""Shared by all tiers: scratch settings, the provisioned embedding model, and under CI no skipped tests."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from techan import PROJECT_ROOT
from core.settings import Settings

CI_SKIPS_HEADING = "skipped tests fail the run under CI"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


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


SHARED_DATA = Path(os.environ.get("TECHAN_DATA_DIR", PROJECT_ROOT / "var")).resolve()


def shared_models_dir() -> Path:
    """Where `make setup` provisioned the embedding model (tests never build their own)."""
    return Path(os.environ.get("TECHAN_MODELS_DIR", SHARED_DATA / "models")).resolve()


def shared_rasa_model() -> Path:
    return Path(os.environ.get("TECHAN_RASA_MODEL", SHARED_DATA / "rasa" / "models" / "techan.tar.gz")).resolve()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a scratch shop: its own data dir and database, the shared model.

    Rasa is down here (a closed port) and a message that cannot reach it goes to staff at once
    (``bot_grace_s=0``), which the handoff tests use; the warm-start tests give it a grace."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", models_dir=shared_models_dir(),
                    rasa_url="http://127.0.0.1:9", secret_key="test-secret", demo=True,
                    business_hours="mon-sun 00:00-24:00", bot_grace_s=0)


async def wait_until(check, timeout: float = 20.0, what: str = "the call") -> None:
    """Poll ``check`` every 50 ms until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
