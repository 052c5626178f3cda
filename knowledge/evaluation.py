"""Retrieval quality on a held-out question set: top-1, top-3 and MRR, per signal, with and without filters."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from knowledge.files import ImportFileError, read_yaml_records
from knowledge.index import DENSE_WEIGHT, KBIndex

SIGNALS = {"hybrid": DENSE_WEIGHT, "embeddings only": 1.0, "lexical only": 0.0}
DEPTH = 10


@dataclass(frozen=True)
class Scores:
    signal: str
    filtered: bool
    top1: float
    top3: float
    mrr: float
    misses: tuple[tuple[str, str, str], ...]  # (question, expected, got)


def read_questions(path: Path, index: KBIndex) -> list[tuple[str, str]]:
    """(question, expected id) pairs; refuses stored phrasings and unknown ids, so the set stays held out."""
    records = read_yaml_records(path, "questions")
    known = {e.id for e in index.entries}
    stored = set(index.phrasings)
    pairs = []
    for record in records:
        line = record.pop("__line__")
        question, expected = str(record.get("q", "")).strip(), str(record.get("id", "")).strip()
        if not question or expected not in known:
            raise ImportFileError(f"{path}: line {line}: needs `q` and an `id` that exists in the KB ({expected!r})")
        if question in stored:
            raise ImportFileError(f"{path}: line {line}: a stored phrasing, not a held-out question: {question}")
        pairs.append((question, expected))
    return pairs


def evaluate(index: KBIndex, pairs: list[tuple[str, str]]) -> list[Scores]:
    entries = {e.id: e for e in index.entries}
    vectors = index.embedder.encode([q for q, _ in pairs])
    results = []
    for filtered in (False, True):
        for signal, weight in SIGNALS.items():
            top1 = top3 = reciprocal = 0.0
            misses = []
            for (question, expected), vector in zip(pairs, vectors):
                entry = entries[expected]
                filters = {"topic": entry.topic, "product": entry.product or None} if filtered else {}
                ids = [h.id for h in index.search(question, k=DEPTH, query_vector=vector, dense_weight=weight,
                                                  **filters)]
                rank = ids.index(expected) + 1 if expected in ids else None
                top1 += rank == 1
                top3 += rank is not None and rank <= 3
                reciprocal += 1 / rank if rank else 0.0
                if rank != 1:
                    misses.append((question, expected, ids[0] if ids else "-"))
            n = len(pairs)
            results.append(Scores(signal, filtered, top1 / n, top3 / n, reciprocal / n, tuple(misses)))
    return results


def table(results: list[Scores], n: int) -> str:
    lines = [f"{n} held-out questions", "",
             "| signal | filters | top-1 | top-3 | MRR |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        lines.append(f"| {r.signal} | {'topic + product' if r.filtered else 'none'} | "
                     f"{r.top1:.3f} | {r.top3:.3f} | {r.mrr:.3f} |")
    return "\n".join(lines)
