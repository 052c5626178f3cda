"""Hybrid knowledge-base index: e5 embeddings in FAISS plus a Chinese character n-gram signal.

Every phrasing of every entry is one vector (several per entry). A query is
scored against each entry as the best of its phrasings, on two signals:

* dense: cosine similarity of e5 embeddings, mapped onto [0, 1] by a linear
  calibration fitted on this model's typical unrelated/paraphrase cosines;
* lexical: IDF-weighted share of the query's character uni-/bi-grams (and
  Latin words) found in the phrasing, so rare product names and numbers count.

The final score is a weighted mean in [0, 1]; below ``CONFIDENT`` the bot
should say it is not sure rather than guess.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import logging
import math
import mmap
import os
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.language import CJK

log = logging.getLogger(__name__)

DENSE_WEIGHT = 0.6
COSINE_FLOOR, COSINE_CEIL = 0.86, 0.965
CONFIDENT = 0.46
PRODUCT_BONUS = 0.12
RARE_POSTINGS = 256  # grams in at most this many phrasings bring in candidates of their own
IVF_MIN_VECTORS = 50_000  # below this, exact search is fast enough
IVF_PROBES = 16
TOPIC_BONUS = 0.05
SHOP_WIDE_BONUS = 0.02  # a tie-break only: a family's own entry over one member's near-equal one

_LATIN_WORD = re.compile(r"[a-z0-9']+")
_STOP_GRAMS = frozenset("的了吗呢吧啊呀么是我你他她它们这那个有")


@dataclass(frozen=True)
class KBRecord:
    """What the index needs of an entry (detached from the database session)."""

    id: str
    topic: str
    product: str
    questions: tuple[str, ...]
    answer: str
    tags: tuple[str, ...] = ()
    revision: int = 1
    answer_en: str = ""


@dataclass
class Hit:
    entry: KBRecord
    score: float
    dense: float
    lexical: float
    matched: str = ""

    @property
    def id(self) -> str:
        return self.entry.id


def grams(text: str) -> set[str]:
    """Character unigrams and bigrams of the CJK runs, plus lower-cased Latin words."""
    text = text.lower()
    out = set(_LATIN_WORD.findall(text))
    cjk = "".join(ch if CJK.match(ch) else " " for ch in text).split()
    for run in cjk:
        out.update(ch for ch in run if ch not in _STOP_GRAMS)
        out.update(run[i : i + 2] for i in range(len(run) - 1))
    return out


def calibrate(cosine: float) -> float:
    return min(max((cosine - COSINE_FLOOR) / (COSINE_CEIL - COSINE_FLOOR), 0.0), 1.0)


class Embedder:
    """The embedding model run by ONNX Runtime, as sentence-transformers runs its folder: the tokenizer
    (truncated at the folder's ``max_seq_length``), the transformer (exported once by knowledge.provision),
    mean pooling over the real tokens, normalised; e5's ``query: `` prefix (symmetric question matching).

    Not torch: the same weights give the same vectors (tests/service/test_embedding_parity.py) for half the
    CPU per question (~10 against ~23 ms on this machine), and the serving process never imports torch,
    transformers or sentence-transformers."""

    # Texts of about one length run together, at most this many tokens in all (texts x longest): ONNX Runtime
    # keeps its peak working memory, and attention's grows with the square of the length.
    TOKENS_PER_RUN = 4096

    def __init__(self, model_path: Path | str, name: str = "", threads: int | None = None) -> None:
        """``threads``: the CPU threads of one run; None leaves ONNX Runtime's default (one per core)."""
        import onnxruntime
        from tokenizers import Tokenizer

        from knowledge.provision import ONNX_FILE, ONNX_WEIGHTS, exported, sentence_config

        folder = Path(model_path)
        if not exported(folder):
            raise RuntimeError(f"the embedding model in {folder} has no ONNX export: run `techan model provision`")
        self.name = name or str(model_path)
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), options,
                                                    providers=["CPUExecutionProvider"])
        read_at_random(folder / ONNX_WEIGHTS)
        config = sentence_config(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(config.max_length)
        self.tokenizer.no_padding()
        self.dim, self.pad_id = config.dim, config.pad_id
        # A call with many texts (a snapshot's) gives back the working memory its runs took: kept by ONNX
        # Runtime's arena, ~120 MB stayed resident after the demo KB was embedded, for questions that need a few MB.
        self.give_back = onnxruntime.RunOptions()
        self.give_back.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        self.prefix = "query: " if "e5" in self.name.lower() else ""

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts``, in their order (the index scores by inner product: cosine)."""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens = [encoding.ids for encoding in self.tokenizer.encode_batch([self.prefix + t for t in texts])]
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and (end + 1 - start) * len(tokens[order[end]]) <= self.TOKENS_PER_RUN:
                end += 1
            batch = order[start:end]
            vectors[batch] = self._run([tokens[i] for i in batch], give_back=len(texts) > 1)
            start = end
        return vectors

    def _run(self, tokens: list[list[int]], give_back: bool) -> np.ndarray:
        longest = max(map(len, tokens))
        ids = np.full((len(tokens), longest), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(tokens), longest), dtype=np.int64)
        for row, text in enumerate(tokens):
            ids[row, :len(text)], mask[row, :len(text)] = text, 1
        vectors = self.session.run(None, {"input_ids": ids, "attention_mask": mask},
                                   self.give_back if give_back else None)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def read_at_random(path: Path) -> int:
    """Tell Linux that the mapped weights file ``path`` is read at random (madvise MADV_RANDOM), so that a word's
    row of the embedding table brings in its own page, not the next hundred kilobytes: the rows a shop's texts
    use stay ~10 MB resident instead of ~280 MB of the table read ahead. Returns how many mappings were told;
    0 where there is no /proc or libc (the model runs the same, with more memory)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    mapped, told = str(path.resolve()), 0
    for line in maps:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5] == mapped:
            start, end = (int(address, 16) for address in fields[0].split("-"))
            told += libc.madvise(start, end - start, mmap.MADV_RANDOM) == 0
    return told


class VectorCache:
    """Embeddings of phrasings kept on disk by text, so a rebuild embeds only new text."""

    def __init__(self, path: Path | None, model_name: str) -> None:
        self.path = path
        self.model_key = hashlib.sha256(model_name.encode()).hexdigest()[:12]
        self.vectors: dict[str, np.ndarray] = {}
        if path and path.exists():
            try:
                data = np.load(path, allow_pickle=False)
                if str(data["model"]) == self.model_key:
                    self.vectors = dict(zip(data["texts"].tolist(), data["vectors"]))
            except (OSError, ValueError, KeyError) as exc:
                log.warning("embedding cache %s unreadable (%s); rebuilding", path, exc)

    def embed(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.vectors})
        if missing:
            for text, vector in zip(missing, embedder.encode(missing)):
                self.vectors[text] = vector
            self.save(set(texts))
        if not texts:
            return np.zeros((0, embedder.dim), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)

    def save(self, keep: set[str]) -> None:
        if not self.path:
            return
        self.vectors = {t: v for t, v in self.vectors.items() if t in keep}
        texts = sorted(self.vectors)
        # a file of its own per writer: instances sharing a data dir save after the same edit
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.{threading.get_ident()}.npz")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, model=self.model_key, texts=np.array(texts, dtype=str),
                     vectors=np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, 1)))
            tmp.replace(self.path)
        except OSError as exc:  # only a cache: the vectors in memory serve, and the next change saves again
            log.warning("embedding cache %s not saved (%s)", self.path, exc)
            with contextlib.suppress(OSError):
                tmp.unlink()


@dataclass
class KBIndex:
    """Immutable search structure over one snapshot of the KB; replaced whole on change."""

    entries: list[KBRecord]
    embedder: Embedder
    cache: VectorCache | None = None
    rows: list[int] = field(default_factory=list)  # FAISS row -> entry position
    phrasings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for position, entry in enumerate(self.entries):
            for question in entry.questions:
                self.rows.append(position)
                self.phrasings.append(question)
        cache = self.cache or VectorCache(None, self.embedder.name)
        self.faiss = build_faiss(cache.embed(self.embedder, self.phrasings), self.embedder.dim)
        self._row_grams = [frozenset(grams(text)) for text in self.phrasings]
        self._postings: dict[str, list[int]] = defaultdict(list)
        for row, row_grams in enumerate(self._row_grams):
            for gram in row_grams:
                self._postings[gram].append(row)
        total = max(len(self.phrasings), 1)
        self._idf = {g: math.log(1 + total / len(rows)) for g, rows in self._postings.items()}
        self._unknown_idf = math.log(1 + total)
        self._row_mass = [sum(self._idf[g] for g in row_grams) for row_grams in self._row_grams]

    def __len__(self) -> int:
        return len(self.entries)

    def lexical_scores(self, query: str, candidates: set[int]) -> dict[int, float]:
        """Row -> IDF-weighted Dice overlap of query and phrasing grams (unknown grams count too).

        Scored for ``candidates`` (the dense neighbours) plus every phrasing sharing a rare
        gram with the query: rare names and numbers always get their chance, while common
        grams never make the work grow with the size of the KB.
        """
        query_grams = grams(query)
        known = {g for g in query_grams if g in self._idf}
        query_mass = sum(self._idf[g] for g in known) + self._unknown_idf * (len(query_grams) - len(known))
        rows = set(candidates)
        for gram in known:
            if len(self._postings[gram]) <= RARE_POSTINGS:
                rows.update(self._postings[gram])
        scores = {}
        for row in rows:
            shared = sum(self._idf[g] for g in self._row_grams[row] & known)
            if shared:
                scores[row] = 2 * shared / (query_mass + self._row_mass[row])
        return scores

    def search(
        self,
        query: str,
        k: int = 5,
        topic: str | None = None,
        product: str | None = None,
        prefer_topic: str | None = None,
        prefer_product: str | None = None,
        prefer_shop_wide: bool = False,
        query_vector: np.ndarray | None = None,
        dense_weight: float = DENSE_WEIGHT,
    ) -> list[Hit]:
        """Best ``k`` entries for ``query``: one hit per entry, score in [0, 1], best first.

        ``topic``/``product`` filter; ``prefer_*`` only nudge the ranking (the bot's
        intent, the product under discussion, or a family such as "普洱茶" under
        discussion, which its own entry answers better than one member's). ``dense_weight``
        1 or 0 scores by one signal alone (for evaluation).
        """
        if not self.phrasings or not query.strip():
            return []
        if query_vector is None:
            query_vector = self.embedder.encode([query])[0]
        depth = min(len(self.phrasings), max(64, k * 16))
        cosines, rows = self.faiss.search(query_vector.reshape(1, -1).astype(np.float32), depth)
        dense: dict[int, float] = {}
        for cosine, row in zip(cosines[0], rows[0]):
            if row >= 0:
                dense[int(row)] = float(cosine)
        lexical = self.lexical_scores(query, set(dense))
        missing = [row for row in lexical if row not in dense]
        if missing:
            vectors = self.faiss.reconstruct_batch(np.array(missing, dtype=np.int64))
            for row, cosine in zip(missing, vectors @ query_vector):
                dense[row] = float(cosine)
        best: dict[int, Hit] = {}
        for row, cosine in dense.items():
            entry = self.entries[self.rows[row]]
            if topic and entry.topic != topic:
                continue
            if product is not None and entry.product not in (product, ""):
                continue
            d, lex = calibrate(cosine), min(lexical.get(row, 0.0), 1.0)
            score = dense_weight * d + (1 - dense_weight) * lex
            if prefer_product and entry.product:
                score += PRODUCT_BONUS if entry.product == prefer_product else -PRODUCT_BONUS
            if prefer_topic and entry.topic == prefer_topic:
                score += TOPIC_BONUS
            if prefer_shop_wide and not entry.product:
                score += SHOP_WIDE_BONUS
            score = min(max(score, 0.0), 1.0)
            position = self.rows[row]
            if position not in best or score > best[position].score:
                best[position] = Hit(entry, score, d, lex, self.phrasings[row])
        return sorted(best.values(), key=lambda h: (-h.score, h.entry.id))[:k]


def build_faiss(vectors: np.ndarray, dim: int):
    """Exact inner-product search, or an inverted-file index once the KB is large."""
    import faiss

    if len(vectors) < IVF_MIN_VECTORS:
        index = faiss.IndexFlatIP(dim)
    else:
        lists = int(4 * math.sqrt(len(vectors)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), lists * 40), replace=False)]
        index.train(sample)
        index.nprobe = IVF_PROBES
    if len(vectors):
        index.add(vectors)
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()  # reconstruct() for phrasings found by the lexical signal
    return index

