"""Token streams on disk and random batches drawn from them.

Each document becomes `<s> tokens </s>` and documents are concatenated into one flat
array per split, memory-mapped so a batch is a handful of slices, not a file read.

Split: a document goes to validation when the first 8 bytes of its BLAKE2b digest
(see `clean.document_key`), read as an integer, modulo 10,000 are below
`val_fraction * 10,000`. The split depends only on the document's own text, so it is
the same on every machine and run, whatever the order or the other sources.

Batches are a pure function of (seed, step, micro-step): resuming at step N draws the
same batches an uninterrupted run would, and DDP ranks each take their rows of one
global batch, so 2 processes see exactly what 1 process sees.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .clean import document_key, document_text
from .sources import Chat, Document
from .chat import TEMPLATES, Template
from .tokenizer import Tokenizer

META = "meta.json"


def is_validation(doc: Document, val_fraction: float) -> bool:
    return int.from_bytes(document_key(doc), "big") % 10_000 < val_fraction * 10_000


def encode_document(tok: Tokenizer, doc: Document, template: "Template | None" = None) -> list[int]:
    """One training or evaluation document, ending with EOS once. A chat goes through the
    model's template (ours, `lm`, by default); where a template already closes each turn
    with EOS (ChatML on SmolLM2, zephyr) no second one is added."""
    if isinstance(doc, Chat):
        ids = (template or TEMPLATES["lm"]).encode(tok, doc.messages, add_generation_prompt=False)
    else:
        ids = [*tok.prefix(), *tok.encode(doc)]
    return ids if tok.eos_id in ids else [*ids, tok.eos_id]


def read_meta(data_dir: Path) -> dict:
    path = Path(data_dir) / META
    return json.loads(path.read_text()) if path.exists() else {}


def prepare(docs: list[Document], tok: Tokenizer, out_dir: Path, val_fraction: float = 0.02,
            key: dict | None = None, template: Template | None = None) -> dict:
    """Tokenize and write train.bin / val.bin plus meta.json (token and byte counts).

    `key` says what the files were made from, so a later run can tell if they still fit."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if tok.vocab_size <= 1 << 16 else np.uint32
    splits = {"train": [], "val": []}
    nbytes = {"train": 0, "val": 0}
    for doc in tqdm(docs, desc="tokenize", unit="doc", dynamic_ncols=True, mininterval=0.5):
        split = "val" if is_validation(doc, val_fraction) else "train"
        splits[split].append(np.asarray(encode_document(tok, doc, template), dtype=dtype))
        nbytes[split] += len(document_text(doc).encode("utf-8"))
    meta = {"key": key, "dtype": np.dtype(dtype).name, "vocab_size": tok.vocab_size,
            "val_fraction": val_fraction, "documents": len(docs)}
    (out_dir / META).unlink(missing_ok=True)  # written last: its presence means complete
    for split, arrays in splits.items():
        arr = np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)
        arr.tofile(out_dir / f"{split}.bin")
        meta[split] = {"tokens": int(arr.size), "bytes": nbytes[split], "documents": len(arrays)}
    (out_dir / META).write_text(json.dumps(meta, indent=2))
    return meta


@dataclass
class TokenFile:
    tokens: np.ndarray
    bytes: int

    @classmethod
    def open(cls, data_dir: Path, split: str) -> "TokenFile":
        meta = read_meta(data_dir)
        arr = np.memmap(Path(data_dir) / f"{split}.bin", dtype=meta["dtype"], mode="r")
        return cls(arr, meta[split]["bytes"])

    @property
    def tokens_per_byte(self) -> float:
        """Per-token loss times this gives per-byte loss (bits/byte needs a /ln 2 too)."""
        return len(self.tokens) / max(self.bytes, 1)

    def windows(self, starts: np.ndarray, block: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.stack([self.tokens[s:s + block + 1] for s in starts]).astype(np.int64)
        t = torch.from_numpy(rows)
        return t[:, :-1].contiguous(), t[:, 1:].contiguous()

    def batch(self, seed: int, step: int, micro: int, batch: int, block: int,
              rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows [rank*b, (rank+1)*b) of the global batch for (seed, step, micro)."""
        g = np.random.default_rng([seed, step, micro])
        starts = g.integers(0, len(self.tokens) - block - 1, size=batch)
        per = batch // world
        return self.windows(starts[rank * per:(rank + 1) * per], block)

    def eval_windows(self, block: int, count: int):
        """Evenly spaced fixed windows: the same validation set at every evaluation."""
        last = len(self.tokens) - block - 1
        starts = np.linspace(0, max(last, 0), num=min(count, max(last, 0) + 1)).astype(np.int64)
        return starts
