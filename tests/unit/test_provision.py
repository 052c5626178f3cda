import json
import struct

import numpy as np
import pytest

from knowledge.provision import dequantize_q4, sentence_config


def test_q4_block_layout_low_then_high_nibbles():
    scale = np.float16(0.5).tobytes()
    quants = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    weights = dequantize_q4(b"pad" + scale + quants, 3, 32)
    expected_low = [(q - 8) * 0.5 for q in range(16)]
    expected_high = [(q - 8) * 0.5 for q in range(15, -1, -1)]
    assert weights.tolist() == expected_low + expected_high


def test_two_blocks_each_with_own_scale():
    block = lambda d, q: struct.pack("<e", d) + bytes([q | (q << 4)] * 16)  # noqa: E731
    weights = dequantize_q4(block(1.0, 9) + block(-2.0, 0), 0, 64)
    assert set(weights[:32]) == {1.0} and set(weights[32:]) == {16.0}


def sentence_folder(tmp_path, pooling: dict, modules: tuple[str, ...] = ("Transformer", "Pooling", "Normalize")):
    """The JSON files of a sentence-transformers folder (no weights)."""
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 384, "pad_token_id": 1}))
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": i, "path": {"Pooling": "1_Pooling", "Normalize": "2_Normalize"}.get(kind, ""),
         "type": f"sentence_transformers.models.{kind}"} for i, kind in enumerate(modules)]))
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256}))
    return tmp_path


def test_a_folder_says_how_its_vectors_are_made(tmp_path):
    folder = sentence_folder(tmp_path, {"word_embedding_dimension": 384, "pooling_mode_mean_tokens": True,
                                        "pooling_mode_cls_token": False})
    config = sentence_config(folder)
    assert (config.dim, config.max_length, config.pad_id) == (384, 256, 1)


def test_a_folder_without_the_apps_export_is_refused_in_words(tmp_path):
    from knowledge.index import Embedder

    folder = sentence_folder(tmp_path, {"pooling_mode_mean_tokens": True})
    (folder / "onnx").mkdir()
    (folder / "onnx" / "model.onnx").write_bytes(b"the hub's export, not the app's")
    with pytest.raises(RuntimeError, match="has no ONNX export: run `techan model provision`"):
        Embedder(folder, "intfloat/multilingual-e5-small")


def test_a_pooling_other_than_the_mean_is_refused_not_run_wrongly(tmp_path):
    folder = sentence_folder(tmp_path, {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    with pytest.raises(RuntimeError, match="pooling .*pooling_mode_cls_token.* is not supported"):
        sentence_config(folder)


def mapping_flags(path) -> list[str]:
    """The VmFlags of this process's mappings of ``path`` (Linux's /proc/self/smaps)."""
    flags, inside = [], False
    for line in open("/proc/self/smaps"):
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:
            inside = len(fields) == 6 and fields[5] == str(path)
        elif inside and fields[0] == "VmFlags:":
            flags.append(fields[1:])
    return flags


def test_mapped_weights_are_read_at_random_not_read_ahead(tmp_path):
    """The app's embedding table: a word's row brings in its page only (the rr flag), not its neighbours'."""
    import mmap

    from knowledge.index import read_at_random

    weights = tmp_path / "model.onnx_data"
    weights.write_bytes(b"\0" * (1 << 20))
    with open(weights, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert mapped[0] == 0
        assert [("rr" in flags) for flags in mapping_flags(weights)] == [False]
        assert read_at_random(weights) == 1
        assert [("rr" in flags) for flags in mapping_flags(weights)] == [True]
    assert read_at_random(weights) == 0  # not mapped any more: nothing to tell
