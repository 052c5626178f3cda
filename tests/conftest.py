"""Shared fixtures: scratch settings, and the provisioned embedding model shared by all tiers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from techan import PROJECT_ROOT
from techan.settings import Settings

SHARED_DATA = Path(os.environ.get("TECHAN_DATA_DIR", PROJECT_ROOT / "var")).resolve()


def shared_models_dir() -> Path:
    """Where `make setup` provisioned the embedding model (tests never build their own)."""
    return Path(os.environ.get("TECHAN_MODELS_DIR", SHARED_DATA / "models")).resolve()


def shared_rasa_model() -> Path:
    return Path(os.environ.get("TECHAN_RASA_MODEL", SHARED_DATA / "rasa" / "models" / "techan.tar.gz")).resolve()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a scratch shop: its own data dir and database, the shared model."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", models_dir=shared_models_dir(),
                    rasa_url="http://127.0.0.1:9", secret_key="test-secret", demo=True,
                    business_hours="mon-sun 00:00-24:00")
