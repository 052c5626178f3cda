"""How soon a knowledge-base edit is answered by a running app (the figures tests/service/test_kb_admin.py
used to assert: "answered at once" after an owner edit, "picked up within a second" after another process).

1. owner edit (after one unmeasured warm-up edit): PUT /api/kb/entries/<new id> (the app re-indexes
   before it answers), then one POST /api/kb/search for it: the time of both, and how often that
   first search missed the entry;
2. another process (as `techan kb import` does): the entry is written to the database from this
   process, then the search is repeated every 20 ms until the running app returns it: time from
   the commit to the first search that has it (the app polls the database every 0.5 s).

Starts `techan serve` itself (no Rasa; demo shop, scratch data dir, the model `make setup` provisioned).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from techan import PROJECT_ROOT  # noqa: E402
from tests.conftest import shared_models_dir  # noqa: E402
from tests.stack import free_port, staff_token  # noqa: E402

ITEMS = ["熊猫玩偶", "兔儿爷泥塑", "景泰蓝书签", "苏绣团扇", "宜兴紫砂杯垫", "皮影戏摆件", "风筝礼盒", "剪纸相框",
         "竹编茶篓", "漆器首饰盒", "蜀锦围巾", "青花瓷筷子", "香樟木梳", "油纸伞", "铜火锅", "空竹玩具",
         "泥人张彩塑", "内画鼻烟壶", "蓝印花布包", "核雕手串"]
GIVE_UP_S = 30


def percentiles(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"p50 {statistics.median(ordered) * 1000:5.0f} ms   p95 {p95 * 1000:5.0f} ms   "
            f"max {ordered[-1] * 1000:5.0f} ms   ({len(ordered)} edits)")


def request(url: str, token: str, method: str, body: dict) -> dict:
    call = urllib.request.Request(url, data=json.dumps(body).encode(), method=method,
                                  headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(call, timeout=60) as response:
        return json.loads(response.read())


def top_hit(url: str, token: str, question: str) -> str | None:
    hits = request(f"{url}/api/kb/search", token, "POST", {"q": question})["hits"]
    return hits[0]["id"] if hits else None


def entry(item: str) -> dict:
    return {"topic": "other", "questions": [f"你们卖不卖{item}", f"有没有{item}"],
            "answer": f"有的！{item}，欢迎选购。", "tags": []}


def start_app(data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "TECHAN_DATA_DIR": data_dir, "TECHAN_PORT": str(port), "TECHAN_DEMO": "1",
           "TECHAN_MODELS_DIR": str(shared_models_dir()), "TECHAN_RASA_PORT": str(free_port()),
           "TECHAN_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "techan", "serve"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(360):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("techan serve did not start")


def owner_edits(url: str, token: str) -> tuple[list[float], int]:
    samples, missed = [], 0
    for n, item in enumerate(ITEMS):
        started = time.perf_counter()
        request(f"{url}/api/kb/entries/bench-owner-{n}", token, "PUT", entry(item))
        hit = top_hit(url, token, f"{item}有卖吗")
        samples.append(time.perf_counter() - started)
        missed += hit != f"bench-owner-{n}"
    return samples, missed


def edits_from_another_process(url: str, token: str, data_dir: str) -> tuple[list[float], int]:
    from sqlalchemy.orm import Session

    from knowledge.files import KBEntryIn
    from knowledge.store import save_entry
    from core.db import make_engine
    from core.settings import Settings

    engine = make_engine(Settings(_env_file=None, data_dir=Path(data_dir)))
    samples, missed = [], 0
    try:
        for n, item in enumerate(ITEMS):
            entry_id = f"bench-import-{n}"
            with Session(engine) as session:  # what `techan kb import` does
                save_entry(session, KBEntryIn(id=entry_id, **entry(f"{item}（新款）")), author="bench")
                session.commit()
            committed = time.perf_counter()
            while top_hit(url, token, f"{item}（新款）有卖吗") != entry_id:
                if time.perf_counter() - committed > GIVE_UP_S:
                    missed += 1
                    break
                time.sleep(0.02)
            else:
                samples.append(time.perf_counter() - committed)
    finally:
        engine.dispose()
    return samples, missed


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="techan-kbedits-") as data_dir:
        process, url = start_app(data_dir)
        try:
            token = staff_token(Path(data_dir), "owner", "bench")
            request(f"{url}/api/kb/entries/bench-warmup", token, "PUT", entry("暖场礼品"))  # not measured
            samples, missed = owner_edits(url, token)
            print(f"owner edit (PUT, then the first search)      {percentiles(samples)}; "
                  f"first search missed the entry {missed}×")
            samples, missed = edits_from_another_process(url, token, data_dir)
            print(f"edit by another process -> searchable        {percentiles(samples)}; "
                  f"not picked up within {GIVE_UP_S} s {missed}×")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
