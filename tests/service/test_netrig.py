"""The impairing UDP proxy of benchmarks/netrig.py on its own: loss, delay, reorder, rate limit, outage.

A sink socket stands in for coturn: the client sends one packet through the proxy so the sink learns
the proxy's socket for that client, then the sink sends numbered packets back through the impaired leg.
"""

from __future__ import annotations

import socket
import time

import pytest

from benchmarks.netrig import Impairment, ProxyThread, stun_answers

WAIT_S = 5.0


@pytest.fixture
def rig():
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(WAIT_S)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    with ProxyThread(sink.getsockname(), seed=18) as proxy:
        client.sendto(b"hello", ("127.0.0.1", proxy.port))
        data, upstream = sink.recvfrom(2048)
        assert data == b"hello"
        yield proxy, sink, client, upstream
    sink.close()
    client.close()


def send_down(sink: socket.socket, upstream, count: int, size: int = 100, pause_s: float = 0.0) -> None:
    for number in range(count):
        sink.sendto(number.to_bytes(4, "big") + bytes(size - 4), upstream)
        if pause_s:
            time.sleep(pause_s)


def receive(client: socket.socket, quiet_s: float = 0.5) -> list[tuple[int, float]]:
    """(number, arrival time) of every packet until nothing came for quiet_s (bounded by WAIT_S × 4)."""
    got, deadline = [], time.monotonic() + WAIT_S * 4
    client.settimeout(quiet_s)
    while time.monotonic() < deadline:
        try:
            data = client.recv(4096)
        except TimeoutError:
            break
        got.append((int.from_bytes(data[:4], "big"), time.monotonic()))
    return got


def test_clean_proxy_passes_everything_in_order(rig):
    proxy, sink, client, upstream = rig
    send_down(sink, upstream, 300, pause_s=0.0005)
    numbers = [n for n, _ in receive(client)]
    assert numbers == list(range(300))


def test_loss_rate_is_near_the_setting(rig):
    proxy, sink, client, upstream = rig
    proxy.impair(Impairment(loss=0.15))
    time.sleep(0.05)
    send_down(sink, upstream, 2000, pause_s=0.0002)
    received = len(receive(client))
    assert 0.10 <= 1 - received / 2000 <= 0.20  # binomial sd ≈ 0.8 %: far outside means a bug
    assert proxy.proxy.counters["down"].lost == 2000 - received


def test_delay_holds_every_packet_back(rig):
    proxy, sink, client, upstream = rig
    proxy.impair(Impairment(delay_ms=150))
    time.sleep(0.05)
    sent = time.monotonic()
    send_down(sink, upstream, 20)
    arrivals = receive(client)
    assert len(arrivals) == 20
    assert min(t for _, t in arrivals) - sent >= 0.14


def test_jitter_varies_the_delay_but_keeps_the_order(rig):
    proxy, sink, client, upstream = rig
    proxy.impair(Impairment(delay_ms=100, jitter_ms=50))
    time.sleep(0.05)
    sent = {}
    for number in range(300):
        sent[number] = time.monotonic()
        sink.sendto(number.to_bytes(4, "big") + bytes(96), upstream)
        time.sleep(0.003)
    arrivals = receive(client)
    assert [n for n, _ in arrivals] == list(range(300))
    delays = [t - sent[n] for n, t in arrivals]
    assert min(delays) >= 0.045 and max(delays) - min(delays) >= 0.02  # between 50 and 150 ms, not fixed


def test_reorder_lets_packets_overtake(rig):
    proxy, sink, client, upstream = rig
    proxy.impair(Impairment(reorder=0.3, reorder_ms=40))
    time.sleep(0.05)
    send_down(sink, upstream, 200, pause_s=0.001)
    numbers = [n for n, _ in receive(client)]
    assert sorted(numbers) == list(range(200))
    assert numbers != sorted(numbers)


def test_rate_limit_caps_throughput_and_drops_the_tail(rig):
    proxy, sink, client, upstream = rig
    proxy.impair(Impairment(rate_kbps=800, queue_packets=1000))
    time.sleep(0.05)
    sent = time.monotonic()
    send_down(sink, upstream, 100, size=1000, pause_s=0.0005)  # 800 kbit in ~50 ms: the link needs a second
    arrivals = receive(client)
    assert len(arrivals) >= 90
    assert arrivals[-1][1] - sent >= 0.9 * len(arrivals) * 8000 / 800_000  # no faster than the link (a busy machine is slower)
    proxy.impair(Impairment(rate_kbps=80, queue_packets=10))  # 100 ms a packet: the burst overfills the queue
    time.sleep(0.05)
    send_down(sink, upstream, 100, size=1000)
    assert len(receive(client)) <= 30
    assert proxy.proxy.counters["down"].queue_full >= 50


def test_outage_drops_everything_then_passes_again(rig):
    proxy, sink, client, upstream = rig
    proxy.outage(1.0)
    time.sleep(0.05)
    send_down(sink, upstream, 50)
    client.sendto(b"up", ("127.0.0.1", proxy.port))
    assert receive(client, quiet_s=0.3) == []
    assert proxy.proxy.counters["down"].outage == 50 and proxy.proxy.counters["up"].outage == 1
    time.sleep(1.0)
    send_down(sink, upstream, 50)
    assert len(receive(client)) == 50


def test_stun_probe_needs_a_stun_server():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        assert not stun_answers(silent.getsockname()[1])
