"""Faults against a scratch stack: is every message the shop acknowledged stored once and answered or routed?

Starts its own stack (`techan run` on free 127.0.0.1 ports, a scratch data dir, the real Rasa server and the
models `make setup` provisioned) and, with customers chatting through the web chat API (each message with a
client id, retried with it on network and server errors as chat.js does: 1, 2, 4, 8, 15 s…), runs:

  rasa   SIGKILL the Rasa server while customers chat (the supervisor restarts it; the model load takes 1–2 min)
  app    SIGKILL the app process while customers chat (the supervisor restarts it)
  db     hold an exclusive SQLite transaction on the shop's database for a few seconds while customers chat
  disk   fill the disk under the shop's database for a few seconds while customers chat (the database lives
         on a small tmpfs for the whole run when this fault is chosen: mounting it needs root)
  burst  N customers send their first message at the same moment (no handoff may come of it)

Per fault it prints: messages sent, stored (found in the database exactly once), answered by the bot, routed to
staff, lost (acknowledged but not stored, or stored and never answered or routed: must be 0), duplicated (stored
more than once: must be 0), handoffs opened, and the time to recover (from the fault to the first bot answer to a
request made after it). The counts come from the database after the stack has settled. Prints figures; asserts
nothing; exits 1 when something was lost or duplicated.

    .venv/bin/python benchmarks/faults.py [--customers 50] [--faults rasa,app,db,disk,burst] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from handoff.channels.webchat import message_key  # noqa: E402
from techan import PROJECT_ROOT  # noqa: E402
from tests.conftest import shared_models_dir, shared_rasa_model  # noqa: E402
from tests.stack import NO_LIMITS, Stack, free_port, stop_stack  # noqa: E402

FAULTS = ("rasa", "app", "db", "disk", "burst")
QUESTIONS = [  # answered from the KB or by the bot's small talk; none asks for a person
    "普洱茶保质期多久？", "Can you vacuum pack the beef jerky?", "玫瑰鲜花饼买回去能放几天", "龙井要不要放冰箱",
    "腊肉收到以后怎么保存", "牛肉干能抽真空吗", "真空包装要加钱吗", "运费怎么算？", "你们发什么快递", "大红袍是红茶吗",
    "收到的瓷器碎了怎么办", "可以开发票吗", "新买的紫砂壶怎么开壶", "你好", "熟普放久了会不会坏",
]
NOT_ANSWERS = ("抱歉，智能助手暂时有点忙", "Sorry, the assistant is busy", "您现在排在第", "You are number",
               "店员现在下班了", "Our staff are away")  # handoff texts: routed, not answered
CHATTING = 10  # customers chatting through the rasa, app, db and disk faults (at most --customers)
DISK_MB = 64  # the tmpfs under the database for the disk fault
MAX_MESSAGES = 40  # per customer and fault
THINK_S = (1.5, 3.0)  # between a customer's answer and their next message
IMPATIENT_S = 20  # a customer waiting this long for a late answer writes again
WARMUP_S = 8  # chatting before the fault
AFTER_S = 10  # chatting after the first answer following the fault
FAULT_MAX_S = 300  # the longest a fault may take to recover before the phase ends anyway
REQUEST_TIMEOUT_S = 60
RETRY_PAUSES_S = (1, 2, 4, 8, 15)  # chat.js; then every 15 s
RETRY_FOR_S = 240  # a message not acknowledged within this is given up (counted, not lost)
SETTLE_S = 300  # for pending messages to be answered or routed after a phase
HEALTHY_S = 300  # for both processes to be up again between faults
READY_TIMEOUT_S = 360
PROGRESS_S = 15
SUPERVISOR_LINES = ("techan:", "app ready", "  … still starting", "ready.", "stopping")

_out = sys.stdout


def say(text: str) -> None:
    print(text, file=_out, flush=True)


# ------------------------------------------------------------------------------------------- the stack

class Scratch:
    """The stack this script started (the supervisor in a session of its own) and every child pid it saw."""

    def __init__(self) -> None:
        self.stack: Stack | None = None
        self.children: set[int] = set()
        self.small_disk: SmallDisk | None = None  # the tmpfs the database lives on, when the disk fault runs

    @property
    def db_path(self) -> Path:
        return (self.small_disk.mount_point if self.small_disk else self.stack.data_dir) / "techan.db"

    def child_pids(self, command: str | None = None) -> list[int]:
        if self.stack is None:
            return []
        args = ["pgrep", "-P", str(self.stack.process.pid)] + (["-f", command] if command else [])
        pids = [int(p) for p in subprocess.run(args, capture_output=True, text=True).stdout.split()]
        self.children.update(pids)
        return pids

    def stop(self) -> None:
        """Ctrl-C to the supervisor (it stops the app, then Rasa), then SIGKILL to any process group left."""
        if self.stack is None:
            return
        self.child_pids()
        say("stopping the scratch stack…")
        try:
            stop_stack(self.stack)  # SIGINT, 60 s, then SIGKILL to the supervisor's process group
        except Exception as exc:  # noqa: BLE001 - the groups below are killed all the same
            say(f"stopping the supervisor failed ({exc}); killing")
            try:
                os.killpg(self.stack.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in sorted(self.children):  # each child runs in a process group of its own (its pid)
            try:
                ours = any(word in Path(f"/proc/{pid}/cmdline").read_bytes() for word in (b"techan", b"rasa"))
                if ours and os.getpgid(pid) == pid:
                    os.killpg(pid, signal.SIGKILL)
                    say(f"killed the process group {pid} left behind")
            except (OSError, ProcessLookupError):  # gone already
                pass
        self.stack = None


def start(scratch: Scratch, data_dir: Path) -> Stack:
    """`techan run` on free loopback ports with a scratch data dir (as tests/stack.py, with progress lines)."""
    model = shared_rasa_model()
    if not model.exists():
        raise RuntimeError(f"no trained Rasa model at {model}: run `make setup` first")
    app_port, rasa_port = free_port(), free_port()
    env = {**os.environ, "TECHAN_DATA_DIR": str(data_dir), "TECHAN_HOST": "127.0.0.1",
           "TECHAN_PORT": str(app_port), "TECHAN_RASA_PORT": str(rasa_port),
           "TECHAN_MODELS_DIR": str(shared_models_dir()), "TECHAN_RASA_MODEL": str(model), "TECHAN_DEMO": "1",
           "PYTHONUNBUFFERED": "1", "TECHAN_BUSINESS_HOURS": "mon-sun 00:00-24:00", **NO_LIMITS,
           **({"TECHAN_DATABASE_URL": f"sqlite:///{scratch.db_path}"} if scratch.small_disk else {})}
    env.pop("TECHAN_RASA_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "techan", "run"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    stack = scratch.stack = Stack(process, data_dir, f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{rasa_port}")
    ready = threading.Event()
    said = [time.monotonic()]  # when the last supervisor line was shown

    def pump() -> None:
        for line in process.stdout:
            stack.output.append(line)
            if line.startswith(SUPERVISOR_LINES):
                say(f"  [techan run] {line.rstrip()}")
                said[0] = time.monotonic()
            if line.strip() == "ready. Ctrl-C stops both.":
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    while not ready.wait(1):
        now = time.monotonic()
        if process.poll() is not None or now - started > READY_TIMEOUT_S:
            raise RuntimeError("techan run did not become ready:\n" + "".join(stack.output[-40:]))
        if now > next_progress and now - said[0] > PROGRESS_S:
            say(f"  … starting the stack ({now - started:.0f} s; Rasa loads its model in 1–3 minutes)")
            next_progress = now + PROGRESS_S
    scratch.child_pids()
    say(f"stack ready in {time.monotonic() - started:.0f} s: {stack.app_url} (rasa {stack.rasa_url})")
    return stack


async def health(http: aiohttp.ClientSession, url: str) -> dict | None:
    try:
        async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=8)) as response:
            return await response.json() if response.status == 200 else None
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return None


async def wait_healthy(http: aiohttp.ClientSession, url: str) -> float:
    """Until the app answers, Rasa answers and the supervisor reports both processes up (bounded)."""
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    while time.monotonic() - started < HEALTHY_S:
        body = await health(http, url)
        processes = (body or {}).get("processes") or {}
        if body and body.get("rasa") and processes and all(p.get("state") == "up" for p in processes.values()):
            return time.monotonic() - started
        if time.monotonic() > next_progress:
            say(f"  … waiting for the stack to be healthy again ({time.monotonic() - started:.0f} s: {processes})")
            next_progress = time.monotonic() + PROGRESS_S
        await asyncio.sleep(1)
    raise RuntimeError(f"the stack was not healthy again within {HEALTHY_S} s")


# ------------------------------------------------------------------------------------------- customers

@dataclass
class Sent:
    client_id: str
    text: str
    acked: bool = False
    attempts: int = 0
    pending: bool = False  # the success said the answer comes later


@dataclass
class Customer:
    sender: str
    messages: list[Sent] = field(default_factory=list)
    seen: int = 0  # the newest message id fetched from …/messages
    answers: list[tuple[float, float]] = field(default_factory=list)  # (request start, answer arrival)


class Phase:
    """The customers of one fault, and when each got a bot answer."""

    def __init__(self, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.customers: list[Customer] = []
        self.stop = asyncio.Event()
        self.fault_at: float | None = None  # wall clock
        self.gave_up = 0

    def new_customer(self) -> Customer:
        customer = Customer(f"faults-{self.name}-{len(self.customers):03d}-{uuid.uuid4().hex[:8]}")
        self.customers.append(customer)
        return customer

    def first_answer_after_fault(self) -> float | None:
        if self.fault_at is None:
            return None
        times = [arrived for c in self.customers for asked, arrived in c.answers if asked >= self.fault_at]
        return min(times) - self.fault_at if times else None

    def sent(self) -> int:
        return sum(len(c.messages) for c in self.customers)


def is_answer(reply_texts: list[str]) -> bool:
    return bool(reply_texts) and not any(t.startswith(NOT_ANSWERS) for t in reply_texts)


async def send(http: aiohttp.ClientSession, phase: Phase, customer: Customer, text: str) -> Sent:
    """One message, retried with the same client id on network and server errors (bounded in time)."""
    message = Sent(uuid.uuid4().hex[:16], text)
    customer.messages.append(message)
    first = time.monotonic()
    while True:
        message.attempts += 1
        asked = time.time()
        retry = False
        try:
            async with http.post(f"{phase.url}/api/chat/{customer.sender}",
                                 json={"text": text, "client_id": message.client_id},
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
                if response.status == 200:
                    body = await response.json()
                    message.acked, message.pending = True, bool(body.get("pending"))
                    texts = [r.get("text") or "" for r in body.get("replies") or []]
                    if body.get("state") == "bot" and not message.pending and is_answer(texts):
                        customer.answers.append((asked, time.time()))
                    return message
                retry = response.status >= 500  # 503 draining or database busy, 500: the page sends it again
                if not retry:
                    say(f"  ! {customer.sender}: HTTP {response.status} {(await response.text())[:200]}")
                    return message
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):  # ValueError: a reply cut short
            retry = True
        pause = RETRY_PAUSES_S[min(message.attempts - 1, len(RETRY_PAUSES_S) - 1)]
        if not retry or time.monotonic() - first + pause > RETRY_FOR_S:
            phase.gave_up += 1
            return message
        await asyncio.sleep(pause)


async def fetch_late(http: aiohttp.ClientSession, phase: Phase, customer: Customer) -> tuple[bool, bool]:
    """What came later (as the page polls): (a bot answer arrived, something still waits)."""
    asked = time.time()
    try:
        async with http.get(f"{phase.url}/api/chat/{customer.sender}/messages?after={customer.seen}",
                            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)) as response:
            if response.status != 200:
                return False, True
            body = await response.json()
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return False, True
    messages = body.get("messages") or []
    if messages:
        customer.seen = max(m["id"] for m in messages)
    texts = [m.get("text") or "" for m in messages if m.get("author") == "bot"]
    answered = body.get("state") == "bot" and is_answer(texts)
    if answered:
        customer.answers.append((asked, time.time()))
    return answered, bool(body.get("pending"))


async def pause_unless_stopped(phase: Phase, pause: float) -> None:
    try:
        await asyncio.wait_for(phase.stop.wait(), pause)
    except asyncio.TimeoutError:
        pass


async def chat(http: aiohttp.ClientSession, phase: Phase, customer: Customer, first: int,
               limit: int = MAX_MESSAGES) -> None:
    """A customer asking one question after another until the phase stops (each loop bounded)."""
    for turn in range(limit):
        if phase.stop.is_set():
            return
        message = await send(http, phase, customer, QUESTIONS[(first + turn) % len(QUESTIONS)])
        if message.acked and message.pending:  # wait for the late answer, as the page does, up to IMPATIENT_S
            waited = time.monotonic()
            while time.monotonic() - waited < IMPATIENT_S and not phase.stop.is_set():
                answered, still = await fetch_late(http, phase, customer)
                if answered or not still:
                    break
                await pause_unless_stopped(phase, 1)
        await pause_unless_stopped(phase, random.uniform(*THINK_S))


# ------------------------------------------------------------------------------------------- faults

async def kill_child(scratch: Scratch, command: str) -> None:
    pids = scratch.child_pids(command)
    if not pids:
        raise RuntimeError(f"no {command!r} process under the supervisor")
    for pid in pids:  # its own process group (spawned with process_group=0): the whole server goes
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)


class DatabaseLock:
    """An exclusive transaction on the shop's SQLite database, held from the script (as another writer would)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.db: sqlite3.Connection | None = None
        self.taken = 0.0

    async def take(self) -> None:
        self.db = await asyncio.to_thread(sqlite3.connect, self.db_path, timeout=30, check_same_thread=False)
        await asyncio.to_thread(self.db.execute, "BEGIN EXCLUSIVE")
        self.taken = time.monotonic()

    async def hold(self, seconds: float) -> float:
        """Keep it ``seconds``, then let go (also when cancelled); how long it was held."""
        try:
            await asyncio.sleep(seconds)
        finally:
            await self.release()
        return time.monotonic() - self.taken

    async def release(self) -> None:
        if self.db is not None:
            db, self.db = self.db, None
            await asyncio.to_thread(db.rollback)
            await asyncio.to_thread(db.close)


class SmallDisk:
    """A tmpfs of ``DISK_MB`` for the database; ``fill`` takes every free byte with a file, ``free`` removes it."""

    def __init__(self, mount_point: Path) -> None:
        self.mount_point, self.filler = mount_point, mount_point / "filler"
        mount_point.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0700", "tmpfs", str(mount_point)],
                       check=True, capture_output=True)

    def fill(self) -> int:
        """Write zeros until the disk is full (bounded by its size); the bytes written."""
        chunk, written = b"\0" * (1 << 20), 0
        with self.filler.open("wb", buffering=0) as out:
            for _ in range(DISK_MB + 1):
                try:
                    written += out.write(chunk)
                except OSError:  # ENOSPC: full
                    break
            for size in (1 << 16, 1 << 12, 1 << 9):  # the last partial megabyte
                for _ in range((1 << 20) // size):
                    try:
                        written += out.write(b"\0" * size)
                    except OSError:
                        break
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def unmount(self) -> None:
        self.free()
        subprocess.run(["umount", str(self.mount_point)], capture_output=True)


async def hold_full(disk: SmallDisk, seconds: float) -> float:
    """The disk full for ``seconds`` (freed also when cancelled); how long it was full."""
    taken = time.monotonic()
    try:
        await asyncio.sleep(seconds)
    finally:
        await asyncio.to_thread(disk.free)
    return time.monotonic() - taken


async def run_fault(http: aiohttp.ClientSession, scratch: Scratch, name: str, chatting: int,
                    lock_s: float) -> Phase:
    stack = scratch.stack
    phase = Phase(name, stack.app_url)
    tasks = []
    for number in range(chatting):
        tasks.append(asyncio.create_task(chat(http, phase, phase.new_customer(), number * 3)))
        await asyncio.sleep(0.2)
    await asyncio.sleep(WARMUP_S)
    say(f"  fault: {name} ({phase.sent()} messages sent so far)")
    lock = holding = None
    if name == "disk":
        written = await asyncio.to_thread(scratch.small_disk.fill)
        say(f"  the database's disk is full ({written / 2**20:.1f} MB of filler)")
        holding = asyncio.create_task(hold_full(scratch.small_disk, lock_s))
    if name == "db":
        lock = DatabaseLock(scratch.db_path)
        try:
            await lock.take()
        except BaseException:
            await lock.release()
            raise
        holding = asyncio.create_task(lock.hold(lock_s))
    phase.fault_at = time.time()
    if name == "rasa":
        await kill_child(scratch, "rasa run")
    elif name == "app":
        await kill_child(scratch, "techan serve")
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    while phase.first_answer_after_fault() is None and time.monotonic() - started < FAULT_MAX_S:
        await asyncio.sleep(0.2)
        if time.monotonic() > next_progress:
            say(f"  … {time.monotonic() - started:.0f} s after the fault: {phase.sent()} messages sent, "
                "no bot answer yet")
            next_progress = time.monotonic() + PROGRESS_S
    if holding is not None:
        say(f"  database {'disk held full' if name == 'disk' else 'held locked'} for {await holding:.1f} s")
    recover = phase.first_answer_after_fault()
    say(f"  first bot answer {recover:.1f} s after the fault" if recover is not None
        else f"  no bot answer within {FAULT_MAX_S} s of the fault")
    await asyncio.sleep(AFTER_S)
    phase.stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), RETRY_FOR_S + REQUEST_TIMEOUT_S + 30)
    return phase


async def progress(phase: Phase) -> None:
    """A line every PROGRESS_S while a phase runs (cancelled at its end)."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(PROGRESS_S)
        answered = sum(bool(c.answers) for c in phase.customers)
        say(f"  … {time.monotonic() - started:.0f} s: {phase.sent()} messages sent, "
            f"{answered} of {len(phase.customers)} customers answered")


async def run_burst(http: aiohttp.ClientSession, scratch: Scratch, customers: int) -> tuple[Phase, float | None]:
    """``customers`` first messages at the same moment, then each one follow-up after its answer."""
    phase = Phase("burst", scratch.stack.app_url)
    gate = asyncio.Event()

    async def one(customer: Customer, number: int) -> None:
        await gate.wait()
        await chat(http, phase, customer, number, limit=2)

    tasks = [asyncio.create_task(one(phase.new_customer(), n)) for n in range(customers)]
    await asyncio.sleep(0.5)
    say(f"  fault: burst of {customers} customers at once")
    phase.fault_at = time.time()
    gate.set()
    ticker = asyncio.create_task(progress(phase))
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), RETRY_FOR_S + 3 * REQUEST_TIMEOUT_S + 30)
    finally:
        ticker.cancel()
    firsts = [min((arrived for asked, arrived in c.answers), default=None) for c in phase.customers]
    everyone = max(firsts) - phase.fault_at if firsts and None not in firsts else None
    return phase, everyone


# ------------------------------------------------------------------------------------------- counting

def pending_left(db_path: Path, senders: list[str]) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
        marks = ",".join("?" * len(senders))
        return db.execute(
            "SELECT count(*) FROM messages m JOIN conversations c ON m.conversation_id = c.id JOIN customers u "
            f"ON c.customer_id = u.id WHERE u.channel = 'web' AND u.external_id IN ({marks}) AND m.direction = 'in' "
            "AND m.delivery_status = 'pending'", senders).fetchone()[0]


async def settle(db_path: Path, senders: list[str]) -> float:
    """Until no message of these customers is pending any more (the sweep answers or routes them), bounded."""
    started = time.monotonic()
    next_progress = started + PROGRESS_S
    while time.monotonic() - started < SETTLE_S:
        left = await asyncio.to_thread(pending_left, db_path, senders)
        if not left:
            return time.monotonic() - started
        if time.monotonic() > next_progress:
            say(f"  … {left} message(s) still pending ({time.monotonic() - started:.0f} s)")
            next_progress = time.monotonic() + PROGRESS_S
        await asyncio.sleep(1)
    say(f"  ! messages still pending after {SETTLE_S} s (counted as lost)")
    return time.monotonic() - started


def count(db_path: Path, phase: Phase) -> dict:
    """Every message the script sent, as the database has it after the run."""
    senders = [c.sender for c in phase.customers]
    marks = ",".join("?" * len(senders))
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)) as db:
        rows = db.execute(
            "SELECT m.id, u.external_id, m.channel_message_id, m.delivery_status, m.created_at, m.conversation_id "
            "FROM messages m JOIN conversations c ON m.conversation_id = c.id JOIN customers u "
            f"ON c.customer_id = u.id WHERE u.channel = 'web' AND u.external_id IN ({marks}) AND m.direction = 'in'",
            senders).fetchall()
        conversations = sorted({row[5] for row in rows}) or [0]
        cmarks = ",".join("?" * len(conversations))
        last_bot = dict(db.execute(
            f"SELECT conversation_id, max(id) FROM messages WHERE conversation_id IN ({cmarks}) AND direction = 'out' "
            "AND author = 'bot' GROUP BY conversation_id", conversations).fetchall())
        handoffs = db.execute(f"SELECT conversation_id, reason, created_at, ended_at FROM handoffs "
                              f"WHERE conversation_id IN ({cmarks})", conversations).fetchall()
        ids = [row[0] for row in rows] or [0]
        noted = dict(db.execute(f"SELECT message_id, reason FROM unanswered_questions WHERE message_id IN "
                                f"({','.join('?' * len(ids))})", ids).fetchall())
    by_key: dict[str, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[2], []).append(row)

    def routed(row: tuple) -> bool:
        if noted.get(row[0]) not in (None, "unsure", "not_helpful", "customer_request", "video_request"):
            return True  # handed to staff with or for this message (bot_unavailable, …)
        return any(conv == row[5] and opened <= row[4] and (ended is None or row[4] < ended)
                   for conv, _reason, opened, ended in handoffs)  # kept for staff while the chat was with them

    figures = {"customers": len(senders), "sent": phase.sent(), "acknowledged": 0, "stored": 0, "answered": 0,
               "routed": 0, "lost": 0, "duplicated": 0, "not_acknowledged": 0, "lost_detail": []}
    expected = set()
    for customer in phase.customers:
        for message in customer.messages:
            key = message_key(customer.sender, message.client_id)
            expected.add(key)
            found = by_key.get(key, [])
            figures["acknowledged"] += message.acked
            figures["not_acknowledged"] += not message.acked
            figures["duplicated"] += max(0, len(found) - 1)
            if found:
                figures["stored"] += 1
            row = found[0] if found else None
            if row is not None and row[3] != "pending" and routed(row):
                figures["routed"] += 1
            elif row is not None and row[3] != "pending" and last_bot.get(row[5], 0) > row[0]:
                figures["answered"] += 1
            elif message.acked or row is not None:  # acknowledged, or stored and left pending
                figures["lost"] += 1
                figures["lost_detail"].append({"sender": customer.sender, "text": message.text,
                                               "state": "not stored" if row is None else row[3]})
    figures["duplicated"] += sum(len(found) for key, found in by_key.items() if key not in expected)
    figures["handoffs"] = len(handoffs)
    figures["handoff_reasons"] = sorted({reason for _conv, reason, _o, _e in handoffs})
    figures["gave_up"] = phase.gave_up
    return figures


# ------------------------------------------------------------------------------------------- main

def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def table(results: list[dict]) -> str:
    head = ("| fault | customers | sent | stored | answered | routed | lost | duplicated | handoffs "
            "| time to recover |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    lines = [head]
    for r in results:
        recover = seconds(r["recover_s"])
        if r["fault"] == "burst":
            recover += f" (all answered {seconds(r.get('all_answered_s'))})"
        lines.append(f"| {r['fault']} | {r['customers']} | {r['sent']} | {r['stored']} | {r['answered']} "
                     f"| {r['routed']} | {r['lost']} | {r['duplicated']} | {r['handoffs']} | {recover} |")
    return "\n".join(lines)


async def run_all(scratch: Scratch, faults: list[str], customers: int, lock_s: float) -> list[dict]:
    results = []
    stack = scratch.stack
    db_path = scratch.db_path
    connector = aiohttp.TCPConnector(limit=max(100, 2 * customers))
    async with aiohttp.ClientSession(connector=connector) as http:
        for name in faults:
            await wait_healthy(http, stack.app_url)
            say(f"[{name}] {time.strftime('%H:%M:%S')} ")
            everyone = None
            if name == "burst":
                phase, everyone = await run_burst(http, scratch, customers)
            else:
                phase = await run_fault(http, scratch, name, min(customers, CHATTING), lock_s)
            say(f"  {phase.sent()} messages sent; waiting for what is pending to be answered or routed…")
            settled = await settle(db_path, [c.sender for c in phase.customers])
            figures = {"fault": name, **count(db_path, phase), "recover_s": phase.first_answer_after_fault(),
                       "settled_s": round(settled, 1)}
            if name == "burst":
                figures["all_answered_s"] = everyone
            if name in ("db", "disk"):
                figures["lock_s"] = lock_s
            results.append(figures)
            say(f"  {name}: sent {figures['sent']}, stored {figures['stored']}, answered {figures['answered']}, "
                f"routed {figures['routed']}, lost {figures['lost']}, duplicated {figures['duplicated']}, "
                f"handoffs {figures['handoffs']}{' ' + str(figures['handoff_reasons']) if figures['handoffs'] else ''}, "
                f"not acknowledged {figures['not_acknowledged']}, recover {seconds(figures['recover_s'])}")
            for lost in figures["lost_detail"][:10]:
                say(f"  ! lost: {lost}")
    return results


def main() -> int:
    global _out
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50,
                        help=f"customers in the burst (default 50); at most {CHATTING} chat through the other faults")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"which, in order (default {','.join(FAULTS)})")
    parser.add_argument("--lock-seconds", type=float, default=8.0,
                        help="how long the database is held locked, or its disk full (default 8)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (progress goes to stderr)")
    args = parser.parse_args()
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown or not faults or not 1 <= args.customers <= 500:
        parser.error(f"--faults takes {','.join(FAULTS)}; --customers 1–500")
    if "disk" in faults and (os.geteuid() != 0 or not shutil.which("mount")):
        parser.error("the disk fault mounts a small tmpfs under the database: run as root, or leave it out")
    if args.json:
        _out = sys.stderr

    def terminate(_signum, _frame):  # SIGTERM stops the stack as Ctrl-C does
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    scratch = Scratch()
    machine = {"machine": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    say(f"machine: {machine['machine']}, {machine['cores']} cores, Python {machine['python']}, {machine['date']}")
    say("starting a scratch stack…")
    data_dir = Path(tempfile.mkdtemp(prefix="techan-faults-"))
    results: list[dict] = []
    try:
        if "disk" in faults:
            scratch.small_disk = SmallDisk(data_dir / "disk")
        start(scratch, data_dir)
        results = asyncio.run(run_all(scratch, faults, args.customers, args.lock_seconds))
    except KeyboardInterrupt:
        say(f"interrupted (the scratch data dir stays: {data_dir})")
        return 130
    finally:
        scratch.stop()
        if scratch.small_disk:
            if any(r["lost"] or r["duplicated"] for r in results):  # the database, for a look, off the tmpfs
                shutil.copy2(scratch.db_path, data_dir / "techan.db")
            scratch.small_disk.unmount()
    if any(r["lost"] or r["duplicated"] for r in results):
        say(f"the scratch data dir stays for a look: {data_dir}")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    if args.json:
        print(json.dumps({**machine, "customers": args.customers, "faults": results}, ensure_ascii=False, indent=2))
    else:
        say("\n" + table(results))
    return 1 if any(r["lost"] or r["duplicated"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
