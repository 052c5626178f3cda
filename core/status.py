"""The state of the processes `techan run` supervises, as it writes it to the data dir: /healthz shows it,
and the router waits longer for a bot that is still loading its model."""

from __future__ import annotations

import json

from core.settings import Settings

STATUS_FILE = "supervisor.json"  # in the data dir


def read_status(settings: Settings) -> dict:
    try:
        return json.loads((settings.data_path / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
