"""Choosing the next token, and turning a growing list of ids into clean text deltas.

Sampling works on a batch of rows with per-row parameters, so the same code serves a
single `generate` call and a batching engine.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import torch

from .model import Llama


@dataclass
class SamplingParams:
    temperature: float = 0.8      # 0 means greedy
    top_k: int = 0                # 0 disables
    top_p: float = 1.0            # 1 disables
    repetition_penalty: float = 1.0
    max_new_tokens: int = 128
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    ignore_eos: bool = False      # generate exactly max_new_tokens (benchmarks)


def make_generator(seed: int | None, device) -> torch.Generator:
    """A request's own random stream: seeded when asked, otherwise from the global RNG."""
    g = torch.Generator(device=device)
    return g.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """CTRL-style: make tokens already in the context less likely, whatever their sign."""
    if penalty == 1.0 or seen.numel() == 0:
        return logits
    picked = logits.gather(-1, seen)
    picked = torch.where(picked > 0, picked / penalty, picked * penalty)
    return logits.scatter(-1, seen, picked)


def sample_rows(logits: torch.Tensor, params: list[SamplingParams],
                generators: list[torch.Generator | None]) -> torch.Tensor:
    """Logits [B, V] to token ids [B], each row with its own parameters and generator.

    Sampling is argmax(p / q) with q ~ Exponential(1) drawn from the row's own generator
    (the "exponential race", as gpt-fast does): it equals sampling from p, needs no
    host sync, and a seeded request draws the same tokens whatever else is in the batch.
    """
    logits = logits.float()
    out = logits.argmax(-1)
    temps = torch.tensor([p.temperature for p in params], device=logits.device)
    sampled = (temps > 0).nonzero().flatten().tolist()
    if not sampled:
        return out
    rows = logits[sampled] / temps[sampled, None]
    V = rows.shape[-1]
    sorted_logits, order = rows.sort(-1, descending=True)
    k = torch.tensor([params[r].top_k or V for r in sampled], device=rows.device)
    keep = torch.arange(V, device=rows.device)[None, :] < k[:, None]
    probs = torch.softmax(sorted_logits.masked_fill(~keep, float("-inf")), -1)
    top_p = torch.tensor([params[r].top_p for r in sampled], device=rows.device)
    keep &= probs.cumsum(-1) - probs < top_p[:, None]  # the first token is always kept
    noise = torch.stack([torch.empty(V, device=rows.device).exponential_(generator=generators[r])
                         for r in sampled])
    choice = (probs * keep / noise).argmax(-1, keepdim=True)
    out[sampled] = order.gather(-1, choice).squeeze(-1)
    return out


def sample_token(logits: torch.Tensor, p: SamplingParams, generator: torch.Generator | None) -> int:
    """One row of logits [V] to one token id."""
    return int(sample_rows(logits[None], [p], [generator])[0])


class TextStream:
    """Incremental detokenisation that only ever emits whole characters.

    A character outside the vocabulary arrives as several byte-fallback tokens; until the
    last one arrives the decoded tail is U+FFFD, so we hold it back. Text that could be the
    start of a stop string is held back too, so a stop string split across tokens never
    leaks into the output.
    """

    def __init__(self, tokenizer, prefix_ids: list[int], stop: tuple[str, ...] = ()):
        self.tok, self.stop = tokenizer, tuple(s for s in stop if s)
        # Decoding after a few prompt tokens keeps the leading space of the first new piece.
        self.prefix = list(prefix_ids[-4:])
        self.skip = len(tokenizer.decode(self.prefix))
        self.ids: list[int] = []
        self.emitted = 0
        self.stopped = False

    def text(self) -> str:
        return self.tok.decode(self.prefix + self.ids)[self.skip:]

    def push(self, token: int) -> str:
        """Add a token; return the newly safe text (may be empty)."""
        self.ids.append(token)
        text = self.text()
        for s in self.stop:
            at = text.find(s, max(0, self.emitted - len(s)))
            if at != -1:
                self.stopped = True
                return self._emit(text, at)
        safe = len(text)
        # An unfinished character is at most 3 bytes of a 4-byte sequence; replacement
        # characters further back are final (the model emitted invalid bytes).
        while safe > max(self.emitted, len(text) - 3) and text[safe - 1] == "\ufffd":
            safe -= 1
        for s in self.stop:
            for k in range(min(len(s) - 1, safe - self.emitted), 0, -1):
                if text[safe - k:safe] == s[:k]:
                    safe -= k
                    break
        return self._emit(text, safe)

    def finish(self) -> str:
        """Everything left, once generation has ended."""
        return "" if self.stopped else self._emit(self.text(), len(self.text()))

    def _emit(self, text: str, upto: int) -> str:
        delta = text[self.emitted:upto] if upto > self.emitted else ""
        self.emitted = max(self.emitted, upto)
        return delta


@torch.inference_mode()
def generate_ids(model: Llama, prompt: list[int], p: SamplingParams, stop_ids: set[int],
                 autocast_ctx=None, vocab_size: int | None = None) -> Iterator[int]:
    """Yield new token ids one at a time, using the KV cache (prefill once, then 1 token/step).

    `vocab_size` is the tokenizer's: rows of a padded embedding past it are never sampled."""
    if not prompt:
        raise ValueError("generation needs at least one prompt token (start with BOS)")
    ctx = autocast_ctx or contextlib.nullcontext()
    device = model.model.embed_tokens.weight.device
    ctx_len = model.config.max_position_embeddings
    budget = min(p.max_new_tokens, ctx_len - 1)
    prompt = prompt[-(ctx_len - budget):]
    gen = make_generator(p.seed, device)
    cache = model.new_cache(1, len(prompt) + budget)
    seen = torch.tensor(prompt, dtype=torch.long, device=device)
    idx, pos = seen[None], torch.arange(len(prompt), device=device)[None]
    for _ in range(budget):
        with ctx:
            logits = model(idx, positions=pos, cache=cache, last_only=True)[0, -1]
        logits = apply_repetition_penalty(logits[:vocab_size], seen.unique(), p.repetition_penalty)
        token = sample_token(logits, p, gen)
        if token in stop_ids:
            return
        yield token
        seen = torch.cat([seen, seen.new_tensor([token])])
        idx, pos = seen.new_tensor([[token]]), pos[:, -1:] + 1


def generate_text(model: Llama, tok, prompt: list[int], p: SamplingParams, stop_ids: set[int],
                  autocast_ctx=None) -> Iterator[str]:
    """The new text, as it becomes safe to show (``TextStream``), until a stop id or string."""
    stream = TextStream(tok, prompt, p.stop)
    for token in generate_ids(model, prompt, p, stop_ids, autocast_ctx, tok.vocab_size):
        yield stream.push(token)
        if stream.stopped:
            return
    yield stream.finish()
