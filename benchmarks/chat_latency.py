"""Chat latency through POST /api/chat on a warm stack: p50/p95 and messages per second.

Sends 200 mixed questions (KB answers, greetings, gifts) as 40 five-message
conversations, one at a time and then with 8 concurrent senders. Every reply is
checked (HTTP 200, still with the bot, not empty) and failures are counted. By default it starts its own stack (`techan run` on free
ports, scratch data dir, the models `make setup` provisioned); `--url` measures
a stack that is already running instead. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack import WebCustomers, start_stack, stop_stack  # noqa: E402

QUESTIONS = [
    "普洱茶保质期多久？", "Can you vacuum pack the beef jerky?", "鲜花饼能放几天", "龙井要不要放冰箱",
    "腊肉收到以后怎么保存", "牛肉干能抽真空吗", "运费怎么算？", "你们发什么快递", "大红袍是红茶吗",
    "收到的瓷器碎了怎么办", "可以开发票吗", "你好", "想给爸妈买点过年送的，三百左右", "紫砂壶怎么保养",
    "熟普能放多久", "真空包装要加钱吗", "能用支付宝吗", "退款多久到账", "发货后几天能到？", "谢谢",
]
WARMUP = 10
TOTAL = 200
TURNS = 5  # messages per conversation, as customers write


def ask(customers: WebCustomers, sender: str, text: str) -> tuple[float, bool]:
    """Latency of one message, and whether the reply was a real bot answer."""
    started = time.perf_counter()
    status, reply = customers.request(sender, body={"text": text}, timeout=60)
    elapsed = time.perf_counter() - started
    return elapsed, status == 200 and reply.get("state") == "bot" and bool(reply.get("replies"))


def conversation(customers: WebCustomers, number: int) -> list[tuple[float, bool]]:
    sender = f"bench-{uuid.uuid4().hex[:10]}"
    return [ask(customers, sender, QUESTIONS[(number * TURNS + turn) % len(QUESTIONS)]) for turn in range(TURNS)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(customers: WebCustomers, concurrency: int) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = [r for conv in pool.map(lambda n: conversation(customers, n), range(TOTAL // TURNS)) for r in conv]
    elapsed = time.perf_counter() - started
    latencies = [latency for latency, _ in results]
    failures = sum(not ok for _, ok in results)
    print(f"{'sequential' if concurrency == 1 else f'{concurrency} concurrent senders':<22}"
          f"p50 {statistics.median(latencies) * 1000:6.0f} ms   p95 {percentile(latencies, 0.95) * 1000:6.0f} ms   "
          f"{len(results) / elapsed:5.1f} messages/s   ({len(results)} messages, {failures} not answered by the bot)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start a scratch stack)")
    args = parser.parse_args()
    stack = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        print("starting a scratch stack…", flush=True)
        stack = start_stack(Path(tempfile.mkdtemp(prefix="techan-bench-")))
        url = stack.app_url
    customers = WebCustomers(url)
    try:
        for text in QUESTIONS[:WARMUP]:
            ask(customers, f"bench-warmup-{uuid.uuid4().hex[:6]}", text)
        print(f"machine: {platform.processor() or platform.machine()}, "
              f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}")
        run(customers, 1)
        run(customers, 8)
    finally:
        if stack:
            stop_stack(stack)


if __name__ == "__main__":
    main()
