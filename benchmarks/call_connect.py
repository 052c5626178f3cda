"""Call set-up time and the app's CPU per bridged call, on loopback.

For each mode (p2p, bridge): 30 calls, each from the customer's "join" to ICE/DTLS connected and to
the first video frame, measured on headless aiortc peers (tests/call_peer.py) that join through the
app's real signalling. Then, in bridge mode, one call each at 480p, 720p and 1080p for 15 s, with
the app's CPU time read from /proc (the peers run in this process, the app in its own).
Starts `techan serve` itself with a scratch data dir; prints figures and asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.browser_call import serve_app, stop_app  # noqa: E402
from tests.call_peer import CallPeer, web_customer_hello  # noqa: E402
from tests.conftest import wait_until  # noqa: E402
from tests.stack import staff_token  # noqa: E402

CALLS = 30
CPU_SECONDS = 15
SENDER = "web-bench"  # the one web-chat customer every call of the run is with
TICKS = os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def post(session: aiohttp.ClientSession, url: str, token: str | None = None, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.post(url, json=body or {}, headers=headers) as response:
        return await response.json()


async def one_call(session, url: str, token: str, conversation_id: int, size=(640, 480), hold_s: float = 0.0,
                   pid: int | None = None) -> tuple[float, float, tuple[float, float] | None]:
    call = await post(session, f"{url}/api/conversations/{conversation_id}/calls", token, {"kind": "video"})
    ws_url = f"{url.replace('http', 'ws')}/ws/call/{call['call_id']}"
    staff, customer = CallPeer("staff", size=size), CallPeer("customer", size=size)
    await staff.join(session, ws_url, {"type": "join", "role": "staff"}, {"Authorization": f"Bearer {token}"})
    await customer.join(session, ws_url, await web_customer_hello(session, f"{url}/api/chat/{SENDER}",
                                                                  call["customer_url"]))
    cpu = None
    try:
        await wait_until(lambda: customer.connected.is_set() and customer.first_frame.is_set(), 30)
        if hold_s:
            await asyncio.sleep(2)  # let the encoders settle
            before, frames, started = cpu_seconds(pid), customer.received["video"], time.perf_counter()
            await asyncio.sleep(hold_s)
            elapsed = time.perf_counter() - started
            cpu = ((cpu_seconds(pid) - before) / elapsed, (customer.received["video"] - frames) / elapsed)
        await customer.hang_up()
        await wait_until(staff.ended.is_set, 10)
    finally:
        await staff.close()
        await customer.close()
    return customer.connected_at - customer.joined_at, customer.first_frame_at - customer.joined_at, cpu


async def run_mode(mode: str) -> list[str]:
    with tempfile.TemporaryDirectory(prefix=f"techan-calls-{mode}-") as data_dir:
        process, url = serve_app(Path(data_dir), mode, {"TECHAN_LOG_LEVEL": "WARNING"})
        try:
            token = staff_token(Path(data_dir), "staff", "bench")
            # unsafe: keep the chat cookies an address (127.0.0.1) sets, as a browser does
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
                await post(session, f"{url}/api/chat/{SENDER}", body={"text": "想视频看货"})  # no Rasa: to staff
                async with session.get(f"{url}/api/handoffs", headers={"Authorization": f"Bearer {token}"}) as r:
                    handoff = (await r.json())["handoffs"][0]
                await post(session, f"{url}/api/handoffs/{handoff['id']}/claim", token)
                connected, first_frame = [], []
                for _ in range(CALLS):
                    c, f, _cpu = await one_call(session, url, token, handoff["conversation_id"])
                    connected.append(c)
                    first_frame.append(f)
                lines = [f"{mode:<7} join -> connected    p50 {statistics.median(connected) * 1000:5.0f} ms   "
                         f"p95 {percentile(connected, 0.95) * 1000:5.0f} ms   ({CALLS} calls)",
                         f"{mode:<7} join -> first frame  p50 {statistics.median(first_frame) * 1000:5.0f} ms   "
                         f"p95 {percentile(first_frame, 0.95) * 1000:5.0f} ms"]
                if mode == "bridge":
                    for label, size in (("480p", (854, 480)), ("720p", (1280, 720)), ("1080p", (1920, 1080))):
                        *_, (cpu, fps) = await one_call(session, url, token, handoff["conversation_id"], size=size,
                                                        hold_s=CPU_SECONDS, pid=process.pid)
                        lines.append(f"bridge  app CPU per call at {label}: {cpu * 100:.0f}% of one core "
                                     f"(both directions forwarded as encoded, {CPU_SECONDS} s), the customer "
                                     f"receiving {fps:.1f} fps; load average {os.getloadavg()[0]:.1f}")
                return lines
        finally:
            stop_app(process)


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for mode in sys.argv[1].split(",") if len(sys.argv) > 1 else ("p2p", "bridge"):  # e.g. `bridge` alone
        for line in asyncio.run(run_mode(mode)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
