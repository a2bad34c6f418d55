"""Training presets: a model shape plus the hyper-parameters that suit it.

tiny   about a minute on 2 CPU cores: tests and demos.
small  the bot's default model: a CPU run of minutes to an hour (default budget 8 minutes,
       so a first run of the bot reaches its first reply in about 10).
base   about 100M parameters, for one GPU.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .errors import LMError


@dataclass(frozen=True)
class TrainConfig:
    # model shape (ignored with --init-from, which brings its own)
    vocab_size: int = 8192
    hidden_size: int = 288
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 6
    tie_word_embeddings: bool = True
    # data
    block_size: int = 256
    batch_size: int = 16          # sequences per micro-step, summed over all ranks
    grad_accum: int = 1
    val_fraction: float = 0.02
    # optimisation
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 50
    decay_lr: bool = True         # cosine to min_lr after warmup; False: constant
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    # budget and bookkeeping
    max_steps: int = 2000
    max_minutes: float | None = None
    eval_interval: int = 100
    eval_windows: int = 32
    checkpoint_interval: int = 200

    def model_fields(self) -> dict:
        keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                "num_attention_heads", "num_key_value_heads", "tie_word_embeddings")
        return {k: getattr(self, k) for k in keys}

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS = {
    "tiny": TrainConfig(vocab_size=1024, hidden_size=96, intermediate_size=256,
                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                        block_size=128, batch_size=8, learning_rate=2e-3, warmup_steps=20,
                        max_steps=300, eval_interval=50, eval_windows=16, checkpoint_interval=100),
    "small": TrainConfig(vocab_size=8192, hidden_size=288, intermediate_size=768,
                         num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                         block_size=512, batch_size=8, learning_rate=1e-3, warmup_steps=50,
                         max_steps=20000, max_minutes=8.0, eval_interval=100),
    "base": TrainConfig(vocab_size=8192, hidden_size=768, intermediate_size=2048,
                        num_hidden_layers=12, num_attention_heads=12, num_key_value_heads=4,
                        block_size=1024, batch_size=32, grad_accum=4, learning_rate=6e-4,
                        min_lr=6e-5, warmup_steps=200, max_steps=20000, eval_interval=250,
                        eval_windows=64, checkpoint_interval=1000),
    # For --init-from: a pretrained model wants a small, constant learning rate (as nanoGPT's
    # fine-tuning configs) and few passes over a community's (small) corpus; a fifth is held
    # out so the before/after score means something. The rate was chosen on chitchat
    # conversations, not on the demo corpus bench/finetune.py reports on (README).
    "finetune": TrainConfig(block_size=256, batch_size=4, val_fraction=0.2, learning_rate=1e-4,
                            warmup_steps=5, decay_lr=False, weight_decay=0.0, max_steps=60,
                            max_minutes=5.0, eval_interval=10, eval_windows=8, checkpoint_interval=20),
}

# Options that may change when resuming: they extend or shorten the run, not its meaning.
RESUMABLE_CHANGES = {"max_steps", "max_minutes", "eval_interval", "eval_windows",
                     "checkpoint_interval"}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise LMError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
