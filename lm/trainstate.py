"""What `--resume` needs beyond the model folder: optimiser moments, step, clock and RNG.

Stored as `optimizer.safetensors` plus `train_state.json` (never pickle). The data
position needs no storing: batches are a pure function of (seed, step), see `data.py`.
Both files carry the step they were written at, so a save interrupted between files is
detected instead of silently resuming from a mix of two steps.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .checkpoint import atomic_write, write_json
from .errors import LMError
from .presets import RESUMABLE_CHANGES, TrainConfig

STATE, OPTIMIZER = "train_state.json", "optimizer.safetensors"


def save_state(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    names = {p: n for n, p in model.named_parameters()}
    tensors = {"rng.torch": torch.get_rng_state()}
    for p, st in opt.state.items():
        for key, value in st.items():
            tensors[f"{names[p]}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    meta = {"step": str(state["step"])}
    atomic_write(out / OPTIMIZER, lambda tmp: save_file(tensors, tmp, metadata=meta))
    write_json(out / STATE, state)


def load_state(out: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict:
    path = out / STATE
    if not path.exists() or not (out / OPTIMIZER).exists():
        raise LMError(f"--resume: {out} has no {STATE} / {OPTIMIZER} to resume from")
    state = json.loads(path.read_text())
    params = dict(model.named_parameters())
    try:
        with safe_open(out / OPTIMIZER, framework="pt") as f:
            if f.metadata().get("step") != str(state["step"]):
                raise LMError(f"--resume: {OPTIMIZER} and {STATE} are from different steps "
                              "(a save was interrupted); cannot resume exactly")
            torch.set_rng_state(f.get_tensor("rng.torch"))
            for name, p in params.items():
                opt.state[p] = {k: f.get_tensor(f"{name}.{k}").to(p.device)
                                for k in ("step", "exp_avg", "exp_avg_sq")
                                if f"{name}.{k}" in f.keys()}
    except SafetensorError as e:
        raise LMError(f"--resume: {out / OPTIMIZER} is unreadable ({e})") from None
    return state


def check_same_run(saved: dict, config: dict, sources: list[str]) -> None:
    """Refuse to resume under a different config: the result would be neither run."""
    defaults = TrainConfig().as_dict()  # a key newer than the saved run had its default
    changed = [k for k, v in config.items()
               if k not in RESUMABLE_CHANGES and saved["config"].get(k, defaults[k]) != v]
    if changed:
        k = changed[0]
        raise LMError(f"--resume with a different config: {k} was "
                      f"{saved['config'].get(k, defaults[k])!r}, "
                      f"now {config[k]!r}")
    if saved.get("sources") != sources:
        raise LMError(f"--resume with different --data: was {saved.get('sources')}, now {sources}")
