"""Engine benchmark: our in-process engine against Hugging Face `generate`, same weights.

Prints one JSON object. Two checkpoints:
  - the ~8M shape (6 layers, 288 wide, 6 heads, 8k vocab), trained for a couple of minutes
    on the shared reviews so that the perplexity check means something; served with
    a 1,024-token context so 400-token prompts plus 128-token answers fit;
  - the bot's default `small` preset shape (random weights: speed does not depend on them).
The top-level keys are the 8M run; `small` holds the same measurements for the preset.
`reduced_ppl_change` checks that our reduced-precision serving mode (int8 weights on a CPU
with native bf16, keys and values cached in bf16) keeps validation perplexity within 1%
of fp32.

    python -m bench.engine                      # about 15 minutes on 2 cores
    python -m bench.engine --concurrency 1,4    # quicker
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from lm.checkpoint import load_for_inference
from lm.checkpoint import CONFIG, TOKENIZER, WEIGHTS, load_model, save_model
from lm.clean import load_corpus
from lm.data import is_validation
from lm.evaluate import evaluate
from lm.model import Llama, ModelConfig
from lm.presets import preset
from lm.train import train

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ROOT.parent / "shared" / "data" / "womens_clothing_reviews.csv.gz"
SOURCES = [f"{REVIEWS}:Title,Review Text"]
SHAPE = dict(vocab_size=8192, hidden_size=288, intermediate_size=768, num_hidden_layers=6,
             num_attention_heads=6, num_key_value_heads=6)


def with_context(src: Path, dst: Path, context: int) -> Path:
    """A copy of a folder whose config allows a longer context (RoPE has no learned table)."""
    dst.mkdir(parents=True)
    for name in (WEIGHTS, TOKENIZER):
        os.link(src / name, dst / name)
    cfg = json.loads((src / CONFIG).read_text()) | {"max_position_embeddings": context}
    (dst / CONFIG).write_text(json.dumps(cfg))
    return dst


def precision_check(folder: Path, docs: int = 400) -> dict:
    from lm.tokenizer import Tokenizer
    val = [d for d in load_corpus(SOURCES) if is_validation(d, 0.02)][:docs]
    tok = Tokenizer(folder / TOKENIZER)
    cpu = torch.device("cpu")
    fp32 = evaluate(load_model(folder), tok, val, cpu, torch.float32)
    fast, mode = load_for_inference(folder, "cpu", "auto")
    # The engine serves a reduced-precision model with a bf16 KV cache: score through one.
    kv = torch.bfloat16 if mode != "fp32" else None
    reduced = evaluate(fast, tok, val, cpu, torch.float32, kv_dtype=kv)
    return {"fp32_val_ppl": fp32["perplexity"], f"{mode}_val_ppl": reduced["perplexity"],
            "reduced_precision": mode,
            "reduced_ppl_change": reduced["perplexity"] / fp32["perplexity"] - 1}


def measure(folder: Path, a) -> dict:
    """`python -m lm bench` in a fresh process: training in this one leaves thread pools
    and allocator state behind that skewed the serving figures by a third."""
    cmd = [sys.executable, "-m", "lm", "bench", "--model", str(folder),
           "--concurrency", a.concurrency, "--threads", str(a.threads), "--repeats", str(a.repeats)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"error: lm bench failed on {folder}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-minutes", type=float, default=2.0)
    ap.add_argument("--concurrency", default="1,4,16,64")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="rounds per figure (median reported)")
    a = ap.parse_args()
    if not REVIEWS.exists():
        sys.exit(f"error: {REVIEWS} not found (the shared data folder beside the project)")
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = preset("small", **SHAPE, block_size=256, batch_size=16, max_steps=10**9,
                     max_minutes=a.train_minutes, eval_interval=10**9, checkpoint_interval=10**9)
        train(cfg, SOURCES, tmp / "m8")
        report = precision_check(tmp / "m8")
        report |= measure(with_context(tmp / "m8", tmp / "m8_ctx1024", 1024), a)
        small = preset("small")
        torch.manual_seed(0)
        model = Llama(ModelConfig(**small.model_fields(), max_position_embeddings=small.block_size))
        model.init_weights()
        save_model(model, tmp / "m8" / TOKENIZER, tmp / "small")
        report["small"] = measure(tmp / "small", a)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
