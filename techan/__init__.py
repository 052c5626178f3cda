"""techan: a shop assistant for specialty-food and gift shops."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
