"""Chat latency on a warm stack, in one run: the app (POST /api/chat, which asks Rasa, which calls the app's
actions), Rasa alone (its REST channel, same actions) and Rasa's NLU alone (/model/parse): p50/p95, messages
per second and CPU milliseconds per message (the app's process and Rasa's, read from /proc).

Sends 200 mixed questions (KB answers, greetings, gifts) as 40 five-message conversations, one at a time and
then with 8 concurrent senders. Every reply is checked (HTTP 200, still with the bot, not empty) and failures
are counted. By default it starts its own stack (`techan run` on free ports, scratch data dir, the models
`make setup` provisioned); `--url` measures a stack that is already running instead (the app path only: the
Rasa server's address and process are not known then). Each layout ends with the resident memory of the app's
and Rasa's processes, now and at their peak. A run on its own stack then compares 1 app + 1 Rasa server with
2 + 2 on PostgreSQL and Redis, each message to the next instance (`--instances`: only that; `--no-instances`:
without it). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.settings import Settings  # noqa: E402
from tests.stack import WebCustomers, several_instances, start_stack, stop_stack  # noqa: E402

QUESTIONS = [
    "普洱茶保质期多久？", "Can you vacuum pack the beef jerky?", "鲜花饼能放几天", "龙井要不要放冰箱",
    "腊肉收到以后怎么保存", "牛肉干能抽真空吗", "运费怎么算？", "你们发什么快递", "大红袍是红茶吗",
    "收到的瓷器碎了怎么办", "可以开发票吗", "你好", "想给爸妈买点过年送的，三百左右", "紫砂壶怎么保养",
    "熟普能放多久", "真空包装要加钱吗", "能用支付宝吗", "退款多久到账", "发货后几天能到？", "谢谢",
]
WARMUP = 10
TOTAL = 200
TURNS = 5  # messages per conversation, as customers write
MACHINE = (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
           f"Python {platform.python_version()}")


Ask = Callable[[str, str], bool]  # (sender, text) -> whether the answer was a real one


def app_path(*apps: WebCustomers) -> Ask:
    """Through the app; with several instances, each message to the next one (as a round-robin proxy does)."""
    turn = itertools.count()

    def ask(sender: str, text: str) -> bool:
        status, reply = apps[next(turn) % len(apps)].request(sender, body={"text": text}, timeout=60)
        return status == 200 and reply.get("state") == "bot" and bool(reply.get("replies"))
    return ask


def instances_compared() -> None:
    """1 app + 1 Rasa against 2 + 2, both on PostgreSQL and Redis (the layout of deploy/), the app path only."""
    for count in (1, 2):
        with tempfile.TemporaryDirectory(prefix="techan-bench-") as folder, \
                several_instances(Path(folder), count) as (urls, pids):
            apps = [WebCustomers(url) for url in urls]
            for app in apps[1:]:
                app.tokens = apps[0].tokens  # one customer's chat token is good on every instance
            ask = app_path(*apps)
            for text in QUESTIONS[:WARMUP]:
                ask(f"bench-warmup-{uuid.uuid4().hex[:6]}", text)
            processes = {"apps": pids[:count], "rasas": pids[count:]}  # apps first, then Rasa servers
            for concurrency in (1, 8):
                run(f"{count}x{count} app", ask, concurrency, processes)
            print_memory(processes)


def post_json(url: str, body: dict) -> tuple[int, object]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, json.loads(response.read())


def rasa_path(rasa_url: str) -> Ask:
    """Rasa's REST channel, as the app calls it (with the language in the metadata)."""
    def ask(sender: str, text: str) -> bool:
        status, messages = post_json(f"{rasa_url}/webhooks/rest/webhook",
                                     {"sender": f"web:{sender}", "message": text, "metadata": {"language": "zh"}})
        return status == 200 and bool(messages)
    return ask


def nlu_path(rasa_url: str, token: str) -> Ask:
    def ask(_sender: str, text: str) -> bool:
        status, parsed = post_json(f"{rasa_url}/model/parse?token={token}", {"text": text})
        return status == 200 and bool(parsed.get("intent", {}).get("name"))
    return ask


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sorted(tree)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def resident_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process and its descendants: now (VmRSS) or at its peak (VmHWM)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith(field + ":")) / 1024
    return total


def print_memory(processes: dict[str, list[int]]) -> None:
    now = {label: sum(map(resident_mb, pids)) for label, pids in processes.items()}
    peak = {label: sum(resident_mb(pid, "VmHWM") for pid in pids) for label, pids in processes.items()}
    print("resident memory after the runs: " + "  ".join(
        f"{label} {now[label]:,.0f} MB (peak {peak[label]:,.0f})" for label in processes)
        + f"  all {sum(now.values()):,.0f} MB (sum of peaks {sum(peak.values()):,.0f})", flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(name: str, ask: Ask, concurrency: int, processes: dict[str, list[int]]) -> None:
    """``processes``: a name -> the pids whose CPU time (with their children's) is counted per message under it."""
    def timed(sender: str, text: str) -> tuple[float, bool]:
        started = time.perf_counter()
        ok = ask(sender, text)
        return time.perf_counter() - started, ok

    def conversation(number: int) -> list[tuple[float, bool]]:
        sender = f"bench-{uuid.uuid4().hex[:10]}"
        return [timed(sender, QUESTIONS[(number * TURNS + turn) % len(QUESTIONS)]) for turn in range(TURNS)]

    def spent() -> dict[str, float]:
        return {label: sum(map(cpu_seconds, pids)) for label, pids in processes.items()}

    cpu_before = spent()
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for conv in pool.map(conversation, range(TOTAL // TURNS)) for r in conv]
    elapsed = time.perf_counter() - started
    cpu = {label: (seconds - cpu_before[label]) * 1000 / len(results) for label, seconds in spent().items()}
    if cpu:
        cpu["all"] = sum(cpu.values())
    latencies = [latency for latency, _ in results]
    failures = sum(not ok for _, ok in results)
    load = "sequential" if concurrency == 1 else f"{concurrency} concurrent"
    per_message = "  ".join(f"{label} {ms:4.0f}" for label, ms in cpu.items())
    print(f"{name:<12}{load:<15}p50 {statistics.median(latencies) * 1000:6.0f} ms   "
          f"p95 {percentile(latencies, 0.95) * 1000:6.0f} ms   {len(results) / elapsed:5.1f} messages/s   "
          f"CPU ms/message: {per_message}   ({len(results)} messages, {failures} not answered)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start a scratch stack)")
    parser.add_argument("--instances", action="store_true",
                        help="only compare 1 app + 1 Rasa server with 2 + 2 on PostgreSQL and Redis (needs both "
                             "installed); a run on a scratch stack ends with this comparison anyway")
    parser.add_argument("--no-instances", action="store_true", help="leave the comparison of instances out")
    args = parser.parse_args()
    if args.instances:
        print(MACHINE, flush=True)
        instances_compared()
        return
    paths_compared(args.url)
    if not args.url and not args.no_instances:
        instances_compared()


def paths_compared(url: str | None) -> None:
    """The app, Rasa alone and NLU alone on a scratch stack (``url``: only the app's path, on that app)."""
    stack = None
    if url:
        url = url.rstrip("/")
    else:
        print("starting a scratch stack…", flush=True)
        stack = start_stack(Path(tempfile.mkdtemp(prefix="techan-bench-")))
        url = stack.app_url
    customers = WebCustomers(url)
    app = app_path(customers)
    try:
        for text in QUESTIONS[:WARMUP]:
            app(f"bench-warmup-{uuid.uuid4().hex[:6]}", text)
        print(MACHINE, flush=True)
        if stack is None:
            run("app", app, 1, {})
            run("app", app, 8, {})
            return
        started = {Path(f"/proc/{child}/cmdline").read_bytes(): child  # `techan run` starts the app and Rasa
                   for child in children(stack.process.pid)}
        processes = {"app": [pid for line, pid in started.items() if b"serve" in line],
                     "rasa": [pid for line, pid in started.items() if b"rasa" in line]}
        token = Settings(_env_file=None, data_dir=stack.data_dir).rasa_token
        paths = [("app", app), ("rasa alone", rasa_path(stack.rasa_url)), ("nlu alone", nlu_path(stack.rasa_url, token))]
        for name, ask in paths:
            run(name, ask, 1, processes)
        for name, ask in paths:
            run(name, ask, 8, processes)
        print_memory(processes)
    finally:
        if stack:
            stop_stack(stack)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


if __name__ == "__main__":
    main()
