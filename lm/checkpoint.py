"""The one checkpoint layout: a Hugging Face Llama (or Mistral, Qwen2) folder.

    config.json            LlamaConfig fields, model_type "llama", "mistral" or "qwen2"
    model.safetensors      HF tensor names (lm_head.weight absent when tied), or shards
                           listed in model.safetensors.index.json
    tokenizer.model        sentencepiece, or
    tokenizer.json         a `tokenizers` tokenizer (lm/tokenizer.py)
    tokenizer_config.json  which chat template to use (lm/chat.py), BOS and EOS

Our own models and imported ones load through `load_model`, and only from safetensors:
pickle files can run code, so they are refused rather than loaded.

Loading is lean. The model is built on the meta device and tensors are assigned, never
copied in. When a file already holds the wanted dtype and the model stays on CPU, each
tensor *is* a view of the memory-mapped file: no copy at all. Otherwise each tensor is
read with pread into a temporary, converted or moved, and freed, so the peak is the loaded
model plus one tensor; converting from the mapping instead would leave every page it
touched resident as well (bench/load_rss.py measures both). A mapped file must not be
rewritten in place while its model is in use (truncating it faults the process); our saves
replace files by renaming a new one over them, which is safe.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .chat import tokenizer_config
from .errors import LMError
from .model import ARCHITECTURES, Llama, ModelConfig
from .tokenizer import SP_FILE, load_tokenizer

CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", SP_FILE
INDEX, TOKENIZER_CONFIG, CHAT_TEMPLATE = \
    "model.safetensors.index.json", "tokenizer_config.json", "chat_template.jinja"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")
# Config values this model does not implement, each with the only value it accepts.
REQUIRED = {"hidden_act": "silu", "attention_bias": False, "mlp_bias": False}


def atomic_write(path: Path, write) -> None:
    """Write through a temp file and rename, so an interrupted save never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a model folder is meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path, obj) -> None:
    def write(tmp):
        Path(tmp).write_text(json.dumps(obj, indent=2) + "\n")
    atomic_write(path, write)


def save_model(model: Llama, tokenizer_path: Path, out: Path) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer_path = Path(tokenizer_path)
    tok_config = tokenizer_config(load_tokenizer(tokenizer_path))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    dtype = next(iter(state.values())).dtype
    cfg = model.config.to_hf()
    cfg["torch_dtype"] = str(dtype).removeprefix("torch.")
    atomic_write(out / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(out / CONFIG, cfg)
    target = out / tokenizer_path.name  # tokenizer.model or tokenizer.json
    if tokenizer_path.resolve() != target.resolve():
        atomic_write(target, lambda tmp: shutil.copyfile(tokenizer_path, tmp))
    if tok_config is not None:
        write_json(out / TOKENIZER_CONFIG, tok_config)
        return
    for name in (TOKENIZER_CONFIG, CHAT_TEMPLATE):  # an imported tokenizer keeps its template
        src = tokenizer_path.parent / name
        if src.exists() and src.resolve() != (out / name).resolve():
            atomic_write(out / name, lambda tmp, src=src: shutil.copyfile(src, tmp))


def read_config(folder: Path, max_context: int | None = None) -> ModelConfig:
    """config.json as a ModelConfig, refusing what the model does not implement.
    `max_context` caps the context used, and with it the RoPE tables and default KV cache."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LMError(f"model folder {folder} does not exist")
    path = folder / CONFIG
    if not path.exists():
        raise LMError(f"{folder} has no {CONFIG}: not a Llama-format model folder")
    try:
        raw = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LMError(f"{path} is not valid JSON: {e}") from None
    if raw.get("model_type") not in ARCHITECTURES:
        raise LMError(f"{path}: unsupported model_type {raw.get('model_type')!r} "
                      f"(supported: {', '.join(ARCHITECTURES)})")
    for key, want in REQUIRED.items():  # qwen2 has its q/k/v biases without saying so
        if raw.get(key, want) != want:
            raise LMError(f"{path}: {key} {raw[key]!r} is not supported (only {want!r})")
    try:
        cfg = ModelConfig.from_hf(raw)
    except (TypeError, ValueError) as e:
        raise LMError(f"{path}: {e}") from None
    if max_context:
        cfg.max_position_embeddings = min(cfg.max_position_embeddings, max_context)
    window = raw.get("sliding_window")
    if window is not None and raw.get("use_sliding_window", True) \
            and window < cfg.max_position_embeddings:
        raise LMError(f"{path}: sliding_window {window} is shorter than the context of "
                      f"{cfg.max_position_embeddings} tokens, and sliding-window attention is not "
                      f"implemented; load with a context of at most {window} tokens")
    return cfg


def weight_files(folder: Path) -> list[Path]:
    """model.safetensors, or the shards that model.safetensors.index.json lists."""
    folder = Path(folder)
    if (folder / WEIGHTS).exists():
        return [folder / WEIGHTS]
    index = folder / INDEX
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise LMError(f"{index} is not a safetensors index ({type(e).__name__}: {e})") from None
        for shard in shards:
            if not isinstance(shard, str) or Path(shard).name != shard:
                raise LMError(f"{index} lists {shard!r}, which is not a file name in {folder}")
            if not (folder / shard).is_file():
                raise LMError(f"{index} lists {shard}, which is missing")
        return [folder / shard for shard in shards]
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    hint = (f" (found {', '.join(pickles[:3])}{' ...' if len(pickles) > 3 else ''}: convert it "
            f"to safetensors; pickle is never loaded)") if pickles else ""
    raise LMError(f"{folder} has no {WEIGHTS} or {INDEX}{hint}")


def _skipped(name: str, cfg: ModelConfig) -> bool:
    """Tensors that carry nothing for us: a tied lm_head some savers still write, and the
    RoPE tables old transformers versions saved (we recompute them)."""
    return name.endswith("rotary_emb.inv_freq") or (cfg.tie_word_embeddings and name == "lm_head.weight")


def _read(path: Path, cfg: ModelConfig, expected: dict, device: torch.device,
          dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """One file's tensors, each checked against the shape the config implies."""
    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            present = {n for n in f.keys() if not _skipped(n, cfg)}
            if present - expected.keys():
                raise LMError(f"{path}: unexpected tensor {min(present - expected.keys())} "
                              f"for this config")
            names = [n for n in expected if n in present]  # model order: first layer first
            for name in names:
                got = tuple(f.get_slice(name).get_shape())
                if got != tuple(expected[name]):
                    raise LMError(f"{path}: tensor {name} has shape {list(got)}, "
                                  f"config.json implies {list(expected[name])}")
            views = {name: f.get_tensor(name) for name in names}  # mapped, nothing read yet
        if device.type == "cpu" and all(t.dtype == dtype for t in views.values()):
            return views
        del views
        with safe_open(path, framework="pt", device="cpu", backend="pread") as f:
            return {name: f.get_tensor(name).to(device=device, dtype=dtype) for name in names}
    except SafetensorError as e:
        raise LMError(f"{path} is not a readable safetensors file ({e})") from None


def load_model(folder: Path, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32, max_context: int | None = None) -> Llama:
    """Build on the meta device, then assign the tensors read from the safetensors file(s)."""
    folder = Path(folder)
    cfg = read_config(folder, max_context)
    files = weight_files(folder)
    with torch.device("meta"):
        model = Llama(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        expected.pop("lm_head.weight")
    device = torch.device(device)
    state: dict[str, torch.Tensor] = {}
    for path in files:
        part = _read(path, cfg, expected, device, dtype)
        if part.keys() & state.keys():
            raise LMError(f"{path}: tensor {min(part.keys() & state.keys())} is also in another shard")
        state.update(part)
    missing = sorted(expected.keys() - state.keys())
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LMError(f"{folder}: missing tensor {missing[0]}{more}")
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.init_rope(device)
    return model.eval()


def describe(folder: Path) -> dict:
    """What `python -m lm info` reports, from config.json and the safetensors headers alone:
    no weights are read, so it is instant even for a 7B model."""
    folder = Path(folder)
    cfg = read_config(folder)
    files = weight_files(folder)
    params, dtypes = 0, set()
    try:
        for path in files:
            with safe_open(path, framework="pt", device="cpu") as f:
                for name in f.keys():
                    if not _skipped(name, cfg):
                        t = f.get_tensor(name)  # a mapped view: only the header is read
                        params += t.numel()
                        dtypes.add(str(t.dtype).removeprefix("torch."))
    except SafetensorError as e:
        raise LMError(f"{path} is not a readable safetensors file ({e})") from None
    kv = 2 * cfg.num_hidden_layers * cfg.num_key_value_heads * cfg.head_dim
    return {
        "parameters": params,
        "dtype": ",".join(sorted(dtypes)),
        "context_length": cfg.max_position_embeddings,
        "kv_cache_bytes_per_token": {"bfloat16": kv * 2, "float32": kv * 4},
        "layers": cfg.num_hidden_layers,
        "hidden_size": cfg.hidden_size,
        "heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "tied_embeddings": cfg.tie_word_embeddings,
        "checkpoint_bytes": sum(p.stat().st_size for p in files),
    }


def load_for_inference(folder: Path, device: str = "auto", precision: str = "auto"):
    """The model in the fastest precision for serving: (model, "fp32" | "bf16" | "int8").

    auto: bf16 on CUDA; on a CPU with native bf16 and the int8 kernel, int8 weight-only
    (decoding is memory-bound, and int8 moves a quarter of fp32's bytes); else fp32."""
    from . import quant
    from .device import cpu_has_native_bf16, pick_device
    dev = pick_device(device)
    if precision == "auto":
        if dev.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp32"
        else:
            precision = "int8" if cpu_has_native_bf16() and quant.supported() else "fp32"
    if precision not in ("fp32", "bf16", "int8"):
        raise ValueError(f"unknown precision {precision!r} (auto, fp32, bf16 or int8)")
    model = load_model(folder, device=dev, dtype=torch.bfloat16 if precision == "bf16" else torch.float32)
    return (quant.quantize_int8(model) if precision == "int8" else model), precision
