"""Start and stop a real stack (`techan run`) on free ports with a scratch data dir (e2e tests, benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from techan import PROJECT_ROOT
from tests.conftest import shared_models_dir, shared_rasa_model

READY_TIMEOUT_S = 300
# Every customer of an e2e test or a load test comes from 127.0.0.1: the abuse limits are lifted there
# unless the caller is about them (``limits=True``: benchmarks/flood.py, with the defaults).
NO_LIMITS = {f"TECHAN_LIMIT_{name}": "1000000" for name in (
    "ADDRESS_PER_MINUTE", "CUSTOMER_PER_MINUTE", "NEW_CUSTOMERS_PER_HOUR", "OPEN_HANDOFFS_PER_ADDRESS")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    process: subprocess.Popen
    data_dir: Path
    app_url: str
    rasa_url: str
    output: list[str] = field(default_factory=list)

    def chat(self, sender: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.app_url}/api/chat/{sender}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def last_bot_payload(self, sender: str) -> dict:
        """What the router stored with the newest bot message for ``sender``."""
        with sqlite3.connect(self.data_dir / "techan.db") as db:
            row = db.execute(
                "SELECT m.payload FROM messages m JOIN conversations c ON m.conversation_id = c.id "
                "JOIN customers u ON c.customer_id = u.id WHERE u.external_id = ? AND m.author = 'bot' "
                "ORDER BY m.id DESC LIMIT 1", (sender,)).fetchone()
        return json.loads(row[0]) if row else {}


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None, *, wait_for_rasa: bool = True,
                limits: bool = False) -> Stack:
    """``wait_for_rasa=False``: return as soon as the app answers, while the Rasa server may still be loading.
    ``limits``: keep the abuse limits (else NO_LIMITS)."""
    model = shared_rasa_model()
    if not model.exists():
        raise RuntimeError(f"no trained Rasa model at {model}: run `make setup` first")
    app_port, rasa_port = free_port(), free_port()
    env = {**os.environ, "TECHAN_DATA_DIR": str(data_dir), "TECHAN_PORT": str(app_port),
           "TECHAN_RASA_PORT": str(rasa_port), "TECHAN_MODELS_DIR": str(shared_models_dir()),
           "TECHAN_RASA_MODEL": str(model), "TECHAN_DEMO": "1", "PYTHONUNBUFFERED": "1",
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00",  # staff "in" whenever the tests run
           **({} if limits else NO_LIMITS), **(extra_env or {})}
    env.pop("TECHAN_RASA_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "techan", "run"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    stack = Stack(process, data_dir, f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{rasa_port}")
    ready = threading.Event()

    def pump() -> None:
        for line in process.stdout:
            stack.output.append(line)
            if line.strip() == "ready. Ctrl-C stops both.":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S

    def started() -> bool:
        if wait_for_rasa:
            return ready.wait(1)
        time.sleep(0.5)
        return answers(f"{stack.app_url}/healthz")

    while not started():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_stack(stack)
            raise RuntimeError("techan run did not become ready:\n" + "".join(stack.output[-40:]))
    return stack


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_stack(stack: Stack) -> int:
    if stack.process.poll() is None:
        stack.process.send_signal(signal.SIGINT)
        try:
            stack.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.process.pid, signal.SIGKILL)
            stack.process.wait()
    return stack.process.returncode


def staff_token(data_dir, role: str = "staff", name: str | None = None) -> str:
    """A new account in the shop at ``data_dir`` and its bearer token, through the CLI."""
    name = name or f"{role}{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "TECHAN_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", role, "--password",
                    "long enough password"], env=env, check=True, capture_output=True)
    return subprocess.run([sys.executable, "-m", "techan", "staff", "token", name], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
