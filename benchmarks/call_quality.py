"""Video-call quality on a bad network, measured in two real Chromium pages (issue 18).

Staff and customer pages of `techan serve` in headless Chromium, both cameras fed a detailed 1920×1080
test pattern (a y4m file made here, in a temp dir), media forced through coturn on 127.0.0.1 behind the
impairing UDP proxy (benchmarks/netrig.py; relay candidates only). Staff turn on the 1080p close-up
(高清特写) before the customer joins. Per call mode (p2p, bridge) and condition:

  clean     nothing impaired (the close-up at up to 1920×1080)
  clean720  nothing impaired, the normal picture (1280×720): the bridge's CPU at 720p
  loss5     5 % of packets lost          loss15   15 % lost
  jitter    one-way delay 200 ± 50 ms (per packet, as netem: packets overtake each other)
  1mbit     1 Mbit/s per receiving client, 50-packet queue     300kbit   300 kbit/s
  outage5   everything dropped for 5 s, 10 s into the call

From getStats and the <video> element, on the customer's page (what the customer sees of the product):
time from join to first frame, received resolution and frame rate over time, freezes (Chromium's
freezeCount / totalFreezesDuration, and the longest gap between rendered frames), the audio
concealment ratio, round trip, the quality word the page showed, and whether the call survived (still
connected, frames still arriving at the end). In bridge mode also the app's CPU over the window.
Prints figures, asserts nothing.

    .venv/bin/python benchmarks/call_quality.py [--mode p2p,bridge] [--condition clean,loss5,...]
        [--seconds 30] [--out results.json (appended; with --resume, pairs already there are skipped)]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.call_connect import cpu_seconds  # noqa: E402
from benchmarks.netrig import Impairment, Rig  # noqa: E402
from tests.browser_call import call_browser, open_call, serve_app, shop_with_chat, stop_app  # noqa: E402
from tests.e2e.pages import wait_until  # noqa: E402

CONDITIONS = {
    "clean": Impairment(),
    "clean720": Impairment(),
    "loss5": Impairment(loss=0.05),
    "loss15": Impairment(loss=0.15),
    "jitter": Impairment(delay_ms=200, jitter_ms=50),
    "1mbit": Impairment(rate_kbps=1000),
    "300kbit": Impairment(rate_kbps=300),
    "outage5": Impairment(),
}
OUTAGE_AT_S, OUTAGE_S, WARMUP_S = 10, 5, 5

# Sampled once a second in the page, plus every rendered frame of the remote <video> (longest gap).
SAMPLER = """() => {
  const B = window.__bench = { samples: [], joinAt: null, firstFrameAt: null, lastFrameAt: null, gaps: [], maxGap: 0 };
  const v = document.getElementById('remote');
  const onFrame = () => {
    const t = performance.now();
    if (B.firstFrameAt === null) B.firstFrameAt = t;
    else {
      B.maxGap = Math.max(B.maxGap, t - B.lastFrameAt);
      if (t - B.lastFrameAt > 300 && B.gaps.length < 500) B.gaps.push([B.lastFrameAt, t]);
    }
    B.lastFrameAt = t;
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
  setInterval(async () => {
    const pc = window.techanCallPeer; if (!pc) return;
    const r = await pc.getStats(), s = { t: performance.now(), state: pc.connectionState };
    r.forEach((x) => {
      if (x.type === 'inbound-rtp' && x.kind === 'video') Object.assign(s, { w: x.frameWidth || 0, h: x.frameHeight || 0,
        fps: x.framesPerSecond || 0, frames: x.framesDecoded || 0, freezes: x.freezeCount || 0, freezeS: x.totalFreezesDuration || 0 });
      if (x.type === 'inbound-rtp' && x.kind === 'audio') Object.assign(s, { concealed: x.concealedSamples || 0, samples: x.totalSamplesReceived || 0 });
      if (x.type === 'transport' && x.selectedCandidatePairId) { const p = r.get(x.selectedCandidatePairId);
        if (p && p.currentRoundTripTime !== undefined) s.rtt = p.currentRoundTripTime * 1000; }
      if (x.type === 'outbound-rtp' && x.kind === 'video') Object.assign(s, { outH: x.frameHeight || 0, outFps: x.framesPerSecond || 0,
        limit: x.qualityLimitationReason });
    });
    s.quality = window.techanCallQuality && window.techanCallQuality.level;
    s.judged = window.techanCallQuality;
    s.notice = document.getElementById('notice').hidden ? '' : document.getElementById('notice').querySelector('span').textContent;
    s.recoveries = window.techanCallRecoveries || 0;
    B.samples.push(s);
  }, 1000);
}"""


def pattern_y4m(path: Path, frames: int = 30, width: int = 1920, height: int = 1080) -> Path:
    """A y4m (I420, 30 fps) a product close-up would be hard on: fine lines, rings, marbling, colour ramps,
    small text-like blocks, and a block that moves (so the encoder has motion to spend bits on)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(18)
    noise = rng.random((height // 8, width // 8)).astype(np.float32)
    marble = np.kron(noise, np.ones((8, 8), np.float32))[:height, :width]
    rings = np.sin(((x - width / 2) ** 2 + (y - height / 2) ** 2) / 900.0)
    luma = 128 + 50 * rings + 30 * np.sin(x / 3.0) * (y < height / 3) + 40 * (marble - 0.5)
    luma[(y > 2 * height / 3) & ((x // 4 + y // 4) % 2 == 0)] += 40  # a fine checkerboard band
    glyphs = rng.random((-(-height // 16), -(-width // 12))) > 0.6  # "text": small dark blocks in the top band
    text = np.kron(glyphs, np.ones((16, 12), bool))[:height, :width] & (y < 140)
    luma[text] = 30
    cy, cx = np.mgrid[0:height // 2, 0:width // 2].astype(np.float32)
    u = (128 + 60 * np.sin(cx / 40.0) + 20 * np.cos(cy / 7.0)).clip(0, 255).astype(np.uint8)
    v = (128 + 60 * np.cos(cy / 30.0 + cx / 90.0)).clip(0, 255).astype(np.uint8)
    base = luma.clip(16, 235).astype(np.uint8)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for n in range(frames):
            frame = base.copy()
            left = 200 + n * (width - 600) // frames
            frame[height // 2 - 120:height // 2 + 120, left:left + 240] = 235 - base[height // 2 - 120:height // 2 + 120, left:left + 240] // 2
            out.write(b"FRAME\n" + frame.tobytes() + u.tobytes() + v.tobytes())
    return path


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(bench: dict, outage_at: float | None) -> dict:
    samples = bench["samples"]
    first, joined = bench["firstFrameAt"], bench["joinAt"]
    if first is None:
        return {"first_frame_ms": None, "survived": False}
    steady = [s for s in samples if s["t"] - first >= WARMUP_S * 1000 and "h" in s]
    if outage_at is not None:  # the outage and its aftermath are the recovery's, not the steady picture's
        steady = [s for s in steady if not outage_at <= s["t"] <= outage_at + (OUTAGE_S + 10) * 1000]
    last, start = samples[-1], next((s for s in samples if s["t"] >= first and "samples" in s), samples[0])
    tail = [s for s in samples if s["t"] >= last["t"] - 5000]
    heights = [s["h"] for s in steady]
    gaps = [b - a for a, b in bench["gaps"]]
    concealed = last.get("concealed", 0) - start.get("concealed", 0)
    total = last.get("samples", 0) - start.get("samples", 0)
    result = {
        "first_frame_ms": round(first - joined),
        "height_median": median(heights), "height_min": min(heights, default=None),
        "heights_over_time": [s.get("h", 0) for s in samples if "h" in s][::5],
        "fps_median": median([s["fps"] for s in steady]), "fps_min": min((s["fps"] for s in steady), default=None),
        "freeze_count": last.get("freezes", 0), "freeze_s": round(last.get("freezeS", 0), 2),
        "longest_gap_ms": round(bench["maxGap"]), "gaps_over_1s": sum(g > 1000 for g in gaps),
        "audio_concealed": round(concealed / total, 4) if total else None,
        "rtt_ms": median([s["rtt"] for s in steady if "rtt" in s]),
        "quality_words": {w: sum(s.get("quality") == w for s in steady) for w in ("good", "fair", "poor")},
        "notices": sorted({s["notice"] for s in samples if s.get("notice")}),
        "recoveries": last.get("recoveries", 0),
        "sender_limited_by": {r: sum(s.get("limit") == r for s in steady) for r in ("none", "cpu", "bandwidth", "other")},
        "survived": last["state"] == "connected" and len(tail) > 1 and tail[-1].get("frames", 0) > tail[0].get("frames", 0),
    }
    if outage_at is not None:
        end = outage_at + OUTAGE_S * 1000  # the first frame rendered after the outage (None: none came)
        resumed = next((s["t"] for before, s in zip(samples, samples[1:])
                        if s["t"] > end and s.get("frames", 0) > before.get("frames", 0)), None)
        spanning = [b for a, b in bench["gaps"] if a <= end <= b and resumed and b <= resumed]
        result["recovered_after_outage_ms"] = (round((spanning[0] if spanning else resumed) - end)
                                               if resumed else None)
    return result


def run_condition(browser, shop, rig: Rig, app_pid: int, mode: str, name: str, seconds: float,
                  raw: Path | None = None) -> dict:
    rig.impair(CONDITIONS[name])
    call, staff, customer = open_call(shop, browser)
    try:
        wait_until(staff, "document.getElementById('local').srcObject", timeout=30_000)
        if name != "clean720":
            staff.click("#hd")  # 高清特写: the staff's camera at 1920×1080
            wait_until(staff, "window.techanCallCamera", timeout=10_000)
        camera = staff.evaluate("window.techanCallCamera || null")
        customer.evaluate(SAMPLER)
        staff.evaluate(SAMPLER)
        customer.evaluate("() => { window.__bench.joinAt = performance.now(); document.getElementById('join').click(); }")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and customer.evaluate("window.__bench.firstFrameAt") is None:
            time.sleep(0.2)
        started, cpu_before, outage_at = time.monotonic(), cpu_seconds(app_pid), None
        while time.monotonic() - started < seconds:
            if name == "outage5" and outage_at is None and time.monotonic() - started >= OUTAGE_AT_S:
                outage_at = customer.evaluate("performance.now()")
                rig.outage(OUTAGE_S)
            time.sleep(0.5)
        cpu = (cpu_seconds(app_pid) - cpu_before) / (time.monotonic() - started)
        bench = customer.evaluate("window.__bench")
        if raw:
            raw.mkdir(parents=True, exist_ok=True)
            (raw / f"{mode}-{name}.json").write_text(json.dumps(bench))
        result = summarize(bench, outage_at)
        sent = [s for s in staff.evaluate("window.__bench.samples") if s["t"] - bench["joinAt"] >= WARMUP_S * 1000]
        result["staff_sends"] = {"height_median": median([s["outH"] for s in sent if "outH" in s]),
                                 "fps_median": median([s["outFps"] for s in sent if "outFps" in s]),
                                 "available_kbps_median": median([s["judged"]["available_kbps"] for s in sent
                                                                  if s.get("judged") and (s["judged"].get("available_kbps") or 0) > 0])}
        staff_view = staff.evaluate("window.techanCallStats || {}")
        result.update({"mode": mode, "condition": name, "impairment": CONDITIONS[name].label, "camera": camera,
                       "load_avg_1m": os.getloadavg()[0],
                       "app_cpu": round(cpu, 3) if mode == "bridge" else None,
                       "staff_receives": f"{staff_view.get('width', 0)}x{staff_view.get('height', 0)} "
                                         f"{staff_view.get('fps', 0):.0f} fps"})
        customer.click("#hangup")
        return result
    finally:
        rig.impair(Impairment())
        for page in (staff, customer):
            page.context.close()


def line(r: dict) -> str:
    def f(value, fmt="{:.0f}"):
        return "—" if value is None else fmt.format(value)
    words = "/".join(str(r["quality_words"][w]) for w in ("good", "fair", "poor")) if "quality_words" in r else "—"
    return (f"{r['mode']:<6} {r['condition']:<8} first frame {f(r['first_frame_ms'])} ms | "
            f"{f(r.get('height_median'))}p (min {f(r.get('height_min'))}) {f(r.get('fps_median'), '{:.1f}')} fps "
            f"(min {f(r.get('fps_min'))}) | freezes {r.get('freeze_count', '—')} / {r.get('freeze_s', '—')} s, "
            f"longest gap {r.get('longest_gap_ms', '—')} ms | audio concealed {f(r.get('audio_concealed'), '{:.1%}')} | "
            f"rtt {f(r.get('rtt_ms'))} ms | good/fair/poor s {words} | "
            + (f"picture back {f(r['recovered_after_outage_ms'])} ms after | " if "recovered_after_outage_ms" in r else "")
            + (f"app CPU {r['app_cpu']:.0%} | " if r.get("app_cpu") is not None else "")
            + ("survived" if r["survived"] else "DID NOT SURVIVE") + f" | load {r['load_avg_1m']:.1f}"
            + (" | staff send {height_median}p {fps_median} fps, estimate {available_kbps_median} kbps".format(**r["staff_sends"])
               if "staff_sends" in r else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", default="p2p,bridge")
    parser.add_argument("--condition", default=",".join(CONDITIONS))
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--raw", type=Path, help="a folder for each call's raw samples (JSON)")
    args = parser.parse_args()
    modes, names = args.mode.split(","), args.condition.split(",")
    unknown = [n for n in names if n not in CONDITIONS] + [m for m in modes if m not in ("p2p", "bridge")]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    done = []
    if args.out and args.out.exists():
        done = [json.loads(row) for row in args.out.read_text().splitlines() if row.strip()]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{datetime.date.today()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="techan-call-quality-") as scratch:
        pattern = pattern_y4m(Path(scratch) / "pattern-1080p.y4m")
        with Rig() as rig, call_browser((f"--use-file-for-fake-video-capture={pattern}",)) as browser:
            for mode in modes:
                todo = [n for n in names if not (args.resume and any(d["mode"] == mode and d["condition"] == n for d in done))]
                if not todo:
                    continue
                data_dir = Path(scratch) / f"data-{mode}"
                process, url = serve_app(data_dir, mode, {**rig.app_env(), "TECHAN_LOG_LEVEL": "WARNING"})
                try:
                    shop = shop_with_chat(url, data_dir, f"bench{mode}", f"web-quality-{mode}")
                    for n, name in enumerate(todo, 1):
                        print(f"[{mode} {n}/{len(todo)}] {name} ({CONDITIONS[name].label}) …", flush=True)
                        result = run_condition(browser, shop, rig, process.pid, mode, name, args.seconds, args.raw)
                        print(line(result), flush=True)
                        if args.out:
                            with args.out.open("a") as out:
                                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                finally:
                    stop_app(process)


if __name__ == "__main__":
    main()
