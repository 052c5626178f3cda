"""Running Rasa Open Source 3.6 from its own virtual environment (``.venv-rasa``).

Training is skipped when the bot's inputs (``bot/``, ``config.yml``) hash the
same as at the last training; the server gets an endpoints file written into
the data dir with this stack's action URL, token and tracker store.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from sqlalchemy.engine import make_url

from techan import PROJECT_ROOT
from core.settings import Settings

BOT_DIR = PROJECT_ROOT / "bot"
CONFIG_FILE = PROJECT_ROOT / "config.yml"
ENDPOINTS_FILE = PROJECT_ROOT / "endpoints.yml"
RASA_VENV = PROJECT_ROOT / ".venv-rasa"
# Rasa's lock on a conversation (in Redis with several servers) outlives a server killed mid-turn by this long.
# With Rasa's own 60 s, that server's customers went unanswered for a minute on the other server. Shorter than
# the app's wait for a turn (TECHAN_RASA_TIMEOUT, 10 s), the other server takes the turn within that same wait.
# The app already gives each customer one turn at a time, so the lock need not outlast a turn the app awaits.
TICKET_LOCK_LIFETIME_S = 8


# What Rasa prints that an operator must act on: its warnings and errors, exceptions, fatal crashes;
# not its INFO lines, library deprecation warnings, TensorFlow's C++ chatter or jieba's progress lines.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:[,.]\d+)? +(?:\[)?(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\b")
_SANIC = re.compile(r"^\[[^\]]+\] \[\d+\] \[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]")  # sanic's own format
_PY_WARNING = re.compile(r"^\S+\.py:\d+: (\w*Warning): ")
_TENSORFLOW = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: ([IWEF]) \S+\.cc:\d+\]")  # TF's C++ log
_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b(?::|$)")
_CRASH = re.compile(r"\b(?:Killed|Segmentation fault|Aborted|core dumped|Out of memory)\b")
_QUIET_WARNINGS = ("DeprecationWarning", "FutureWarning", "ResourceWarning", "ImportWarning")
NOISE = (  # known lines an operator can do nothing about (each seen in this project's Rasa logs)
    re.compile(r"No chat connector configured"),  # we use the REST channel on purpose
    re.compile(r"is not used in any story or rule"),  # a form's utter_ask_* (README: accepted)
)
_SHOWN_CHARS = 400


def _is_noise(line: str) -> bool:
    return any(pattern.search(line) for pattern in NOISE)


def operator_lines(lines: list[str]) -> list[str]:
    """The lines of a Rasa console log that an operator must act on, in order, repeats folded.

    Kept: records at WARNING or above (Rasa's, sanic's), the exception line that ends each
    traceback, lines Rasa prints in red, fatal crashes, and anything unrecognised that names an
    error. Dropped: INFO/DEBUG records, Python deprecation warnings with their source lines,
    TensorFlow's C++ log below fatal, jieba's progress, and the known noise in ``NOISE``.
    """
    kept: list[str] = []
    in_traceback = skip_indented = False
    for raw in lines:
        red = "\x1b[91m" in raw or "\x1b[31m" in raw
        line = _ANSI.sub("", raw).rstrip()
        if not line.strip():
            continue
        if line[0].isspace():  # a traceback frame, a warning's source line, a record's continuation
            continue
        if skip_indented and not (_RECORD.match(line) or _SANIC.match(line) or _PY_WARNING.match(line)):
            continue  # the rest of a dropped multi-line warning ("Implementing implicit namespace …")
        skip_indented = False
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback:  # the first unindented line after the frames says what went wrong
            in_traceback = False
            if _EXCEPTION.match(line) or ":" in line:
                kept.append(line)
                continue
        if line.startswith("During handling of the above exception") or line.startswith(
                "The above exception was the direct cause"):
            continue
        if (tf := _TENSORFLOW.match(line)) is not None:
            if tf.group(1) == "F":
                kept.append(line)
            continue
        if (warning := _PY_WARNING.match(line)) is not None:
            if warning.group(1).endswith(_QUIET_WARNINGS) or _is_noise(line):
                skip_indented = True
            else:
                kept.append(line)
            continue
        level = (_RECORD.match(line) or _SANIC.match(line))
        if level is not None:
            if level.group(1) not in ("DEBUG", "INFO") and not _is_noise(line):
                kept.append(line)
            continue
        if _is_noise(line):
            continue
        if red or _EXCEPTION.match(line) or _CRASH.search(line):
            kept.append(line)
    return _fold_repeats(kept)


def _fold_repeats(lines: list[str]) -> list[str]:
    """One line for a message repeated back to back (timestamps aside), with how often it came."""
    folded: list[tuple[str, str, int]] = []
    for line in lines:
        key = _RECORD.sub("", _SANIC.sub("", line)).strip()
        if folded and folded[-1][1] == key:
            folded[-1] = (folded[-1][0], key, folded[-1][2] + 1)
        else:
            folded.append((line, key, 1))
    return [line if count == 1 else f"{line}  (×{count})" for line, _key, count in folded]


def log_tail(path: Path, lines: int = 15) -> str:
    """What an operator needs from a Rasa log after training or the server failed.

    The last ``lines`` warnings and errors (``operator_lines``); when there are none, the last
    few of Rasa's own progress lines, so the reader sees how far it got.
    """
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    shown = [line if len(line) <= _SHOWN_CHARS else line[:_SHOWN_CHARS] + " …" for line in operator_lines(text)]
    if shown:
        head = f"warnings and errors in {path} (the full log is there):"
        return head + "\n" + "\n".join(f"  {line}" for line in shown[-lines:])
    progress = [_ANSI.sub("", line).rstrip() for line in text if _RECORD.match(_ANSI.sub("", line))][-3:]
    head = f"no warnings or errors in {path}; its last lines:"
    return head + "\n" + "\n".join(f"  {line[:_SHOWN_CHARS]}" for line in progress)


def rasa_executable() -> Path:
    path = RASA_VENV / "bin" / "rasa"
    if not path.exists():
        raise RuntimeError(f"Rasa is not installed at {path}; run `make run` (or `make setup`) first")
    return path


def rasa_env() -> dict[str, str]:
    """Environment for Rasa: no telemetry, quiet TensorFlow, our bot dir as working dir, and a conversation
    lock that a killed server holds for ``TICKET_LOCK_LIFETIME_S`` rather than Rasa's 60 s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHAN_")}
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore",
                "TICKET_LOCK_LIFETIME": str(TICKET_LOCK_LIFETIME_S)})
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


def tracker_store(settings: Settings) -> dict | None:
    """With the app on PostgreSQL, Rasa keeps its trackers there too: in a database of its own beside the app's
    (``<name>_rasa``, created by Rasa on first start, logging in through the app's), so several Rasa servers
    share conversations. None on SQLite: the tracker file in the data dir, as the root endpoints.yml says."""
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        return None
    return {"type": "SQL", "dialect": "postgresql", "url": url.host or "127.0.0.1", "port": url.port or 5432,
            "db": f"{url.database}_rasa", "login_db": url.database, "username": url.username or "",
            "password": url.password or ""}


def lock_store(settings: Settings) -> dict | None:
    """With ``TECHAN_REDIS_URL``, Rasa's conversation locks live in that Redis, so several Rasa servers never
    run two turns of one customer at once. None: each server locks in its own memory (Rasa's default)."""
    if not settings.redis_url:
        return None
    url = urlsplit(settings.redis_url)
    database = url.path.strip("/")
    return {"type": "redis", "url": url.hostname or "127.0.0.1", "port": url.port or 6379,
            "db": int(database) if database.isdigit() else 0, "key_prefix": "techan",
            "use_ssl": url.scheme == "rediss",
            **({"username": unquote(url.username)} if url.username else {}),
            **({"password": unquote(url.password)} if url.password else {})}


def write_endpoints(settings: Settings) -> Path:
    """The root endpoints.yml with this stack's action URL, token, tracker database and lock store."""
    config = yaml.safe_load(ENDPOINTS_FILE.read_text())
    config["action_endpoint"] = {"url": f"{settings.app_base_url}/webhook", "token": settings.rasa_token}
    config["tracker_store"] = tracker_store(settings) or {**config.get("tracker_store", {}),
                                                         "db": str(settings.rasa_path / "tracker.db")}
    if locks := lock_store(settings):
        config["lock_store"] = locks
    settings.rasa_path.mkdir(parents=True, exist_ok=True)
    path = settings.rasa_path / "endpoints.yml"
    write_private(path, yaml.safe_dump(config, sort_keys=False))  # holds the action endpoint token
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only this user can read, from its first byte (no moment with the default mode)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # an older file may have had a wider mode
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)


LAUNCHER = Path(__file__).with_name("rasa_launch.py")  # run by Rasa's Python: the token from a file, and more


def server_command(settings: Settings) -> list[str]:
    """`rasa run` for the app (its API on loopback, the token from a private file, never on the command line)."""
    if not settings.rasa_model_path.exists():
        raise RuntimeError(f"no trained Rasa model at {settings.rasa_model_path}; run `techan train`")
    token_file = settings.rasa_path / "auth_token"
    settings.rasa_path.mkdir(parents=True, exist_ok=True)
    write_private(token_file, settings.rasa_token)
    return [str(rasa_executable().with_name("python")), str(LAUNCHER), "rasa", "run", "--enable-api",
            "--auth-token-file", str(token_file),
            "--model", str(settings.rasa_model_path), "--endpoints", str(write_endpoints(settings)),
            "--interface", "127.0.0.1", "--port", str(settings.rasa_port),
            "--log-file", str(settings.rasa_path / "rasa.log")]
