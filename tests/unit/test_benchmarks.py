"""The benchmark scripts are not run by `make test` (they print figures), so a helper moved out from under
one went unnoticed: call_connect.py and call_quality.py stopped at their imports. Each must at least load."""

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py")
                    if p.stem != "__init__")


def test_every_benchmark_is_found() -> None:
    assert {"call_connect", "call_quality", "chat_latency", "netrig"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_benchmark_loads(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)) or name == "netrig"
