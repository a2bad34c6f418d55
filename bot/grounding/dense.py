"""Meaning, not only words: a dense similarity between a question and an entry.

Lexical coverage misses a question that says the same thing in other words ("can I order
from NZ" and "Do you ship internationally?"). WordLlama's bundled model (token embeddings
distilled from a Llama model's, 256 dimensions, 16 MB inside its wheel) gives each text the
average of its token vectors; the cosine of two such vectors is the similarity. It runs in
numpy in well under a millisecond per text, so every candidate entry can be compared.

Measured on the question sets in ``bench/data`` (README, "Grounded answers"): ranking by
coverage plus this similarity puts the right entry first more often, and separates
answerable from unanswerable questions better on the held-out shop than coverage alone.

The wheel holds the model, but ``WordLlama.load`` looks for the tokenizer under a folder
name the wheel does not use and then tries to download it; nothing may download at run
time, so the two files are read from the package here, through the library's own loaders.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

MODEL = "l2_supercat"
DIM = 256


@functools.cache
def _model():
    import wordllama
    from safetensors import safe_open
    from wordllama import WordLlama
    from wordllama.inference import WordLlamaInference

    root = Path(wordllama.__file__).parent
    tokenizer = WordLlama.load_tokenizer(root / "tokenizers" / f"{MODEL}_tokenizer_config.json")
    with safe_open(str(root / "weights" / f"{MODEL}_{DIM}.safetensors"), framework="np") as f:
        embedding = f.get_tensor("embedding.weight")
    return WordLlamaInference(embedding, tokenizer)


def embed(texts: list[str]) -> np.ndarray:
    """Unit vectors, one row per text (an empty text gets a zero row)."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):  # an empty text's norm is 0
        vectors = np.asarray(_model().embed(texts, norm=True), dtype=np.float32)
    return np.nan_to_num(vectors)
