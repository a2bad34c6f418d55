"""`python -m lm bench --model DIR`: serving measurements for any checkpoint.

Everything is measured in one process, side by side with Hugging Face `generate` on the
same weights when transformers is installed:

- batch-1 decode tokens/s through the engine at a forced output length, in fp32 and at
  the serving precision (`load_for_inference`'s choice: packed 4/8-bit weights on a CPU,
  see lm/quant.py); HF: the faster of fp32 and bf16;
- concurrent serving (1, 4, 16, 64 requests by default, all arriving at once, of mixed
  prompt and output lengths, or the caller's prompts with `new_tokens` each): aggregate
  tokens/s and p50/p95 time-to-first-token and latency, against HF serving the same
  requests one after another (up to `serial_up_to` requests: it is slow);
- each figure as the median of `repeats` rounds (3 by default), ours and HF's alike:
  single runs on a shared 2-core machine vary by about +-20%;
- asyncio loop lag p99 while the engine is saturated, the engine worker's peak RSS,
  load time, and weight bytes/s at batch 1 as a fraction of measured memory bandwidth.
bench/engine.py adds llama.cpp and a perplexity check on top.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import random
import sys
import time
from pathlib import Path

import torch

from .checkpoint import load_for_inference, load_model, read_config
from .engine import Engine, Request
from .model import Llama
from .sample import SamplingParams
from .tokenizer import Tokenizer, load_tokenizer


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q / 100 * len(xs)) - 1))]


def median(xs: list[float]) -> float:
    return percentile(xs, 50)


def progress(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def memory_bandwidth(gib: float = 1.0) -> float:
    """Bytes/s of a large tensor copy (read + write), the roofline for decode."""
    n = int(gib * (1 << 30) / 4)
    src, dst = torch.ones(n), torch.empty(n)
    dst.copy_(src)
    best = min(_timed(lambda: dst.copy_(src)) for _ in range(5))
    return 2 * n * 4 / best


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def weight_bytes(model: Llama) -> int:
    """Bytes a decode step reads: every matrix, and one embedding row (not the table)."""
    total = 0
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if name.startswith("rope_"):
            continue
        if name == "model.embed_tokens.weight":
            total += t.shape[1] * t.element_size()
            if model.config.tie_word_embeddings and isinstance(model.lm_head, torch.nn.Linear):
                total += t.numel() * t.element_size()
            continue
        total += t.numel() * t.element_size()
    return total


def weight_formats(model: Llama) -> dict[str, int]:
    """How many matrices each packed width holds (empty when not packed)."""
    counts: dict[str, int] = {}
    for m in model.modules():
        if hasattr(m, "bits"):
            counts[f"{m.bits}bit"] = counts.get(f"{m.bits}bit", 0) + 1
    return counts


def workload(n: int, seed: int = 0, context: int = 1024) -> list[tuple[int, int]]:
    """(prompt tokens, output tokens) pairs: prompts 16-400 and outputs 16-128, both
    capped so that they fit a smaller context."""
    rnd = random.Random(seed)
    max_out = min(128, context // 4)
    max_prompt = min(400, context - max_out - 1)
    return [(rnd.randint(min(16, max_prompt), max_prompt), rnd.randint(min(16, max_out), max_out))
            for _ in range(n)]


def prompt_text(tok: Tokenizer, n_tokens: int, seed: int, ordinary: list[int] | None = None) -> str:
    """Text that encodes to about n_tokens: random ordinary pieces, decoded."""
    rnd = random.Random(seed)
    ordinary = ordinary or tok.text_ids()
    return tok.decode([rnd.choice(ordinary) for _ in range(n_tokens)])


def forced(n: int) -> SamplingParams:
    return SamplingParams(temperature=0, max_new_tokens=n, ignore_eos=True)


def children_peak_rss_mb() -> float:
    """The largest peak RSS (VmHWM) among this process's children: the engine's worker."""
    peak = 0
    for tasks in Path("/proc/self/task").glob("*/children"):
        for pid in tasks.read_text().split():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except OSError:
                continue
    return peak / 1024


async def engine_decode_tok_s(eng: Engine, tok: Tokenizer, new_tokens: int, repeats: int) -> list[float]:
    await eng.complete(Request(prompt="warm up", params=forced(8)))
    rates = []
    for _ in range(repeats):
        r = await eng.complete(Request(prompt=prompt_text(tok, 16, 1), params=forced(new_tokens)))
        rates.append((r.completion_tokens - 1) / (r.latency_s - r.ttft_s))
    return rates


async def engine_serving(eng: Engine, requests: list[tuple[str, int]], repeats: int) -> list[dict]:
    """`repeats` rounds of the same (prompt, output tokens) requests, all arriving at once."""
    reqs = [Request(prompt=p, params=forced(n)) for p, n in requests]
    await eng.complete(Request(prompt="warm up", params=forced(4)))
    rounds = []
    for _ in range(repeats):
        lags, running = [], True

        async def ticker():
            while running:
                t = time.perf_counter()
                await asyncio.sleep(0.001)
                lags.append(time.perf_counter() - t - 0.001)

        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        results = await asyncio.gather(*(eng.complete(r) for r in reqs))
        wall = time.perf_counter() - t0
        running = False
        await tick
        rounds.append({"tok_s": sum(r.completion_tokens for r in results) / wall,
                       "ttft": [r.ttft_s for r in results], "latency": [r.latency_s for r in results],
                       "loop_lag_ms": [x * 1e3 for x in lags]})
    return rounds


def hf_model(folder: Path, dtype: torch.dtype):
    import transformers
    return transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()


class _FirstToken:
    """A transformers streamer that notes when the first generated token arrives."""

    def __init__(self):
        self.calls, self.first = 0, None

    def put(self, value):
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = time.perf_counter()

    def end(self):
        pass


@torch.inference_mode()
def hf_generate(hf, ids: list[int], n: int, streamer=None):
    x = torch.tensor([ids])
    return hf.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                       do_sample=False, streamer=streamer, pad_token_id=0)


def hf_decode_tok_s(hf, tok: Tokenizer, new_tokens: int, repeats: int) -> list[float]:
    ids = [*tok.prefix(), *tok.encode(prompt_text(tok, 16, 1))]
    hf_generate(hf, ids, 8)
    rates = []
    for _ in range(repeats):
        s = _FirstToken()
        hf_generate(hf, ids, new_tokens, s)
        rates.append((new_tokens - 1) / (time.perf_counter() - s.first))
    return rates


def hf_serial(hf, tok: Tokenizer, requests: list[tuple[str, int]]) -> dict:
    """The same requests, all arriving at t0, served one after another."""
    ttft, latency, tokens = [], [], 0
    t0 = time.perf_counter()
    for prompt, n in requests:
        s = _FirstToken()
        hf_generate(hf, [*tok.prefix(), *tok.encode(prompt)], n, s)
        ttft.append(s.first - t0)
        latency.append(time.perf_counter() - t0)
        tokens += n
    return {"tok_s": tokens / (time.perf_counter() - t0), "ttft": ttft, "latency": latency}


def summarise(rounds: list[dict]) -> dict:
    """Each measure as its median over rounds (single runs here vary by +-20%)."""
    return {"tok_s": median([r["tok_s"] for r in rounds]),
            "p50_ttft": median([percentile(r["ttft"], 50) for r in rounds]),
            "p95_ttft": median([percentile(r["ttft"], 95) for r in rounds]),
            "p50_latency": median([percentile(r["latency"], 50) for r in rounds]),
            "p95_latency": median([percentile(r["latency"], 95) for r in rounds]),
            "rounds_tok_s": [round(r["tok_s"], 1) for r in rounds]}


def requests_for(c: int, tok: Tokenizer, context: int, prompts: list[str] | None,
                 new_tokens: int) -> list[tuple[str, int]]:
    """c requests: the caller's prompts (cycled) with new_tokens each, else a mixed workload."""
    if prompts:
        return [(prompts[i % len(prompts)], new_tokens) for i in range(c)]
    ordinary = tok.text_ids()
    return [(prompt_text(tok, p, i, ordinary), o) for i, (p, o) in enumerate(workload(c, c, context))]


async def _serve_all(eng: Engine, tok, reqs: dict[int, list], new_tokens: int, repeats: int):
    decode = await engine_decode_tok_s(eng, tok, new_tokens, repeats)
    served = {}
    for c, r in reqs.items():
        progress(f"ours: {c} concurrent requests x {repeats} rounds")
        served[c] = await engine_serving(eng, r, repeats)
    return decode, served, children_peak_rss_mb()


def run(folder: Path, concurrency=(1, 4, 16, 64), new_tokens: int = 128, threads: int | None = None,
        hf: bool = True, serial_up_to: int = 16, repeats: int = 3, prompts: list[str] | None = None,
        fp32: bool = True) -> dict:
    """Every figure is the median of `repeats` rounds, ours and HF's alike."""
    if threads:
        torch.set_num_threads(threads)
    folder = Path(folder)
    tok = load_tokenizer(folder)
    t = time.perf_counter()
    fast, mode = load_for_inference(folder, "cpu", "auto")
    ctx = fast.config.max_position_embeddings
    with torch.device("meta"):
        params = Llama(read_config(folder)).num_params()
    out: dict = {"model": str(folder), "params": params,
                 "threads": torch.get_num_threads(), "serving_precision": mode,
                 "weight_formats": weight_formats(fast), "ours_load_s": time.perf_counter() - t,
                 "context": ctx, "repeats": repeats, "loadavg_1min": os.getloadavg()[0]}
    reqs = {c: requests_for(c, tok, ctx, prompts, new_tokens) for c in concurrency}
    progress(f"ours ({mode}): batch-1 decode of {new_tokens} tokens x {repeats}")
    eng = Engine(fast, tok, slots=max(concurrency), max_queue=max(concurrency),
                 threads=torch.get_num_threads()).start()
    try:
        decode, served, rss = asyncio.run(_serve_all(eng, tok, reqs, new_tokens, repeats))
    finally:
        asyncio.run(eng.close())
    out["decode_tok_s"], out["peak_rss_mb"] = median(decode), rss
    bw = memory_bandwidth()
    out["memory_bandwidth_gb_s"] = bw / 1e9
    out["weight_bytes"] = weight_bytes(fast)
    out["bandwidth_fraction"] = out["weight_bytes"] * out["decode_tok_s"] / bw
    del fast
    if fp32:
        progress("ours (fp32): batch-1 decode")
        eng = Engine(load_model(folder), tok, slots=1, threads=torch.get_num_threads()).start()
        try:
            out["decode_tok_s_fp32"] = median(asyncio.run(engine_decode_tok_s(eng, tok, new_tokens, repeats)))
        finally:
            asyncio.run(eng.close())
    lags = []
    for c, rounds in served.items():
        lags += [x for r in rounds for x in r["loop_lag_ms"]]
        r = summarise(rounds)
        out[f"aggregate_tok_s_c{c}"], out[f"aggregate_tok_s_c{c}_rounds"] = r["tok_s"], r["rounds_tok_s"]
        for k in ("p50_ttft", "p95_ttft", "p50_latency", "p95_latency"):
            out[f"{k}_s_c{c}"] = r[k]
    out["loop_lag_p99_ms"] = percentile(lags, 99)
    if hf:
        progress("transformers: batch-1 decode, fp32 and bf16")
        models = {"fp32": hf_model(folder, torch.float32), "bf16": hf_model(folder, torch.bfloat16)}
        for name, m in models.items():
            out[f"hf_decode_tok_s_{name}"] = median(hf_decode_tok_s(m, tok, new_tokens, repeats))
        best = max(models, key=lambda name: out[f"hf_decode_tok_s_{name}"])
        out["hf_decode_tok_s"] = out[f"hf_decode_tok_s_{best}"]
        out["decode_speedup_vs_hf"] = out["decode_tok_s"] / out["hf_decode_tok_s"]
        for c in [c for c in concurrency if c <= serial_up_to]:
            progress(f"transformers ({best}): {c} requests one after another")
            s = summarise([hf_serial(models[best], tok, reqs[c]) for _ in range(repeats)])
            out[f"hf_serial_tok_s_c{c}"], out[f"hf_serial_tok_s_c{c}_rounds"] = s["tok_s"], s["rounds_tok_s"]
            out[f"hf_serial_p95_ttft_s_c{c}"] = s["p95_ttft"]
            out[f"hf_serial_p95_latency_s_c{c}"] = s["p95_latency"]
            out[f"throughput_ratio_c{c}"] = out[f"aggregate_tok_s_c{c}"] / s["tok_s"]
            out[f"p95_latency_ratio_c{c}"] = out[f"p95_latency_s_c{c}"] / s["p95_latency"]
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def main(model: Path, **kw) -> None:
    try:
        import transformers  # noqa: F401
        hf = True
    except ImportError:
        hf = False
    print(json.dumps(run(model, hf=hf, **kw), indent=2))
