"""`python -m lm bench --model DIR`: serving measurements for any checkpoint.

Everything is measured in one process, side by side with Hugging Face `generate` on the
same weights when transformers is installed:

- batch-1 decode tokens/s at a forced output length, in fp32 and each side's fastest
  precision (ours: int8 weights where the CPU has native bf16, see lm/quant.py; HF: the
  faster of fp32 and bf16);
- concurrent serving (1, 4, 16, 64 requests of mixed prompt and output lengths): aggregate
  tokens/s and p50/p95 time-to-first-token and latency, against HF serving the same
  requests one after another;
- each figure as the median of `repeats` rounds (3 by default), ours and HF's alike:
  single runs on a shared 2-core machine vary by about +-20%;
- asyncio loop lag p99 while the engine is saturated;
- weight bytes/s at batch 1 as a fraction of measured memory bandwidth.
"""
from __future__ import annotations

import asyncio
import json
import math
import random
import time
from pathlib import Path

import torch

from .checkpoint import TOKENIZER, load_for_inference, load_model
from .engine import Engine, Request
from .model import Llama
from .sample import SamplingParams
from .tokenizer import Tokenizer



def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, math.ceil(q / 100 * len(xs)) - 1))]


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


def workload(n: int, seed: int = 0, context: int = 1024) -> list[tuple[int, int]]:
    """(prompt tokens, output tokens) pairs: prompts 16-400 and outputs 16-128, both
    capped so that they fit a smaller context."""
    rnd = random.Random(seed)
    max_out = min(128, context // 4)
    max_prompt = min(400, context - max_out - 1)
    return [(rnd.randint(min(16, max_prompt), max_prompt), rnd.randint(min(16, max_out), max_out))
            for _ in range(n)]


def prompt_text(tok: Tokenizer, n_tokens: int, seed: int) -> str:
    """Text that encodes to about n_tokens: random ordinary pieces, decoded."""
    rnd = random.Random(seed)
    ordinary = [i for i in range(tok.vocab_size) if not (tok.sp.is_control(i) or tok.sp.is_byte(i)
                                                        or tok.sp.is_unknown(i))]
    ids = [rnd.choice(ordinary) for _ in range(n_tokens)]
    return tok.decode(ids)


def forced(n: int) -> SamplingParams:
    return SamplingParams(temperature=0, max_new_tokens=n, ignore_eos=True)


async def engine_decode_tok_s(model, tok, new_tokens: int, repeats: int) -> list[float]:
    eng = Engine(model, tok, slots=1, threads=torch.get_num_threads()).start()
    try:
        await eng.complete(Request(prompt="warm up", params=forced(8)))
        rates = []
        for _ in range(repeats):
            r = await eng.complete(Request(prompt=prompt_text(tok, 16, 1), params=forced(new_tokens)))
            rates.append((r.completion_tokens - 1) / (r.latency_s - r.ttft_s))
        return rates
    finally:
        await eng.close()


async def engine_serving(model, tok, jobs: list[tuple[int, int]], slots: int, repeats: int) -> list[dict]:
    """`repeats` rounds of the same requests, all arriving at once, on one engine."""
    eng = Engine(model, tok, slots=slots, max_queue=len(jobs), threads=torch.get_num_threads()).start()
    reqs = [Request(prompt=prompt_text(tok, p, i), params=forced(o)) for i, (p, o) in enumerate(jobs)]
    rounds = []
    try:
        await eng.complete(Request(prompt="warm up", params=forced(4)))
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
    finally:
        await eng.close()
    return rounds


def hf_model(folder: Path, dtype: torch.dtype):
    import transformers
    return transformers.LlamaForCausalLM.from_pretrained(folder, dtype=dtype).eval()


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
    ids = [tok.bos_id, *tok.encode(prompt_text(tok, 16, 1))]
    hf_generate(hf, ids, 8)
    rates = []
    for _ in range(repeats):
        s = _FirstToken()
        hf_generate(hf, ids, new_tokens, s)
        rates.append((new_tokens - 1) / (time.perf_counter() - s.first))
    return rates


def hf_serial(hf, tok: Tokenizer, jobs: list[tuple[int, int]]) -> dict:
    """The same requests, all arriving at t0, served one after another."""
    prompts = [[tok.bos_id, *tok.encode(prompt_text(tok, p, i))] for i, (p, _) in enumerate(jobs)]
    ttft, latency, tokens = [], [], 0
    t0 = time.perf_counter()
    for ids, (_, n) in zip(prompts, jobs):
        s = _FirstToken()
        hf_generate(hf, ids, n, s)
        now = time.perf_counter()
        ttft.append(s.first - t0)
        latency.append(now - t0)
        tokens += n
    return {"tok_s": tokens / (time.perf_counter() - t0), "ttft": ttft, "latency": latency}


def median(xs: list[float]) -> float:
    return percentile(xs, 50)


def summarise(rounds: list[dict]) -> dict:
    """Each measure as its median over rounds (single runs here vary by +-20%)."""
    return {"tok_s": median([r["tok_s"] for r in rounds]),
            "p50_ttft": median([percentile(r["ttft"], 50) for r in rounds]),
            "p95_ttft": median([percentile(r["ttft"], 95) for r in rounds]),
            "p50_latency": median([percentile(r["latency"], 50) for r in rounds]),
            "p95_latency": median([percentile(r["latency"], 95) for r in rounds]),
            "rounds_tok_s": [round(r["tok_s"], 1) for r in rounds]}


def run(folder: Path, concurrency=(1, 4, 16, 64), new_tokens: int = 128, threads: int | None = None,
        hf: bool = True, serial_up_to: int = 16, repeats: int = 3) -> dict:
    """Every figure is the median of `repeats` rounds, ours and HF's alike."""
    if threads:
        torch.set_num_threads(threads)
    folder = Path(folder)
    tok = Tokenizer(folder / TOKENIZER)
    fast, mode = load_for_inference(folder, "cpu", "auto")
    ours = {"fp32": load_model(folder), "fast": fast}
    ctx = ours["fp32"].config.max_position_embeddings
    out: dict = {"model": str(folder), "params": ours["fp32"].num_params(), "threads": torch.get_num_threads(),
                 "fast_precision": mode, "context": ctx, "repeats": repeats}
    out["decode_tok_s_fp32"] = median(asyncio.run(engine_decode_tok_s(ours["fp32"], tok, new_tokens, repeats)))
    out[f"decode_tok_s_{mode}"] = median(asyncio.run(engine_decode_tok_s(ours["fast"], tok, new_tokens, repeats)))
    best = "fast" if out[f"decode_tok_s_{mode}"] > out["decode_tok_s_fp32"] else "fp32"
    out["decode_tok_s"] = max(out["decode_tok_s_fp32"], out[f"decode_tok_s_{mode}"])
    out["serving_precision"] = mode if best == "fast" else "fp32"
    bw = memory_bandwidth()
    out["memory_bandwidth_gb_s"] = bw / 1e9
    out["weight_bytes"] = weight_bytes(ours[best])
    out["bandwidth_fraction"] = out["weight_bytes"] * out["decode_tok_s"] / bw
    if hf:
        models = {"fp32": hf_model(folder, torch.float32), "bf16": hf_model(folder, torch.bfloat16)}
        out["hf_decode_tok_s_fp32"] = median(hf_decode_tok_s(models["fp32"], tok, new_tokens, repeats))
        out["hf_decode_tok_s_bf16"] = median(hf_decode_tok_s(models["bf16"], tok, new_tokens, repeats))
        out["hf_decode_tok_s"] = max(out["hf_decode_tok_s_fp32"], out["hf_decode_tok_s_bf16"])
        out["decode_speedup_vs_hf"] = out["decode_tok_s"] / out["hf_decode_tok_s"]
        hf_best = models["fp32" if out["hf_decode_tok_s_fp32"] >= out["hf_decode_tok_s_bf16"] else "bf16"]
    lags = []
    for c in concurrency:
        jobs = workload(c, seed=c, context=ctx)
        rounds = asyncio.run(engine_serving(ours[best], tok, jobs, min(c, 64), repeats))
        lags += [x for r in rounds for x in r["loop_lag_ms"]]
        r = summarise(rounds)
        out[f"aggregate_tok_s_c{c}"], out[f"aggregate_tok_s_c{c}_rounds"] = r["tok_s"], r["rounds_tok_s"]
        out[f"p50_ttft_s_c{c}"], out[f"p95_ttft_s_c{c}"] = r["p50_ttft"], r["p95_ttft"]
        out[f"p50_latency_s_c{c}"], out[f"p95_latency_s_c{c}"] = r["p50_latency"], r["p95_latency"]
        if hf and c <= serial_up_to:
            s = summarise([hf_serial(hf_best, tok, jobs) for _ in range(repeats)])
            out[f"hf_serial_tok_s_c{c}"], out[f"hf_serial_tok_s_c{c}_rounds"] = s["tok_s"], s["rounds_tok_s"]
            out[f"hf_serial_p95_ttft_s_c{c}"] = s["p95_ttft"]
            out[f"hf_serial_p95_latency_s_c{c}"] = s["p95_latency"]
            out[f"throughput_ratio_c{c}"] = r["tok_s"] / s["tok_s"]
            out[f"p95_latency_ratio_c{c}"] = r["p95_latency"] / s["p95_latency"]
    out["loop_lag_p99_ms"] = percentile(lags, 99)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def main(model: Path, **kw) -> None:
    try:
        import transformers  # noqa: F401
        hf = True
    except ImportError:
        hf = False
    print(json.dumps(run(model, hf=hf, **kw), indent=2))
