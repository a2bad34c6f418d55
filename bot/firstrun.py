"""First run: find a model, or train the default one, so a fresh checkout can chat.

Order: ``--model DIR``, then ``MODEL_DIR``, then the cached ``DATA_DIR/models/default``.
With none of them, the ``small`` preset is trained with the ``lm`` toolkit on the
``chitchat-dataset`` conversations plus the demo shop corpus in ``bot/demo/`` (about
eight minutes on two CPU cores, by the preset's time budget), and cached for next time.

Training writes to ``models/default.partial`` and is renamed into place only when it
finishes, so an interrupted first run never leaves a half-trained "default"; the next
start resumes the partial run where it stopped.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TextIO

from lm.checkpoint import CONFIG, TOKENIZER, WEIGHTS
from lm.errors import LMError
from lm.presets import TrainConfig, preset
from lm.train import train
from lm.trainstate import STATE

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SOURCES = [str(DEMO_DIR / name) for name in ("faq.txt", "products.txt", "community.jsonl")]
SOURCES = ["chitchat", *DEMO_SOURCES]


def is_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in (CONFIG, WEIGHTS, TOKENIZER))


def resolve_model_dir(override: Path | None, configured: Path | None, data_dir: Path, *,
                      cfg: TrainConfig | None = None, sources: list[str] = SOURCES,
                      out: TextIO = sys.stderr) -> Path:
    """The model folder to load, training the default model first if there is none."""
    for choice, origin in ((override, "--model"), (configured, "MODEL_DIR")):
        if choice is not None:
            if not is_model_dir(choice):
                raise LMError(f"{origin} {choice} is not a model folder (it needs {CONFIG}, "
                              f"{WEIGHTS} and {TOKENIZER})")
            return choice
    default = data_dir / "models" / "default"
    if is_model_dir(default):
        return default
    return train_default(default, cfg or preset("small"), sources, out=out)


def _describe(sources: list[str]) -> str:
    parts = ["the chitchat conversations" if s == "chitchat" else Path(s).name for s in sources]
    return ", ".join(parts)


def plan(cfg: TrainConfig, sources: list[str], resuming: bool) -> str:
    if cfg.max_minutes:
        duration = f"about {cfg.max_minutes:g} minutes of training"
    else:
        duration = f"{cfg.max_steps} training steps"
    verb = "Resuming the interrupted training of" if resuming else "Training"
    return (
        "No model yet: MODEL_DIR is not set and there is no cached default model.\n"
        f"{verb} a {cfg.num_hidden_layers}-layer, {cfg.hidden_size}-wide model "
        f"({cfg.vocab_size}-piece vocabulary) on {_describe(sources)}.\nETA: a minute to prepare the data, then {duration}, "
        "on this machine's CPU or GPU. This happens once; the model is cached.\n"
        "To use another model instead, pass --model DIR or set MODEL_DIR. "
        "Ctrl-C stops training; the next start resumes it."
    )


def train_default(default: Path, cfg: TrainConfig, sources: list[str], *,
                  out: TextIO = sys.stderr) -> Path:
    partial = default.with_name(default.name + ".partial")
    resuming = (partial / STATE).is_file()
    print(plan(cfg, sources, resuming), file=out, flush=True)
    result = train(cfg, sources, partial, resume=resuming)
    if result["stopped"]:
        raise KeyboardInterrupt
    if default.exists():
        shutil.rmtree(default)
    os.replace(partial, default)
    print(f"Model ready in {default} (validation {result['val_bpb']:.3f} bits per byte).",
          file=out, flush=True)
    return default
