"""Running Rasa Open Source 3.6 from its own virtual environment (``.venv-rasa``).

Training is skipped when the bot's inputs (``bot/``, ``config.yml``) hash the
same as at the last training; the server gets an endpoints file written into
the data dir with this stack's action URL, token and tracker store.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import yaml

from techan import PROJECT_ROOT
from techan.settings import Settings

BOT_DIR = PROJECT_ROOT / "bot"
CONFIG_FILE = PROJECT_ROOT / "config.yml"
ENDPOINTS_FILE = PROJECT_ROOT / "endpoints.yml"
RASA_VENV = PROJECT_ROOT / ".venv-rasa"


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a Rasa log, to show why training or the server failed."""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"last lines of {path}:\n" + "\n".join(f"  {line}" for line in tail)


def rasa_executable() -> Path:
    path = RASA_VENV / "bin" / "rasa"
    if not path.exists():
        raise RuntimeError(f"Rasa is not installed at {path}; run `make run` (or `make setup`) first")
    return path


def rasa_env() -> dict[str, str]:
    """Environment for Rasa: no telemetry, quiet TensorFlow, our bot dir as working dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHAN_")}
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore"})
    return env


def inputs_digest() -> str:
    """Hash of everything training reads: the domain, data, jieba dictionary, our components and pipeline."""
    digest = hashlib.sha256()
    files = sorted(p for p in BOT_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts) + [CONFIG_FILE]
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def digest_file(settings: Settings) -> Path:
    return settings.rasa_model_path.with_suffix(".sha256")


def model_is_current(settings: Settings) -> bool:
    marker = digest_file(settings)
    return (settings.rasa_model_path.exists() and marker.exists()
            and marker.read_text().strip() == inputs_digest())


def train(settings: Settings, force: bool = False, progress=print) -> bool:
    """Train if the inputs changed (or ``force``); returns whether training ran."""
    if not force and model_is_current(settings):
        progress(f"rasa model: up to date ({settings.rasa_model_path})")
        return False
    out = settings.rasa_model_path
    out.parent.mkdir(parents=True, exist_ok=True)
    progress("rasa model: training (bot/ or config.yml changed; takes a few minutes)…")
    digest = inputs_digest()
    command = [str(rasa_executable()), "train", "--domain", str(BOT_DIR / "domain.yml"),
               "--data", str(BOT_DIR / "data"), "--config", str(CONFIG_FILE),
               "--out", str(out.parent), "--fixed-model-name", out.name.removesuffix(".tar.gz")]
    log_path = out.parent / "train.log"
    with log_path.open("w") as log_file:
        result = subprocess.run(command, cwd=PROJECT_ROOT, env=rasa_env(), stdout=log_file,
                                stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0 or not out.exists():
        raise RuntimeError("rasa training failed; " + log_tail(log_path))
    digest_file(settings).write_text(digest)
    progress(f"rasa model: trained ({out})")
    return True


def write_endpoints(settings: Settings) -> Path:
    """The root endpoints.yml with this stack's action URL, token and tracker database."""
    config = yaml.safe_load(ENDPOINTS_FILE.read_text())
    config["action_endpoint"] = {"url": f"{settings.app_base_url}/webhook", "token": settings.rasa_token}
    config["tracker_store"] = {**config.get("tracker_store", {}),
                               "db": str(settings.rasa_path / "tracker.db")}
    settings.rasa_path.mkdir(parents=True, exist_ok=True)
    path = settings.rasa_path / "endpoints.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)  # holds the action endpoint token
    return path


def server_command(settings: Settings) -> list[str]:
    if not settings.rasa_model_path.exists():
        raise RuntimeError(f"no trained Rasa model at {settings.rasa_model_path}; run `techan train`")
    return [str(rasa_executable()), "run", "--enable-api", "--auth-token", settings.rasa_token,
            "--model", str(settings.rasa_model_path), "--endpoints", str(write_endpoints(settings)),
            "--interface", "127.0.0.1", "--port", str(settings.rasa_port),
            "--log-file", str(settings.rasa_path / "rasa.log")]
