"""`python -m lm eval`: how well a model predicts some text, in units that compare across tokenizers.

nats/token depends on the tokenizer (a bigger vocabulary means fewer, harder tokens);
bits per UTF-8 byte does not, so it is the number to compare two models by.
Each document is scored as `<s> text </s>`: the model must also predict where it ends.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .chat import folder_template
from .checkpoint import load_model
from .clean import document_text
from .data import encode_document
from .device import autocast, pick_device, pick_dtype
from .model import Llama
from .sources import Document
from .tokenizer import Tokenizer, load_tokenizer


@torch.inference_mode()
def evaluate(model: Llama, tok: Tokenizer, docs: list[Document], device: torch.device,
             dtype: torch.dtype, batch_size: int = 8, kv_dtype: torch.dtype | None = None,
             template=None, context: int | None = None) -> dict:
    """Score the concatenated documents in non-overlapping context-sized windows.

    Chats go through `template` (lm/data.py's encode_document). `context` scores in
    shorter windows than the model's own (SmolLM2 allows 8,192 tokens; a CPU need not).
    With `kv_dtype`, keys and values pass through a KV cache of that dtype first, as they
    do when the engine serves (its bf16 cache rounds them): the score then includes that."""
    stream: list[int] = []
    nbytes = 0
    for doc in docs:
        stream += encode_document(tok, doc, template)
        nbytes += len(document_text(doc).encode("utf-8"))
    block = min(context or model.config.max_position_embeddings, model.config.max_position_embeddings)
    windows = [stream[i:i + block + 1] for i in range(0, len(stream) - 1, block)]
    total_nats, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        group = windows[i:i + batch_size]
        width = max(len(w) for w in group)
        rows = torch.full((len(group), width), -1, dtype=torch.long)
        for r, w in enumerate(group):
            rows[r, :len(w)] = torch.tensor(w)
        x, y = rows[:, :-1].clamp(min=0).to(device), rows[:, 1:].to(device)
        cache = positions = None
        if kv_dtype is not None:
            cache = model.new_cache(len(group), width, kv_dtype)
            positions = torch.arange(x.shape[1], device=device).expand_as(x)
        with autocast(device, dtype):
            _, loss = model(x, y, positions=positions, cache=cache)  # mean over non-padding targets
        n = int((y != -1).sum())
        total_nats += loss.item() * n
        count += n
    loss = total_nats / count
    return {"loss": loss, "tokens": count, "bytes": nbytes,
            "bits_per_byte": total_nats / math.log(2) / nbytes, "perplexity": math.exp(loss)}


def evaluate_folder(folder: Path, docs: list[Document], *, device: str = "auto",
                    precision: str = "auto", context: int | None = None) -> dict:
    """`evaluate` the model in a folder, through its own tokenizer and chat template."""
    dev = pick_device(device)
    return evaluate(load_model(folder, device=dev), load_tokenizer(folder), docs, dev,
                    pick_dtype(dev, precision), template=folder_template(folder), context=context)
