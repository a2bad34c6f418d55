"""Continuous batching: the loop the engine's worker process runs (no asyncio here).

The scheduler owns a fixed-slot KV cache [slots + 1, kv_heads, length, head_dim] with a
position per slot. Each step it (1) drops cancelled and expired requests, (2) reads up
to `prefill_chunk` prompt tokens, over one or more prompts, in the spare row, and (3)
decodes one token for every generating request, all rows in one batch, each at its own
position and with its own sampling parameters. A request whose prompt is read joins the
decode batch at the next step; one that finishes, is cancelled or passes its deadline
frees its slot at once (Orca/vLLM-style scheduling, without paging).

Generating requests always occupy rows 0..n-1: when one leaves, the last one's cache row
moves into the hole. The decode batch is then a plain view of the cache, never a gather,
which on CPU is the difference between copying every slot's keys each step and not.

What happens to a request is reported through `emit(job_id, kind, payload)`:
("delta", text) as text is generated, ("error", exception) when it fails alone, and
("end", Ending) exactly once per submitted request.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import torch

from .chat import Template
from .model import Llama
from .sample import SamplingParams, TextStream, apply_repetition_penalty, make_generator, sample_rows
from .tokenizer import Tokenizer

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """This request cannot be served as asked; it fails alone, the batch goes on."""


class PromptTooLong(BadRequest):
    """The prompt leaves no room to answer in the model's context; the caller must budget."""


@dataclass
class Ending:
    """How a request ended, as the engine reports it to its caller."""
    finish_reason: str              # stop | length | deadline | cancelled | error
    prompt_tokens: int
    completion_tokens: int
    first_token_at: float | None    # time.monotonic() (one clock for the whole machine)


class Job:
    """One request inside the scheduler."""

    def __init__(self, job_id: int, prompt: str | None, messages, params: SamplingParams,
                 deadline: float | None, device):
        self.id, self.text_prompt, self.messages, self.p = job_id, prompt, messages, params
        self.deadline = deadline
        self.generator = make_generator(params.seed, device)
        self.prompt: list[int] = []
        self.pos = 0                  # tokens already in the cache
        self.last: int | None = None  # sampled token not yet in the cache
        self.generated = 0
        self.seen: set[int] = set()
        self.stream: TextStream | None = None
        self.first_token_at: float | None = None
        self.cancelled = False


Emit = Callable[[int, str, object], None]


class Scheduler:
    def __init__(self, model: Llama, tokenizer: Tokenizer, emit: Emit, *, slots: int, max_len: int,
                 prefill_chunk: int, template: Template | None, kv_dtype: torch.dtype):
        self.model, self.tok, self.emit = model.eval(), tokenizer, emit
        self.template, self.slots, self.max_len = template, slots, max_len
        self.prefill_chunk = prefill_chunk
        self.device = model.model.embed_tokens.weight.device
        # The template's end-of-turn tokens, and any of our role tags, end a reply.
        self.stop_ids = set(model.config.eos_ids) | set(tokenizer.roles.values()) | \
            (template.stop_ids(tokenizer) if template else set())
        self.vocab = tokenizer.vocab_size  # rows past it are vocabulary padding, never text
        self.cache = model.new_cache(slots + 1, max_len, kv_dtype)
        self.waiting: deque[Job] = deque()
        self.decoding: list[Job] = []      # job i uses cache row i
        self.prefilling: Job | None = None  # uses cache row `slots`
        self.jobs: dict[int, Job] = {}

    @property
    def idle(self) -> bool:
        return not self.jobs

    def submit(self, job: Job) -> None:
        self.jobs[job.id] = job
        self.waiting.append(job)

    def cancel(self, job_id: int) -> None:
        if job_id in self.jobs:
            self.jobs[job_id].cancelled = True

    def cancel_all(self) -> None:
        for job in list(self.jobs.values()):
            job.cancelled = True
        self.step()

    def running(self) -> list[Job]:
        return self.decoding + ([self.prefilling] if self.prefilling else [])

    def step(self) -> None:
        now = time.monotonic()
        for job in [*self.waiting, *self.running()]:
            if job.cancelled:
                self._finish(job, "cancelled")
            elif job.deadline is not None and now > job.deadline:
                self._finish(job, "deadline")
        try:
            budget = self.prefill_chunk  # prompt tokens read per step, over one or more prompts
            while budget > 0:
                if self.prefilling is None:
                    if not self.waiting or len(self.decoding) >= self.slots:
                        break
                    self.prefilling = self.waiting.popleft()
                budget -= self._prefill(self.prefilling, budget)
            if self.decoding:
                self._decode(self.decoding)
        except Exception as e:  # a model failure fails the requests in flight, not the engine
            log.exception("engine step failed; failing %d requests", len(self.running()))
            for job in self.running():
                self.emit(job.id, "error", e)
                self._finish(job, "error")

    def _encode(self, job: Job) -> None:
        tok, stop = self.tok, tuple(job.p.stop)
        if job.messages is not None:
            if self.template is None:
                raise BadRequest("this model has no chat template; pass template= "
                                 "(lm, zephyr, llama2 or chatml)")
            ids = self.template.encode(tok, job.messages)
            stop += self.template.stop_strings
        else:
            ids = [*tok.prefix(), *tok.encode(job.text_prompt or "")]
            if not ids:
                raise BadRequest("an empty prompt, and this model adds no BOS: give some text")
        if len(ids) >= self.max_len:
            raise PromptTooLong(f"prompt of {len(ids)} tokens leaves no room to answer in a "
                                f"{self.max_len}-token context")
        job.prompt = ids
        job.seen = set(job.prompt)
        job.stream = TextStream(tok, job.prompt, stop)

    def _prefill(self, job: Job, budget: int) -> int:
        """Read up to `budget` tokens of one prompt; return how many. Long prompts take
        several steps, interleaved with decoding; short ones leave budget for the next."""
        if job.stream is None:
            try:
                self._encode(job)
            except Exception as e:  # noqa: BLE001 - reading this prompt failed: its problem alone
                self.emit(job.id, "error", e)
                self._finish(job, "error")
                return 1
        chunk = job.prompt[job.pos:job.pos + budget]
        idx = torch.tensor([chunk], device=self.device)
        pos = torch.arange(job.pos, job.pos + len(chunk), device=self.device)[None]
        logits = self.model(idx, positions=pos, cache=self.cache, last_only=True, first_row=self.slots)
        job.pos += len(chunk)
        if job.pos < len(job.prompt):
            return len(chunk)
        row = len(self.decoding)
        for layer in self.cache:
            layer.move_row(self.slots, row, job.pos)
        self.prefilling = None
        self.decoding.append(job)
        self._accept([job], self._sample([job], logits[:, -1]))
        return len(chunk)

    def _decode(self, jobs: list[Job]) -> None:
        jobs = list(jobs)
        idx = torch.tensor([[j.last] for j in jobs], device=self.device)
        pos = torch.tensor([[j.pos] for j in jobs], device=self.device)
        logits = self.model(idx, positions=pos, cache=self.cache)
        for j in jobs:
            j.pos += 1
        self._accept(jobs, self._sample(jobs, logits[:, -1]))

    def _sample(self, jobs: list[Job], logits: torch.Tensor) -> list[int]:
        logits = logits.float()
        for r, j in enumerate(jobs):
            if j.p.repetition_penalty != 1.0:
                seen = torch.tensor(sorted(j.seen), device=logits.device)
                logits[r] = apply_repetition_penalty(logits[r], seen, j.p.repetition_penalty)
        logits = logits[:, :self.vocab]
        return sample_rows(logits, [j.p for j in jobs], [j.generator for j in jobs]).tolist()

    def _accept(self, jobs: list[Job], tokens: list[int]) -> None:
        now = time.monotonic()
        for j, token in zip(jobs, tokens):
            if j.first_token_at is None:
                j.first_token_at = now
            if token in self.stop_ids and not j.p.ignore_eos:
                self._finish(j, "stop")
                continue
            j.generated += 1
            j.seen.add(token)
            j.last = token
            delta = j.stream.push(token)
            if delta:
                self.emit(j.id, "delta", delta)
            if j.stream.stopped:
                self._finish(j, "stop")
            elif j.generated >= j.p.max_new_tokens or j.pos + 1 >= self.max_len:
                self._finish(j, "length")

    def _finish(self, job: Job, reason: str) -> None:
        try:
            self._release(job, reason)
        finally:  # whatever happened, the caller hears exactly one end
            self.jobs.pop(job.id, None)
            self.emit(job.id, "end", Ending(reason, len(job.prompt), job.generated, job.first_token_at))

    def _release(self, job: Job, reason: str) -> None:
        if reason in ("stop", "length") and job.stream is not None:
            tail = job.stream.finish()
            if tail:
                self.emit(job.id, "delta", tail)
        if job is self.prefilling:
            self.prefilling = None
        elif job in self.decoding:
            i, last = self.decoding.index(job), self.decoding[-1]
            if last is not job:  # keep generating rows contiguous: the last row fills the hole
                for layer in self.cache:
                    layer.move_row(len(self.decoding) - 1, i, last.pos)
                self.decoding[i] = last
            self.decoding.pop()
            self._trim_cache()
        else:
            self.waiting.remove(job)

    def _trim_cache(self) -> None:
        """Give back cache length once the live rows need at most half of it: attention
        reads the whole length every step, so a long answer that finished must not keep
        every later step reading its room."""
        live = max((j.pos + 1 for j in self.running()), default=1)
        if live <= self.cache[0].length // 2:
            for layer in self.cache:
                layer.fit(live, shrink=True)
