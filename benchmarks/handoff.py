"""Handoff latency on a warm stack while 50 other chats wait in the queue.

1. a customer's "转人工" (through Rasa and the handoff action) -> the staff console's
   WebSocket event, for 30 customers one after another;
2. a staff reply to each of them -> the customer's web chat has it (its WebSocket is told,
   then it fetches the message, as chat.js does).

Starts its own stack (`techan run`, scratch data dir) and prints p50/p95; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.stack import staff_token, start_stack, stop_stack  # noqa: E402

WAITING = 50
MEASURED = 30


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"{label:<44} p50 {statistics.median(ordered) * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms"
            f"   ({len(ordered)} samples)")


async def measure(url: str, token: str) -> None:
    staff = {"Authorization": f"Bearer {token}"}
    background = [f"w-{uuid.uuid4().hex[:8]}" for _ in range(WAITING)]
    senders = [f"b-{uuid.uuid4().hex[:8]}" for _ in range(MEASURED)]  # short: the queue shows 12 characters
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # keeps 127.0.0.1's chat cookies

        async def ask_for_a_person(sender: str) -> None:
            async with http.post(f"{url}/api/chat/{sender}", json={"text": "转人工"}) as response:
                body = await response.json()
                assert body["state"] == "waiting", body

        for start in range(0, WAITING, 8):  # the queue others are waiting in
            await asyncio.gather(*(ask_for_a_person(s) for s in background[start:start + 8]))
        console = await http.ws_connect(f"{url}/ws/staff", headers=staff)
        await console.receive_json()  # hello
        customers = {}  # each chat page's push socket, open once its first message got it a chat token

        handoff_latency = []
        for sender in senders:
            started = time.perf_counter()
            await ask_for_a_person(sender)
            while (await console.receive_json(timeout=10))["type"] != "queue":
                pass
            handoff_latency.append(time.perf_counter() - started)
            customers[sender] = await http.ws_connect(f"{url}/ws/chat/{sender}")

        async with http.get(f"{url}/api/handoffs", headers=staff) as response:
            queue = {h["customer"]: h for h in (await response.json())["handoffs"]}
        assert len(queue) >= WAITING + MEASURED
        reply_latency = []
        for sender in senders:
            async with http.post(f"{url}/api/handoffs/{queue[sender]['id']}/claim", headers=staff) as response:
                assert response.status == 200
            started = time.perf_counter()
            async with http.post(f"{url}/api/conversations/{queue[sender]['conversation_id']}/messages",
                                 json={"text": "您好，我是店员"}, headers=staff) as response:
                assert response.status == 201
            assert (await customers[sender].receive_json(timeout=10))["type"] == "message"
            async with http.get(f"{url}/api/chat/{sender}/messages?after=0") as response:
                assert (await response.json())["messages"], "the customer did not get the reply"
            reply_latency.append(time.perf_counter() - started)
        for ws in (console, *customers.values()):
            await ws.close()
    print(summary(f"handoff message -> console event ({WAITING} waiting)", handoff_latency))
    print(summary(f"staff reply -> customer's chat ({WAITING} waiting)", reply_latency))


def main() -> None:
    print("starting a scratch stack…", flush=True)
    data_dir = Path(tempfile.mkdtemp(prefix="techan-handoff-bench-"))
    stack = start_stack(data_dir)
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
        asyncio.run(measure(stack.app_url, staff_token(data_dir)))
    finally:
        stop_stack(stack)


if __name__ == "__main__":
    main()
