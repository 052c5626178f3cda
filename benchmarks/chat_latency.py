"""Chat latency through POST /api/chat on a warm stack: p50/p95 and messages per second.

Sends 200 mixed questions (KB answers, greetings, gifts) sequentially, then with
8 concurrent senders. By default it starts its own stack (`techan run` on free
ports, scratch data dir, the models `make setup` provisioned); `--url` measures
a stack that is already running instead. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack import start_stack, stop_stack  # noqa: E402

QUESTIONS = [
    "普洱茶保质期多久？", "Can you vacuum pack the beef jerky?", "鲜花饼能放几天", "龙井要不要放冰箱",
    "腊肉收到以后怎么保存", "牛肉干能抽真空吗", "运费怎么算？", "你们发什么快递", "大红袍是红茶吗",
    "收到的瓷器碎了怎么办", "可以开发票吗", "你好", "想给爸妈买点过年送的，三百左右", "紫砂壶怎么保养",
    "熟普能放多久", "真空包装要加钱吗", "能用支付宝吗", "退款多久到账", "发货后几天能到？", "谢谢",
]
WARMUP = 10
TOTAL = 200


def ask(url: str, sender: str, text: str) -> float:
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(f"{url}/api/chat/{sender}", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(url: str, concurrency: int) -> None:
    senders = [f"bench-{uuid.uuid4().hex[:8]}" for _ in range(concurrency)]
    jobs = [(senders[i % concurrency], QUESTIONS[i % len(QUESTIONS)]) for i in range(TOTAL)]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = list(pool.map(lambda job: ask(url, *job), jobs))
    elapsed = time.perf_counter() - started
    print(f"{'sequential' if concurrency == 1 else f'{concurrency} concurrent senders':<22}"
          f"p50 {statistics.median(latencies) * 1000:6.0f} ms   p95 {percentile(latencies, 0.95) * 1000:6.0f} ms   "
          f"{TOTAL / elapsed:5.1f} messages/s   ({TOTAL} messages)")


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
    try:
        for text in QUESTIONS[:WARMUP]:
            ask(url, "bench-warmup", text)
        print(f"machine: {platform.processor() or platform.machine()}, "
              f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}")
        run(url, 1)
        run(url, 8)
    finally:
        if stack:
            stop_stack(stack)


if __name__ == "__main__":
    main()
