"""A bad network in user space: coturn on 127.0.0.1 behind a UDP proxy that drops, delays, reorders,
rate-limits and cuts packets (kernel traffic shaping, `tc netem`, is not available here).

    browser ──UDP──▶ ImpairedProxy ──UDP──▶ coturn (TURN relay on 127.0.0.1) ──▶ the other browser / the app

Pages forced to relay candidates (`TECHAN_ICE_RELAY_ONLY=1`) send all their media to the proxy's port,
which forwards each client (by its address) to coturn from a socket of its own. The impairment is applied
to the packets the proxy hands back to the clients ("down"), so every media packet of a call crosses the
impaired leg exactly once (sender → TURN is clean, TURN → receiver is impaired), in both directions of the
call; an outage cuts both directions. Jitter is a delay that wanders within ±jitter around the delay (a new
random target every 200 ms, reached linearly, so packets keep their order as on a real path whose queues
fill and drain); packets overtake each other only by `reorder`. The rate limit is a FIFO link of that
rate with a bounded queue (drop-tail), per client.

Used by tests/e2e/test_call_network.py and benchmarks/call_quality.py:

    with Rig() as rig:                       # coturn + proxy, stopped on exit
        env = rig.app_env()                  # TECHAN_TURN_URL / TECHAN_TURN_SECRET / TECHAN_ICE_RELAY_ONLY
        rig.impair(Impairment(loss=0.05))
        rig.outage(5)
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TURNSERVER = "/usr/bin/turnserver"
JITTER_STEP_S = 0.2  # ±50 ms in 200 ms: the delay changes at most 0.5 ms per ms, so packets never overtake


@dataclass(frozen=True)
class Impairment:
    """What happens to each packet on the impaired leg; the defaults do nothing."""

    loss: float = 0.0  # probability that a packet is dropped
    delay_ms: float = 0.0  # fixed one-way delay added
    jitter_ms: float = 0.0  # plus a delay wandering within [-jitter, +jitter] (new target every JITTER_STEP_S)
    reorder: float = 0.0  # probability that a packet is held back reorder_ms more (later ones overtake it)
    reorder_ms: float = 30.0
    rate_kbps: float = 0.0  # link rate; 0: unlimited
    queue_packets: int = 50  # packets waiting for the link at most; more are dropped (drop-tail)

    @property
    def label(self) -> str:
        parts = [f"loss {self.loss:.0%}"] if self.loss else []
        if self.delay_ms or self.jitter_ms:
            parts.append(f"delay {self.delay_ms:.0f}±{self.jitter_ms:.0f} ms")
        if self.reorder:
            parts.append(f"reorder {self.reorder:.0%}")
        if self.rate_kbps:
            parts.append(f"{self.rate_kbps:.0f} kbit/s")
        return ", ".join(parts) or "clean"


@dataclass
class Counters:
    forwarded: int = 0
    lost: int = 0  # dropped by the loss probability
    queue_full: int = 0  # dropped by the rate limit's full queue
    outage: int = 0  # dropped during an outage


@dataclass
class Link:
    """One direction towards one client: when the link is busy until, and the packets still queued on it."""

    busy_until: float = 0.0
    departures: collections.deque = field(default_factory=collections.deque)
    jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # (t0, ms at t0, t1, ms at t1)

    def wander(self, now: float, amplitude_ms: float, rng: random.Random) -> float:
        """The jitter now: linear from one random target to the next, JITTER_STEP_S apart."""
        t0, v0, t1, v1 = self.jitter
        if now >= t1:
            t0, v0, t1, v1 = now, (v1 if t1 else rng.uniform(-amplitude_ms, amplitude_ms)), now + JITTER_STEP_S, \
                rng.uniform(-amplitude_ms, amplitude_ms)
            self.jitter = (t0, v0, t1, v1)
        return v0 + (v1 - v0) * (now - t0) / (t1 - t0)


class ImpairedProxy:
    """UDP proxy on 127.0.0.1: clients talk to ``port``; each gets its own socket towards ``target``."""

    def __init__(self, target: tuple[str, int], seed: int | None = None) -> None:
        self.target = target
        self.down = Impairment()  # towards the clients
        self.up = Impairment()  # towards the target
        self.outage_until = 0.0
        self.counters = {"down": Counters(), "up": Counters()}
        self.random = random.Random(seed)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.DatagramTransport | None = None
        self._upstreams: dict[tuple, asyncio.DatagramTransport | list[bytes]] = {}
        self._links: dict[tuple, Link] = {}

    # ------------------------------------------------------------ the decision for one packet
    def _schedule(self, direction: str, client: tuple, size: int, now: float) -> float | None:
        """Seconds from now at which to deliver the packet, or None to drop it."""
        rule, counters = self.down if direction == "down" else self.up, self.counters[direction]
        if now < self.outage_until:
            counters.outage += 1
            return None
        if rule.loss and self.random.random() < rule.loss:
            counters.lost += 1
            return None
        leave = now
        link = self._links.setdefault((direction, client), Link())
        if rule.rate_kbps:
            while link.departures and link.departures[0] <= now:
                link.departures.popleft()
            if len(link.departures) >= rule.queue_packets:
                counters.queue_full += 1
                return None
            leave = max(now, link.busy_until) + size * 8 / (rule.rate_kbps * 1000)
            link.busy_until = leave
            link.departures.append(leave)
        delay = rule.delay_ms + (link.wander(now, rule.jitter_ms, self.random) if rule.jitter_ms else 0.0)
        if rule.reorder and self.random.random() < rule.reorder:
            delay += rule.reorder_ms
        counters.forwarded += 1
        return leave - now + max(0.0, delay) / 1000

    def _send(self, direction: str, client: tuple, data: bytes, transport, address) -> None:
        after = self._schedule(direction, client, len(data), self._loop.time())
        if after is None:
            return
        if after <= 0:
            transport.sendto(data, address)
        else:
            self._loop.call_later(after, self._sendto, transport, data, address)

    @staticmethod
    def _sendto(transport: asyncio.DatagramTransport, data: bytes, address) -> None:
        if not transport.is_closing():
            transport.sendto(data, address)

    # ------------------------------------------------------------ sockets
    async def start(self, port: int = 0) -> int:
        self._loop = asyncio.get_running_loop()
        proxy = self

        class Listener(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, client: tuple) -> None:
                proxy._from_client(data, client)

        self._listener, _ = await self._loop.create_datagram_endpoint(Listener, local_addr=("127.0.0.1", port))
        self.port = self._listener.get_extra_info("sockname")[1]
        roomy(self._listener)
        return self.port

    def _from_client(self, data: bytes, client: tuple) -> None:
        upstream = self._upstreams.get(client)
        if upstream is None:
            self._upstreams[client] = [data]  # packets wait here while the client's own socket opens
            self._loop.create_task(self._open_upstream(client))
        elif isinstance(upstream, list):
            upstream.append(data)
        else:
            self._send("up", client, data, upstream, None)

    async def _open_upstream(self, client: tuple) -> None:
        proxy = self

        class Upstream(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, _address) -> None:
                if proxy._listener is not None and not proxy._listener.is_closing():
                    proxy._send("down", client, data, proxy._listener, client)

        transport, _ = await self._loop.create_datagram_endpoint(Upstream, remote_addr=self.target)
        roomy(transport)
        waiting = self._upstreams[client]
        self._upstreams[client] = transport
        for data in waiting:
            self._send("up", client, data, transport, None)

    def close(self) -> None:
        for upstream in self._upstreams.values():
            if not isinstance(upstream, list):
                upstream.close()
        self._upstreams.clear()
        if self._listener is not None:
            self._listener.close()


def roomy(transport: asyncio.DatagramTransport) -> None:
    """Big socket buffers (as far as net.core.rmem_max allows): a 1080p key frame arrives as a burst."""
    sock = transport.get_extra_info("socket")
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        sock.setsockopt(socket.SOL_SOCKET, option, 4 * 1024 * 1024)


class ProxyThread:
    """An ImpairedProxy on an event loop of its own, so a synchronous caller (Playwright) can't stall it."""

    def __init__(self, target: tuple[str, int], seed: int | None = None) -> None:
        self.proxy = ImpairedProxy(target, seed)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netrig-proxy", daemon=True)

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(10)
        return self

    def __exit__(self, *_exc) -> None:
        self._loop.call_soon_threadsafe(self.proxy.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def port(self) -> int:
        return self.proxy.port

    def impair(self, down: Impairment | None = None, up: Impairment | None = None) -> None:
        def apply() -> None:
            self.proxy.down, self.proxy.up = down or Impairment(), up or Impairment()
            self.proxy._links.clear()
        self._loop.call_soon_threadsafe(apply)

    def outage(self, seconds: float) -> None:
        """Drop every packet, both ways, for ``seconds`` from now."""
        def apply() -> None:
            self.proxy.outage_until = self._loop.time() + seconds
        self._loop.call_soon_threadsafe(apply)


# ---------------------------------------------------------------- coturn

def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Coturn:
    """coturn on 127.0.0.1 with a static auth secret (REST credentials), relaying on 127.0.0.1 too."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret or secrets.token_urlsafe(24)
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._dir: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> Coturn:
        if not Path(TURNSERVER).exists() and not shutil.which("turnserver"):
            raise RuntimeError("coturn is not installed (apt-get install coturn)")
        self._dir = tempfile.TemporaryDirectory(prefix="techan-coturn-")
        folder = Path(self._dir.name)
        self.port = free_udp_port()
        low = random.Random().randrange(20000, 60000, 500)  # a relay port range unlikely to clash
        args = [shutil.which("turnserver") or TURNSERVER, "-n", "--listening-ip", "127.0.0.1",
                "--listening-port", str(self.port), "--relay-ip", "127.0.0.1", "--min-port", str(low),
                "--max-port", str(low + 499), "--use-auth-secret", "--static-auth-secret", self.secret,
                "--realm", "techan.test", "--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls",
                "--no-tcp-relay", "--fingerprint", "--no-multicast-peers", "--no-stdout-log", "--simple-log",
                "--log-file", str(folder / "turn.log"), "--pidfile", str(folder / "turn.pid"),
                "--userdb", str(folder / "turndb")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # ready once it answers a STUN binding request
            if self.process.poll() is not None:
                log = self.log_tail()
                self.__exit__()
                raise RuntimeError(f"turnserver exited at start:\n{log}")
            if stun_answers(self.port):
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("turnserver did not answer in 10 s")

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted(Path(self._dir.name).glob("turn*.log")) if self._dir else []
        return "".join("\n".join(p.read_text(errors="replace").splitlines()[-lines:]) for p in logs)

    def __exit__(self, *_exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def stun_answers(port: int) -> bool:
    """A STUN binding request to 127.0.0.1:port gets a success response within half a second."""
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + secrets.token_bytes(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.sendto(request, ("127.0.0.1", port))
            data = sock.recv(2048)
        except OSError:
            return False
    return data[:2] == b"\x01\x01" and data[8:20] == request[8:20]


class Rig:
    """coturn and the impairing proxy in front of it; `app_env()` points the app's TURN settings at the proxy."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.turn: Coturn | None = None
        self.proxy: ProxyThread | None = None

    def __enter__(self) -> Rig:
        self.turn = Coturn().__enter__()
        try:
            self.proxy = ProxyThread(("127.0.0.1", self.turn.port), self.seed).__enter__()
        except BaseException:
            self.turn.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.proxy is not None:
                self.proxy.__exit__(*exc)
        finally:
            if self.turn is not None:
                self.turn.__exit__(*exc)

    def app_env(self) -> dict[str, str]:
        return {"TECHAN_TURN_URL": f"turn:127.0.0.1:{self.proxy.port}?transport=udp",
                "TECHAN_TURN_SECRET": self.turn.secret, "TECHAN_ICE_RELAY_ONLY": "1"}

    def impair(self, down: Impairment | None = None, up: Impairment | None = None) -> None:
        self.proxy.impair(down, up)

    def outage(self, seconds: float) -> None:
        self.proxy.outage(seconds)

    @property
    def counters(self) -> dict[str, Counters]:
        return self.proxy.proxy.counters
