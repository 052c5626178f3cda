"""Honest customers' latency while one address floods the web chat with 转人工 (issue 14's limits).

Starts its own stack (`techan run` on free ports, scratch data dir, the real Rasa server, the default
limits, ``TECHAN_TRUSTED_PROXIES=127.0.0.1`` so that each simulated customer comes from the address it
names in X-Forwarded-For) and runs two rounds of RUN_S seconds: *quiet*, ten honest customers chatting,
each from an address of its own, two of them ending with 转人工; then *flood*, the same while one address
sends FLOOD ``/request_human`` messages under fresh sender ids. Each customer has a client (cookie jar) of
its own. Prints p50/p95 of the honest messages per round, whether every honest message was answered and
stored, what the flood got, and who is in the staff queue and who was set aside from it; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.chat_latency import QUESTIONS, percentile  # noqa: E402
from tests.stack import Stack, staff_token, start_stack, stop_stack  # noqa: E402

HONEST = 10
ASKS_FOR_STAFF = 2  # honest customers who end their chat with 转人工, each round
RUN_S = 20.0
FLOOD = 2000
FLOOD_ADDRESS = "203.0.113.66"
FLOOD_CONNECTIONS = 100  # the attacker's requests in flight at most (aiohttp's default pool)
PAUSE_S = (2.5, 3.5)  # an honest customer reads the answer before writing again (well under 20 a minute)


@dataclass
class Round:
    name: str
    load: float  # the 1-minute load average when the round started
    latencies: list[float] = field(default_factory=list)
    not_answered: int = 0  # an error, no reply, a limit, or an answer left for later
    sent: dict[str, int] = field(default_factory=dict)  # honest sender -> messages sent
    flood: Counter = field(default_factory=Counter)
    flood_s: float = 0.0


def honest_address(number: int) -> str:
    return f"198.51.100.{10 + number}"


async def honest_customer(url: str, number: int, sender: str, result: Round, until: float) -> None:
    """One customer chatting until ``until`` (monotonic), one message at a time; some then ask for staff."""
    chooser = random.Random(number)
    headers = {"X-Forwarded-For": honest_address(number)}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        turn = 0
        while True:
            last = time.monotonic() >= until
            text = "转人工" if last and number < ASKS_FOR_STAFF else QUESTIONS[(number * 7 + turn) % len(QUESTIONS)]
            started = time.perf_counter()
            try:
                async with http.post(f"{url}/api/chat/{sender}", json={"text": text}, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=60)) as response:
                    body = await response.json()
                    ok = response.status == 200 and bool(body.get("replies")) and not body.get("limited") \
                        and not body.get("pending")
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            result.latencies.append(time.perf_counter() - started)
            result.not_answered += not ok
            result.sent[sender] = result.sent.get(sender, 0) + 1
            turn += 1
            if last:
                return
            await asyncio.sleep(chooser.uniform(*PAUSE_S))


async def flood(url: str, result: Round) -> None:
    """FLOOD messages in RUN_S seconds from one address, each under a sender id never seen before."""
    headers = {"X-Forwarded-For": FLOOD_ADDRESS}
    slots = asyncio.Semaphore(FLOOD_CONNECTIONS)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession() as http:
        async def one(number: int) -> None:
            await asyncio.sleep(max(0.0, started + number * RUN_S / FLOOD - loop.time()))
            async with slots:
                try:
                    async with http.post(f"{url}/api/chat/f-{uuid.uuid4().hex[:10]}",
                                         json={"payload": "/request_human"}, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=60)) as response:
                        body = await response.json()
                        outcome = "limited" if body.get("limited") else f"{response.status} {body.get('state')}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    outcome = exc.__class__.__name__
                result.flood[outcome] += 1
        await asyncio.gather(*(one(number) for number in range(FLOOD)))
    result.flood_s = loop.time() - started


async def run_round(url: str, name: str, with_flood: bool) -> Round:
    result = Round(name, os.getloadavg()[0])
    until = time.monotonic() + RUN_S
    customers = [honest_customer(url, number, f"h{name[0]}{number}-{uuid.uuid4().hex[:4]}", result, until)
                 for number in range(HONEST)]
    await asyncio.gather(*customers, *([flood(url, result)] if with_flood else []))
    return result


def stored(stack: Stack, senders: list[str]) -> tuple[int, int]:
    """(inbound messages stored for these senders, how many of them over a limit)."""
    marks = ",".join("?" * len(senders))
    with sqlite3.connect(stack.data_dir / "techan.db") as db:
        return db.execute(
            "SELECT count(*), coalesce(sum(m.delivery_status = 'limited'), 0) FROM messages m "
            "JOIN conversations c ON m.conversation_id = c.id JOIN customers u ON c.customer_id = u.id "
            f"WHERE m.direction = 'in' AND u.external_id IN ({marks})", senders).fetchone()


async def staff_queue(url: str, token: str) -> tuple[list[str], list[str]]:
    """The customers in the staff queue, and those set aside apart from it (a network limit tripped)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/api/handoffs", headers={"Authorization": f"Bearer {token}"}) as response:
            handoffs = (await response.json())["handoffs"]
    return ([h["customer"] for h in handoffs if not h["set_aside"]], [h["customer"] for h in handoffs if h["set_aside"]])


async def measure(stack: Stack, token: str) -> None:
    url = stack.app_url
    async with aiohttp.ClientSession() as http:  # warm-up: the first answers load what they need
        for text in QUESTIONS[:5]:
            async with http.post(f"{url}/api/chat/warmup-{uuid.uuid4().hex[:6]}", json={"text": text},
                                 headers={"X-Forwarded-For": "192.0.2.1"}) as response:
                await response.read()
    rounds = [await run_round(url, "quiet", False), await run_round(url, "flood", True)]
    queue, set_aside = await staff_queue(url, token)
    print(f"{'round':<7}{'load':>6}{'honest':>8}{'p50 ms':>8}{'p95 ms':>8}{'not answered':>14}{'lost':>6}"
          f"{'limited':>9}   flood")
    for result in rounds:
        senders = list(result.sent)
        kept, limited = stored(stack, senders)
        lost = sum(result.sent.values()) - kept
        flood = ", ".join(f"{count} {outcome}" for outcome, count in result.flood.most_common()) or "-"
        if result.flood:
            flood += f" ({sum(result.flood.values())} in {result.flood_s:.1f} s)"
        print(f"{result.name:<7}{result.load:>6.2f}{len(result.latencies):>8}"
              f"{percentile(result.latencies, 0.5) * 1000:>8.0f}{percentile(result.latencies, 0.95) * 1000:>8.0f}"
              f"{result.not_answered:>14}{lost:>6}{limited:>9}   {flood}")
    quiet, flooded = (percentile(result.latencies, 0.95) for result in rounds)
    print(f"honest p95 under the flood / quiet: {flooded / quiet:.2f} (target: at most 2)")
    for title, names in (("staff queue", queue), ("set aside", set_aside)):
        honest, flood = sum(name.startswith("h") for name in names), sum(name.startswith("f-") for name in names)
        print(f"{title}: {len(names)} chats, {honest} honest, {flood} from the flood, {len(names) - honest - flood} other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    print("starting a scratch stack…", flush=True)
    data_dir = Path(tempfile.mkdtemp(prefix="techan-flood-bench-"))
    stack = start_stack(data_dir, {"TECHAN_TRUSTED_PROXIES": "127.0.0.1"}, limits=True)
    try:
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}; {HONEST} honest customers, {FLOOD} flood messages "
              f"in {RUN_S:.0f} s", flush=True)
        asyncio.run(measure(stack, staff_token(data_dir)))
    finally:
        stop_stack(stack)


if __name__ == "__main__":
    main()
