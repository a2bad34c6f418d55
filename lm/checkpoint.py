"""The one checkpoint layout: a Hugging Face Llama folder.

    config.json          LlamaConfig fields, model_type "llama"
    model.safetensors    HF tensor names (lm_head.weight absent when tied)
    tokenizer.model      sentencepiece

Our own models and imported ones load through `load_model`, and only from safetensors:
pickle files can run code, so they are refused rather than loaded.
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

from .errors import LMError
from .model import Llama, ModelConfig

CONFIG, WEIGHTS, TOKENIZER = "config.json", "model.safetensors", "tokenizer.model"


def atomic_write(path: Path, write) -> None:
    """Write through a temp file and rename, so an interrupted save never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(tmp)
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
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    dtype = next(iter(state.values())).dtype
    cfg = model.config.to_hf()
    cfg["torch_dtype"] = str(dtype).removeprefix("torch.")
    atomic_write(out / WEIGHTS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json(out / CONFIG, cfg)
    if Path(tokenizer_path).resolve() != (out / TOKENIZER).resolve():
        atomic_write(out / TOKENIZER, lambda tmp: shutil.copyfile(tokenizer_path, tmp))


def read_config(folder: Path) -> ModelConfig:
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
    if raw.get("model_type") != "llama":
        raise LMError(f"{path}: unsupported model_type {raw.get('model_type')!r} (expected 'llama')")
    try:
        return ModelConfig.from_hf(raw)
    except (TypeError, ValueError) as e:
        raise LMError(f"{path}: {e}") from None


def load_model(folder: Path, device: str | torch.device = "cpu",
               dtype: torch.dtype = torch.float32) -> Llama:
    """Build on the meta device, then assign tensors read from the safetensors file."""
    folder = Path(folder)
    cfg = read_config(folder)
    weights = folder / WEIGHTS
    if not weights.exists():
        pickles = [p.name for p in folder.glob("*.bin")] + [p.name for p in folder.glob("*.pt")]
        hint = f" (found {', '.join(pickles)}: convert it to safetensors; pickle is never loaded)" \
            if pickles else ""
        raise LMError(f"{folder} has no {WEIGHTS}{hint}")
    if not (folder / TOKENIZER).exists():
        raise LMError(f"{folder} has no {TOKENIZER}")
    with torch.device("meta"):
        model = Llama(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        expected.pop("lm_head.weight")
    state = {}
    try:
        with safe_open(weights, framework="pt", device="cpu") as f:
            names = set(f.keys())
            extra = sorted(names - expected.keys())
            if extra:
                raise LMError(f"{weights}: unexpected tensor {extra[0]} for this config")
            for name, shape in expected.items():
                if name not in names:
                    raise LMError(f"{weights}: missing tensor {name}")
                got = tuple(f.get_slice(name).get_shape())
                if got != tuple(shape):
                    raise LMError(f"{weights}: tensor {name} has shape {list(got)}, "
                                  f"config.json implies {list(shape)}")
                state[name] = f.get_tensor(name).to(device=device, dtype=dtype)
    except SafetensorError as e:
        raise LMError(f"{weights} is not a readable safetensors file ({e})") from None
    if cfg.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, assign=True)
    if cfg.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.init_rope(device)
    return model.eval()
