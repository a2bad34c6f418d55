"""Peak resident memory while loading a checkpoint, against the checkpoint's size.

Writes a random ~500 MB fp32 checkpoint (a random Llama through save_model), then loads it
once as fp32 and once as bf16, each in a fresh process so that building it is not counted.
The child touches every weight after loading: a zero-copy load maps the file and reads
nothing until then, and the honest number is the one with the weights resident. Peak RSS is
the kernel's high-water mark VmHWM, not ru_maxrss: Linux carries ru_maxrss across execve, so
a child started by the parent that built the checkpoint would report the parent's peak. The
baseline is the peak after importing torch and the loader, and the ratio is
(peak - baseline) / checkpoint bytes. The issue's bound is 1.3.

    python -m bench.load_rss           # about a minute; prints one JSON object
    python -m bench.load_rss --mb 100  # smaller
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from lm.model import Llama, ModelConfig

LIMIT = 1.3


def random_checkpoint(cfg: ModelConfig, folder: Path, dtype: torch.dtype) -> int:
    """Save a random model of shape `cfg` in `dtype` with its weights allocated once: built
    on the meta device, given storage in the final dtype, initialised in place, and written
    straight from that storage. Returns the weight bytes on disk."""
    from lm.checkpoint import WEIGHTS, save_model
    from lm.clean import document_text, load_corpus
    from lm.tokenizer import train_tokenizer
    with torch.device("meta"):
        model = Llama(cfg)
    model = model.to(dtype).to_empty(device="cpu")
    model.init_weights()
    tok = train_tokenizer((document_text(d) for d in load_corpus(["chitchat"], limit=200)),
                          512, folder.parent / "tok" / "tokenizer.model")
    save_model(model, tok, folder)
    return (folder / WEIGHTS).stat().st_size


def shape_for(mb: float) -> ModelConfig:
    """A 32k-vocabulary, 768-wide model with as many 6.3M-parameter layers as fit `mb` in fp32."""
    layer = 768 * 768 * 2 + 768 * 256 * 2 + 3 * 768 * 2048
    layers = max(1, round((mb * 1e6 / 4 - 2 * 32000 * 768) / layer))
    return ModelConfig(vocab_size=32000, hidden_size=768, intermediate_size=2048,
                       num_hidden_layers=layers, num_attention_heads=12, num_key_value_heads=4,
                       max_position_embeddings=2048, tie_word_embeddings=False)


def child(folder: str, dtype: str) -> None:
    from lm.checkpoint import load_model

    def peak() -> int:
        status = Path("/proc/self/status").read_text()
        return int(status.split("VmHWM:")[1].split()[0]) * 1024

    baseline = peak()
    t = time.perf_counter()
    model = load_model(Path(folder), dtype=getattr(torch, dtype))
    load_s = time.perf_counter() - t
    after_load = peak()
    with torch.no_grad():
        for p in model.parameters():
            p.sum()  # fault in every page of every weight
    print(json.dumps({"baseline_bytes": baseline, "after_load_bytes": after_load,
                      "peak_bytes": peak(), "load_s": round(load_s, 3)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=500)
    ap.add_argument("--child", nargs=2, metavar=("FOLDER", "DTYPE"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(*a.child)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        torch.manual_seed(0)
        size = random_checkpoint(shape_for(a.mb), folder, torch.float32)
        result = {"checkpoint_bytes": size, "checkpoint_dtype": "float32", "limit_ratio": LIMIT}
        for dtype in ("float32", "bfloat16"):
            out = subprocess.run([sys.executable, "-m", "bench.load_rss", "--child", str(folder), dtype],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout)
            net = r["peak_bytes"] - r["baseline_bytes"]
            result[dtype] = r | {"net_peak_bytes": net, "ratio": round(net / size, 3),
                                 "within_limit": net <= LIMIT * size}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
