"""Start and stop a real stack (`techan run`) on free ports with a scratch data dir (e2e tests, benchmarks)."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from core.settings import Settings
from techan import PROJECT_ROOT
from tests.conftest import SHARED_DATA, shared_models_dir, shared_rasa_model
from tests.postgres_server import shop_database_url

READY_TIMEOUT_S = 300
# Every customer of an e2e test or a load test comes from 127.0.0.1: the abuse limits are lifted there
# unless the caller is about them (``limits=True``: benchmarks/flood.py, with the defaults).
NO_LIMITS = {f"TECHAN_LIMIT_{name}": "1000000" for name in (
    "ADDRESS_PER_MINUTE", "CUSTOMER_PER_MINUTE", "NEW_CUSTOMERS_PER_HOUR", "OPEN_HANDOFFS_PER_ADDRESS")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shop_env(data_dir: Path) -> dict[str, str]:
    """The environment that points `techan` commands at one scratch shop: its data dir, and its database when
    the run is on PostgreSQL."""
    database_url = shop_database_url(data_dir)
    return {**os.environ, "TECHAN_DATA_DIR": str(data_dir),
            **({"TECHAN_DATABASE_URL": database_url} if database_url else {})}


def query(data_dir: Path, sql: str, *, trackers: bool = False, **params) -> list[tuple]:
    """The rows of ``sql`` (named ``:params``) in a scratch shop's database, SQLite or PostgreSQL; ``trackers``:
    in its Rasa server's tracker store instead (in the data dir, or beside the shop's PostgreSQL database)."""
    settings = Settings(_env_file=None, data_dir=data_dir, database_url=shop_database_url(data_dir))
    url = settings.sqlalchemy_url
    if trackers:
        url = f"{url}_rasa" if settings.database_url else f"sqlite:///{settings.rasa_path / 'tracker.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


def json_value(value) -> dict:
    """A JSON column as read by a plain query: text from SQLite, already decoded from PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


class WebCustomers:
    """Web-chat customers of one app as a script (no cookie jar) sees them: each sender's chat token, taken
    out of its first answer and sent as ``X-Chat-Token`` with every later request for that sender."""

    def __init__(self, app_url: str) -> None:
        self.app_url = app_url
        self.tokens: dict[str, str] = {}

    def request(self, sender: str, path: str = "", body: dict | None = None, *,
                timeout: float = 30) -> tuple[int, dict]:
        """POST ``body`` (GET without one) to ``/api/chat/{sender}{path}``: the status and the JSON answer."""
        headers = {"Content-Type": "application/json",
                   **({"X-Chat-Token": self.tokens[sender]} if sender in self.tokens else {})}
        request = urllib.request.Request(f"{self.app_url}/api/chat/{sender}{path}", headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, answer = error.code, json.loads(error.read())
        if "chat_token" in answer:
            self.tokens[sender] = answer.pop("chat_token")
        return status, answer


@dataclass
class Stack:
    process: subprocess.Popen
    data_dir: Path
    app_url: str
    rasa_url: str
    output: list[str] = field(default_factory=list)
    customers: WebCustomers = field(init=False)
    held_rasa: int | None = None  # the Rasa server's pid while it is stopped (start_stack's hold_rasa)

    def __post_init__(self) -> None:
        self.customers = WebCustomers(self.app_url)

    def chat(self, sender: str, body: dict) -> tuple[int, dict]:
        return self.customers.request(sender, body=body)

    @property
    def env(self) -> dict[str, str]:
        return shop_env(self.data_dir)

    def query(self, sql: str, *, trackers: bool = False, **params) -> list[tuple]:
        return query(self.data_dir, sql, trackers=trackers, **params)

    def last_bot_payload(self, sender: str) -> dict:
        """What the router stored with the newest bot message for ``sender``."""
        rows = self.query(
            "SELECT m.payload FROM messages m JOIN conversations c ON m.conversation_id = c.id "
            "JOIN customers u ON c.customer_id = u.id WHERE u.external_id = :sender AND m.author = 'bot' "
            "ORDER BY m.id DESC LIMIT 1", sender=sender)
        return json_value(rows[0][0]) if rows else {}


# The demo shop's embeddings, kept by the first stack a test run starts: each later stack's app then starts in
# seconds instead of embedding every phrasing again, so the Rasa server is still loading when it answers.
SHARED_VECTORS = SHARED_DATA / "test-stacks" / "vectors.npz"


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None, *, wait_for_rasa: bool = True,
                limits: bool = False, hold_rasa: bool = False) -> Stack:
    """``wait_for_rasa=False``: return as soon as the app answers, while the Rasa server may still be loading.
    ``limits``: keep the abuse limits (else NO_LIMITS). ``hold_rasa``: stop the Rasa server's process as soon as
    it starts, so it is still loading when the app answers, however fast this machine is (``release_rasa``)."""
    model = shared_rasa_model()
    if not model.exists():
        raise RuntimeError(f"no trained Rasa model at {model}: run `make setup` first")
    app_port, rasa_port = free_port(), free_port()
    env = {**shop_env(data_dir), "TECHAN_PORT": str(app_port),
           "TECHAN_RASA_PORT": str(rasa_port), "TECHAN_MODELS_DIR": str(shared_models_dir()),
           "TECHAN_RASA_MODEL": str(model), "TECHAN_DEMO": "1", "PYTHONUNBUFFERED": "1",
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00",  # staff "in" whenever the tests run
           **({} if limits else NO_LIMITS), **(extra_env or {})}
    env.pop("TECHAN_RASA_URL", None)
    vectors = data_dir / "index" / "vectors.npz"
    if SHARED_VECTORS.exists() and not vectors.exists():  # embed only what this shop changed, as a warm shop does
        vectors.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHARED_VECTORS, vectors)
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
    if hold_rasa:
        _hold_rasa(stack, deadline)

    def started() -> bool:
        if wait_for_rasa:
            return ready.wait(1)
        time.sleep(0.5)
        return answers(f"{stack.app_url}/healthz")

    while not started():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_stack(stack)
            raise RuntimeError("techan run did not become ready:\n" + "".join(stack.output[-40:]))
    if vectors.exists() and not SHARED_VECTORS.exists():  # the first stack's embeddings serve the next ones
        SHARED_VECTORS.parent.mkdir(parents=True, exist_ok=True)
        partial = SHARED_VECTORS.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(vectors, partial)
        partial.replace(SHARED_VECTORS)
    return stack


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_process(process: subprocess.Popen, sig: int = signal.SIGINT, seconds: float = 60) -> int:
    """Signal a process a test started (in a session of its own) and wait; if it does not stop in ``seconds``,
    kill its whole process group. Its exit code."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def stop_stack(stack: Stack) -> int:
    release_rasa(stack)
    return stop_process(stack.process)


def release_rasa(stack: Stack) -> None:
    """Let a held Rasa server go on loading."""
    if stack.held_rasa is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stack.held_rasa, signal.SIGCONT)
        stack.held_rasa = None


def child_pids(stack: Stack, command: str) -> list[int]:
    """The pids of the stack's own processes (children of its `techan run`) whose command line has ``command``."""
    found = subprocess.run(["pgrep", "-P", str(stack.process.pid), "-f", command], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _hold_rasa(stack: Stack, deadline: float) -> None:
    """Stop (SIGSTOP) the stack's Rasa server as soon as its process appears; the stack is stopped if it never does."""
    while stack.process.poll() is None and time.monotonic() < deadline:
        if pids := child_pids(stack, "rasa run"):
            os.kill(pids[0], signal.SIGSTOP)
            stack.held_rasa = pids[0]
            return
        time.sleep(0.05)
    stop_stack(stack)
    raise RuntimeError("no Rasa server started under techan run:\n" + "".join(stack.output[-40:]))


def started(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_answering(url: str, process: subprocess.Popen, seconds: float, context: ssl.SSLContext | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{url} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=3, context=context):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {seconds:.0f} s")


def instances_env(data: Path, database_url: str, redis_url: str, rasa_ports: list[int]) -> dict[str, str]:
    """The environment every process of a several-instance shop shares (deploy/techan.env.example's, for tests):
    its data dir, database, Redis and Rasa servers, the provisioned models, the demo shop, staff always in."""
    env = {**os.environ, "TECHAN_DATA_DIR": str(data), "TECHAN_DATABASE_URL": database_url,
           "TECHAN_REDIS_URL": redis_url, "TECHAN_RASA_URL": ",".join(f"http://127.0.0.1:{p}" for p in rasa_ports),
           "TECHAN_MODELS_DIR": str(shared_models_dir()), "TECHAN_RASA_MODEL": str(shared_rasa_model()),
           "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00", "TECHAN_DEMO": "1", "PYTHONUNBUFFERED": "1",
           **NO_LIMITS}
    env.pop("TECHAN_TEST_DATABASE", None)
    return env


@contextlib.contextmanager
def several_instances(folder: Path, count: int) -> Iterator[tuple[list[str], list[int]]]:
    """``count`` app instances (`techan serve`) and as many Rasa servers (`techan rasa`, each calling its own
    instance's actions) on one scratch PostgreSQL database and one Redis: yields the apps' URLs and every
    process id, once all answer; stops them all."""
    from tests.postgres_server import shop_on_postgres
    from tests.redis_server import redis_server

    data = folder / "shop"
    (folder / "redis").mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    apps, rasas = [free_port() for _ in range(count)], [free_port() for _ in range(count)]
    processes: list[subprocess.Popen] = []
    with shop_on_postgres(data) as database_url, redis_server(folder / "redis") as redis_url:
        env = instances_env(data, database_url, redis_url, rasas)
        try:
            for n, port in enumerate(apps):  # one after the other: the first migrates and loads the demo shop
                processes.append(started([sys.executable, "-m", "techan", "serve"], {**env, "TECHAN_PORT": str(port)},
                                         folder / f"app{n}.log"))
                wait_answering(f"http://127.0.0.1:{port}/healthz", processes[-1], 180)
            for n, (port, app) in enumerate(zip(rasas, apps)):
                processes.append(started([sys.executable, "-m", "techan", "rasa"],
                                         {**env, "TECHAN_RASA_PORT": str(port), "TECHAN_HOST": "127.0.0.1",
                                          "TECHAN_PORT": str(app)}, folder / f"rasa{n}.log"))
            for port, process in zip(rasas, processes[count:]):
                wait_answering(f"http://127.0.0.1:{port}/", process, 300)
            yield [f"http://127.0.0.1:{port}" for port in apps], [process.pid for process in processes]
        finally:
            for n, process in enumerate(processes):
                stop_process(process, signal.SIGTERM if n < count else signal.SIGKILL)


def staff_token(shop: Stack | Path, role: str = "staff", name: str | None = None) -> str:
    """A new account in a shop (a running stack, or its data dir) and its bearer token, through the CLI."""
    env = shop_env(shop.data_dir if isinstance(shop, Stack) else shop)
    name = name or f"{role}{uuid.uuid4().hex[:6]}"
    subprocess.run([sys.executable, "-m", "techan", "staff", "add", name, "--role", role, "--password",
                    "long enough password"], env=env, check=True, capture_output=True)
    return subprocess.run([sys.executable, "-m", "techan", "staff", "token", name], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
