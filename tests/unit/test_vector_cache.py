"""The embedding cache on disk (knowledge.index.VectorCache): only a cache, so trouble saving it loses nothing."""

from __future__ import annotations

import logging

import numpy as np

from knowledge.index import VectorCache


class LengthEmbedder:
    """Vectors made from the text's length: enough to see which text a vector belongs to."""

    name, dim = "length", 2

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.array([[len(text), 1.0] for text in texts], dtype=np.float32)


def test_a_cache_that_cannot_be_saved_is_logged_and_its_vectors_still_serve(tmp_path, caplog):
    (tmp_path / "not-a-folder").write_text("")
    cache = VectorCache(tmp_path / "not-a-folder" / "vectors.npz", "length")
    caplog.set_level(logging.WARNING, logger="knowledge.index")
    vectors = cache.embed(LengthEmbedder(), ["茶", "普洱茶"])
    assert vectors.tolist() == [[1.0, 1.0], [3.0, 1.0]]
    assert "embedding cache" in caplog.text and "not saved" in caplog.text

