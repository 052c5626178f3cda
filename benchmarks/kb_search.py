"""Knowledge-base search latency at the demo size and with 10,000 and 100,000 synthetic entries.

Demo size: the real demo KB and real query embeddings (p50/p95 per query,
embedding included). Synthetic sizes: entries with generated Chinese phrasings
and random unit vectors in place of embeddings (embedding 400,000 phrasings
would take hours on 2 cores), so the figures isolate index build time, memory,
FAISS search time and the full hybrid search (FAISS + lexical + merge).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import gc
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from knowledge.files import TOPICS  # noqa: E402
from knowledge.index import KBIndex, KBRecord, VectorCache  # noqa: E402

QUERIES = ["普洱茶保质期多久？", "鲜花饼能放几天", "牛肉干能抽真空吗", "运费怎么算", "收到的瓷器碎了怎么办",
           "可以开发票吗", "龙井要不要放冰箱", "腊肉收到以后怎么保存", "Can you vacuum pack the beef jerky?",
           "大红袍是红茶吗"]
WORDS = list("茶饼枣肉干瓷壶丝巾酱菜糕果菌腿香辣甜咸陈新春秋冬夏礼盒寄存放冷藏真空包装运费快递发票退换")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"


class RandomEmbedder:
    """Stands in for the model at synthetic sizes: random unit vectors, keyed by text."""

    def __init__(self, dim: int, name: str = "random") -> None:
        self.dim, self.name = dim, name
        self.rng = np.random.default_rng(0)

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_entries(n: int) -> list[KBRecord]:
    rng = random.Random(n)
    return [KBRecord(f"syn-{i}", rng.choice(TOPICS), "",
                     tuple("".join(rng.choices(WORDS, k=rng.randint(6, 14))) for _ in range(4)), "答案")
            for i in range(n)]


def demo(model_dir: Path) -> None:
    from sqlalchemy.orm import Session

    from knowledge.index import Embedder
    from knowledge.service import Knowledge, read_snapshot
    from knowledge.store import load_demo
    from core.db import make_engine
    from core.migrate import upgrade
    from core.settings import Settings

    settings = Settings(_env_file=None, data_dir=Path(tempfile.mkdtemp(prefix="techan-kbbench-")))
    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session, session.begin():
        load_demo(session, progress=lambda _m: None)
    with Session(engine) as session:
        snapshot = read_snapshot(session)
    knowledge = Knowledge(Embedder(model_dir, "intfloat/multilingual-e5-small", threads=1))  # as the app
    started = time.perf_counter()
    knowledge.apply(snapshot)
    build = time.perf_counter() - started
    for query in QUERIES:
        knowledge.search(query)
    samples = []
    for _ in range(20):
        for query in QUERIES:
            started = time.perf_counter()
            knowledge.search(query)
            samples.append(time.perf_counter() - started)
    print(f"demo KB ({len(snapshot.entries)} entries, {len(knowledge.index.phrasings)} phrasings): "
          f"build {build:.1f} s (embedding every phrasing), query incl. embedding {percentiles(samples)}")
    return knowledge.embedder


def synthetic(n: int, query_vectors: np.ndarray) -> None:
    gc.collect()
    before = rss_mb()
    entries = synthetic_entries(n)
    embedder = RandomEmbedder(query_vectors.shape[1])
    started = time.perf_counter()
    index = KBIndex(entries, embedder, VectorCache(None, "random"))
    build = time.perf_counter() - started
    faiss_samples, full_samples = [], []
    for _ in range(10):
        for query, vector in zip(QUERIES, query_vectors):
            started = time.perf_counter()
            index.faiss.search(vector.reshape(1, -1), 64)
            faiss_samples.append(time.perf_counter() - started)
            started = time.perf_counter()
            index.search(query, k=5, query_vector=vector)
            full_samples.append(time.perf_counter() - started)
    print(f"{n:>7,} entries ({len(index.phrasings):,} vectors): build {build:5.1f} s, "
          f"peak memory +{rss_mb() - before:5.0f} MB\n"
          f"          FAISS search   {percentiles(faiss_samples)}\n"
          f"          hybrid search  {percentiles(full_samples)}  (no embedding)")


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    data = Path(os.environ.get("TECHAN_DATA_DIR", root / "var"))
    from knowledge.provision import provision

    model_dir = provision("intfloat/multilingual-e5-small", Path(os.environ.get("TECHAN_MODELS_DIR", data / "models")))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    embedder = demo(model_dir)
    query_vectors = embedder.encode(QUERIES)
    for n in (10_000, 100_000):
        synthetic(n, query_vectors)


if __name__ == "__main__":
    main()
