"""Training benchmark: our trainer against nanoGPT as shipped, same data, same wall clock.

Prints one JSON object. Every run trains for the same wall-clock budget (training steps
only; start-up and evaluation excluded on both sides) on the shared reviews data with one
shared tokenizer and token files, then reports throughput and validation bits per UTF-8
byte on identical validation windows. Each run is its own process with the same thread
count, so one run's allocator or autotuning state cannot help another.

Runs at the 8M shape (6 layers, 288 wide, 6 heads, 8k vocab, batch 16x256):
  nanogpt_fp32   the peer: nanoGPT's model and step, fp32 (how it runs on CPU)
  ours_fp32      our trainer forced to fp32
  ours_auto      our trainer with its default precision (bf16 autocast where native)
and the bot's default `small` preset with its own defaults.

    python -m bench.train                  # 3 minutes a run, about 15 minutes in all
    python -m bench.train --minutes 0.5    # quick look
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ROOT.parent / "shared" / "data" / "womens_clothing_reviews.csv.gz"
SHAPE = dict(vocab_size=8192, hidden_size=288, intermediate_size=768, num_hidden_layers=6,
             num_attention_heads=6, num_key_value_heads=6, block_size=256, batch_size=16)
SOURCES = [f"{REVIEWS}:Title,Review Text"]
EVAL_WINDOWS = 64


def worker(kind: str, work: Path, minutes: float, threads: int, limit_docs: int | None) -> dict:
    import torch
    torch.set_num_threads(threads)
    data = work / "prepared" / "data"
    if kind == "nanogpt_fp32":
        from bench.nanogpt_ref import run
        return run(data, minutes, vocab=8192, block=256, batch=16, layers=6, d=288, heads=6,
                   eval_windows=EVAL_WINDOWS)
    from lm.presets import preset
    from lm.train import train
    out = work / kind
    out.mkdir(exist_ok=True)
    os.link(work / "prepared" / "tokenizer.model", out / "tokenizer.model")
    (out / "data").symlink_to(data)
    shape = {} if kind == "small_auto" else SHAPE
    cfg = preset("small", **shape, max_steps=10**9, max_minutes=minutes,
                 eval_interval=10**9, eval_windows=EVAL_WINDOWS, checkpoint_interval=10**9)
    result = train(cfg, SOURCES, out, limit_docs=limit_docs, precision="fp32" if kind == "ours_fp32" else "auto")
    steps = result["step"]
    return {"steps": steps, "elapsed_s": result["elapsed_s"], "val_loss": result["val_loss"],
            "val_bpb": result["val_bpb"],
            "tokens_per_s": steps * cfg.batch_size * cfg.block_size / result["elapsed_s"],
            "block_size": cfg.block_size, "batch_size": cfg.batch_size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=3.0, help="training wall clock per run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="nanogpt_fp32,ours_fp32,ours_auto,small_auto")
    ap.add_argument("--limit-docs", type=int)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker, a.work, a.minutes, a.threads, a.limit_docs)))
        return
    if not REVIEWS.exists():
        sys.exit(f"error: {REVIEWS} not found (the shared data folder beside the project)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from lm.data import read_meta
        from lm.presets import preset
        from lm.train import prepare_run
        prepare_run(preset("small", **SHAPE), SOURCES, work / "prepared", None, a.limit_docs)
        meta = read_meta(work / "prepared" / "data")
        results = {}
        for kind in a.runs.split(","):
            cmd = [sys.executable, "-m", "bench.train", "--worker", kind, "--work", str(work),
                   "--minutes", str(a.minutes), "--threads", str(a.threads)]
            if a.limit_docs:
                cmd += ["--limit-docs", str(a.limit_docs)]
            env = os.environ | {"OMP_NUM_THREADS": str(a.threads)}
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
            if proc.returncode:
                sys.exit(f"error: run {kind} failed:\n{proc.stderr[-3000:]}")
            results[kind] = json.loads(proc.stdout.strip().splitlines()[-1])
    report = {"minutes_per_run": a.minutes, "threads": a.threads, "shape": SHAPE,
              "train_tokens": meta["train"]["tokens"], "val_tokens": meta["val"]["tokens"], **results}
    peer = results.get("nanogpt_fp32")
    if peer:
        for kind in ("ours_fp32", "ours_auto"):
            if kind in results:
                report[f"{kind}_speedup_vs_nanogpt"] = round(results[kind]["tokens_per_s"] / peer["tokens_per_s"], 3)
                report[f"{kind}_bpb_minus_nanogpt"] = round(results[kind]["val_bpb"] - peer["val_bpb"], 4)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
