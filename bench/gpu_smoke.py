"""GPU smoke check: a TinyLlama-1.1B-shaped random checkpoint, loaded bf16 on CUDA, generating.

Writes a random bf16 checkpoint with TinyLlama-1.1B's shape (22 layers, 2048 wide, 32 heads,
4 KV heads, 5632 MLP, 32k vocabulary; weights allocated once, see
bench.load_rss.random_checkpoint), loads it through `load_model` and generates greedily
through `generate_ids`, the path `python -m lm generate` uses. Prints one JSON object:
load seconds, prefill ms (prompt to first token), decode tok/s, and the weight bandwidth
decode achieved: weight bytes x tok/s, the roofline for batch-1 decode (all weights count,
as gpt-fast counts them, although decode reads one row of the embedding table).

Without CUDA it runs a scaled-down shape on CPU, in the dtype the CPU computes fastest, and
says so with "scaled_down": true. A few minutes at most either way.

    python -m bench.gpu_smoke
    python -m bench.gpu_smoke --prompt-tokens 128 --new-tokens 64
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from bench.load_rss import random_checkpoint
from lm.checkpoint import load_model
from lm.device import pick_dtype
from lm.model import ModelConfig
from lm.sample import SamplingParams, generate_ids

TINYLLAMA = ModelConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                        num_hidden_layers=22, num_attention_heads=32, num_key_value_heads=4,
                        max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False)
# Same vocabulary and 8:1 grouped-query ratio, a tenth of the layer weights.
SCALED = ModelConfig(vocab_size=32000, hidden_size=1024, intermediate_size=2816,
                     num_hidden_layers=4, num_attention_heads=16, num_key_value_heads=2,
                     max_position_embeddings=2048, rms_norm_eps=1e-5, tie_word_embeddings=False)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompt-tokens", type=int, help="default 512 on CUDA, 128 on CPU")
    ap.add_argument("--new-tokens", type=int, help="default 256 on CUDA, 32 on CPU")
    a = ap.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    cfg, dtype = (TINYLLAMA, torch.bfloat16) if cuda else (SCALED, pick_dtype(device, "auto"))
    prompt_tokens = a.prompt_tokens or (512 if cuda else 128)
    new_tokens = a.new_tokens or (256 if cuda else 32)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        torch.manual_seed(0)
        t = time.perf_counter()
        size = random_checkpoint(cfg, folder, torch.bfloat16)  # TinyLlama ships bf16
        build_s = time.perf_counter() - t
        sync(device)
        t = time.perf_counter()
        model = load_model(folder, device=device, dtype=dtype)
        sync(device)
        load_s = time.perf_counter() - t
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    prompt = torch.randint(3, cfg.vocab_size, (prompt_tokens,)).tolist()
    greedy = SamplingParams(temperature=0, max_new_tokens=new_tokens)
    list(generate_ids(model, prompt[:16], SamplingParams(temperature=0, max_new_tokens=4), set()))  # warm-up
    sync(device)
    t = time.perf_counter()
    tokens = generate_ids(model, prompt, greedy, set())
    next(tokens)  # sampling reads the token on the host, so this waits for the prefill
    first = time.perf_counter()
    decoded = sum(1 for _ in tokens)
    done = time.perf_counter()
    tok_s = decoded / (done - first)
    print(json.dumps({
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "scaled_down": not cuda,
        "shape": {k: getattr(cfg, k) for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                               "num_key_value_heads", "intermediate_size", "vocab_size")},
        "parameters": model.num_params(),
        "dtype": str(dtype).removeprefix("torch."),
        "checkpoint_bytes": size,
        "build_s": round(build_s, 2),
        "load_s": round(load_s, 3),
        "prompt_tokens": prompt_tokens,
        "prefill_ms": round((first - t) * 1000, 1),
        "decode_tokens": decoded,
        "decode_tok_s": round(tok_s, 1),
        "weight_bytes": weight_bytes,
        "weight_bandwidth_gb_s": round(weight_bytes * tok_s / 1e9, 1),
        "peak_gpu_bytes": torch.cuda.max_memory_allocated() if cuda else None,
    }))


if __name__ == "__main__":
    main()
