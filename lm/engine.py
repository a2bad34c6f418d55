"""The in-process inference engine: one model shared by every request, batched continuously.

Requests arrive from asyncio code (`await engine.complete(req)`, `async for delta in
engine.stream(req)`); the model runs in one worker thread so the event loop never waits
on a matrix multiply. The worker owns a fixed-slot KV cache [slots + 1, kv_heads, max_len,
head_dim] with a position per slot. Each step it (1) drops cancelled and expired requests,
(2) runs one prefill chunk of the request reading its prompt (in the spare row), and
(3) decodes one token for every generating request, all rows in one batch, each at its
own position. A request whose prompt is read joins the decode batch at the next step; one
that finishes, is cancelled or passes its deadline frees its slot at once (Orca/vLLM-style
scheduling, without paging).

Generating requests always occupy rows 0..n-1: when one leaves, the last one's cache row
moves into the hole. The decode batch is then a plain view of the cache, never a gather,
which on CPU is the difference between copying every slot's keys each step and not.

Admission is bounded: past `slots + max_queue` requests, `Busy` is raised at once rather
than queueing without limit.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Sequence

import torch

from .model import Llama
from .sample import SamplingParams, TextStream, apply_repetition_penalty, make_generator, sample_rows
from .chat import TEMPLATES, Template, template_for, template_name
from .errors import LMError
from .tokenizer import Tokenizer


class Busy(Exception):
    """The engine is at capacity; the caller should answer politely and try later."""


class DeadlineExceeded(Exception):
    """The request's deadline passed before it finished."""


class EngineClosed(Exception):
    pass


class BadRequest(ValueError):
    """This request cannot be served as asked; it fails alone, the batch goes on."""


class PromptTooLong(BadRequest):
    """The prompt leaves no room to answer in the model's context; the caller must budget."""


@dataclass
class Request:
    prompt: str | None = None                          # plain continuation, or...
    messages: Sequence[tuple[str, str]] | None = None  # ...chat turns (role, content)
    params: SamplingParams = field(default_factory=SamplingParams)
    timeout_s: float | None = None                     # deadline, counted from submission


@dataclass
class Completion:
    text: str
    finish_reason: str          # stop | length | deadline | cancelled
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None        # submission to first token
    latency_s: float


_END = object()
log = logging.getLogger(__name__)


class _Job:
    """One request inside the engine. Fields are touched by the worker thread only,
    except `cancelled`, which the loop sets and the worker reads."""

    def __init__(self, req: Request, loop: asyncio.AbstractEventLoop, device):
        self.req, self.p, self.loop = req, req.params, loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.submitted = time.monotonic()
        self.deadline = self.submitted + req.timeout_s if req.timeout_s else None
        self.generator = make_generator(self.p.seed, device)
        self.prompt: list[int] = []
        self.pos = 0                # tokens already in the cache
        self.last: int | None = None  # sampled token not yet in the cache
        self.generated = 0
        self.seen: set[int] = set()
        self.stream: TextStream | None = None
        self.text: list[str] = []
        self.first_token_at: float | None = None
        self.cancelled = False
        self.finish_reason: str | None = None

    def deliver(self, item) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the caller's loop is gone; nobody is listening
            self.cancelled = True


class Engine:
    def __init__(self, model: Llama, tokenizer: Tokenizer, *, slots: int = 16, max_queue: int = 64,
                 max_len: int | None = None, prefill_chunk: int = 256, threads: int | None = None,
                 template: Template | None = None):
        self.model, self.tok = model.eval(), tokenizer
        # How chat requests become tokens; our own role tags unless the folder says otherwise.
        self.template = template or (TEMPLATES["lm"] if tokenizer.has_role_tags else None)
        self.device = model.model.embed_tokens.weight.device
        self.slots = slots
        self.max_len = min(max_len or model.config.max_position_embeddings,
                           model.config.max_position_embeddings)
        self.capacity = slots + max_queue
        self.prefill_chunk = prefill_chunk
        if threads is None and self.device.type == "cpu":
            # Measured on 2 cores: intra-op threads in a non-main thread cost more than
            # they give at small batches (batch-1 decode 237 vs 153 tok/s with 1 vs 2).
            threads = max(1, (os.cpu_count() or 2) // 2)
        self.threads = threads
        # The template's end-of-turn tokens, and any of our role tags, end a reply.
        self.stop_ids = set(model.config.eos_ids) | set(tokenizer.roles.values()) | \
            (self.template.stop_ids(tokenizer) if self.template else set())
        self.vocab = tokenizer.vocab_size  # rows past it are vocabulary padding, never text
        self.requests = self.tokens_generated = 0
        self._lock = threading.Condition()
        self._waiting: deque[_Job] = deque()
        self._decoding: list[_Job] = []      # job i uses cache row i
        self._prefilling: _Job | None = None  # uses cache row `slots`
        self._closing = False
        self._thread: threading.Thread | None = None
        self.cache = None

    @classmethod
    def from_dir(cls, folder: Path, device: str = "auto", precision: str = "auto",
                 template: str | None = None, **kw) -> "Engine":
        """`template` overrides the chat template the folder asks for (see lm/chat.py)."""
        from .checkpoint import TOKENIZER, load_for_inference
        model, _ = load_for_inference(folder, device, precision)
        tok = Tokenizer(Path(folder) / TOKENIZER)
        chat = template_for(folder, template) if template or template_name(folder) else None
        return cls(model, tok, template=chat, **kw)

    # -- the asyncio side -------------------------------------------------------------

    def start(self) -> "Engine":
        if self._thread is None:
            self.cache = self.model.new_cache(self.slots + 1, self.max_len)
            self._thread = threading.Thread(target=self._run, name="lm-engine", daemon=True)
            self._thread.start()
        return self

    @property
    def load(self) -> int:
        return len(self._waiting) + len(self._decoding) + (self._prefilling is not None)

    def _submit(self, req: Request) -> _Job:
        job = _Job(req, asyncio.get_running_loop(), self.device)
        with self._lock:
            if self._closing or self._thread is None:
                raise EngineClosed("the engine is not running")
            if self.load >= self.capacity:
                raise Busy(f"engine at capacity ({self.capacity} requests)")
            self._waiting.append(job)
            self._lock.notify()
        return job

    async def _events(self, job: _Job):
        try:
            while True:
                item = await job.queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            if job.finish_reason is None:
                job.cancelled = True
                with self._lock:
                    self._lock.notify()

    def stream(self, req: Request) -> AsyncIterator[str]:
        """Text deltas (whole characters, stop strings never leaked) as they are generated.

        The request is admitted here, at the call, so `Busy` reaches the caller before it
        promises anyone an answer; leaving the iteration early cancels the request."""
        return self._stream(self._submit(req))

    async def _stream(self, job: _Job) -> AsyncIterator[str]:
        req = job.req
        async for item in self._events(job):
            yield item
        if job.finish_reason == "deadline":
            raise DeadlineExceeded(f"request passed its {req.timeout_s}s deadline")

    async def complete(self, req: Request) -> Completion:
        job = self._submit(req)
        async for _ in self._events(job):
            pass
        if job.finish_reason == "deadline":
            raise DeadlineExceeded(f"request passed its {req.timeout_s}s deadline")
        return self._completion(job)

    def _completion(self, job: _Job) -> Completion:
        now = time.monotonic()
        ttft = job.first_token_at - job.submitted if job.first_token_at else None
        return Completion("".join(job.text), job.finish_reason or "cancelled", len(job.prompt),
                          job.generated, ttft, now - job.submitted)

    async def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop taking requests, let the ones in flight finish (for up to `timeout` seconds
        when draining), cancel the rest, then free the cache."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        if self._thread is None:
            return
        if drain:
            await asyncio.to_thread(self._thread.join, timeout)
        with self._lock:
            for job in [*self._waiting, *self._running()]:
                job.cancelled = True
            self._lock.notify()
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        self.cache = None

    # -- the worker thread ------------------------------------------------------------

    def _running(self) -> list[_Job]:
        return self._decoding + ([self._prefilling] if self._prefilling else [])

    def _run(self) -> None:
        previous = torch.get_num_threads()  # a process-wide setting: restored on exit
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            self._serve()
        finally:
            torch.set_num_threads(previous)

    def _serve(self) -> None:
        with torch.inference_mode():
            while True:
                with self._lock:
                    while not (self._waiting or self._running() or self._closing):
                        self._lock.wait()
                    if self._closing and not (self._waiting or self._running()):
                        return
                try:
                    self._step()
                except Exception as e:  # a model failure fails its requests, not the engine
                    log.exception("engine step failed; failing %d requests", len(self._running()))
                    for job in self._running():
                        job.deliver(e)
                        self._finish(job, "error")

    def _admit(self) -> None:
        """Start reading the next prompt when the spare row is free and a slot awaits it."""
        while self._prefilling is None and self._waiting and len(self._decoding) < self.slots:
            job = self._waiting.popleft()
            if job.cancelled:
                job.finish_reason = "cancelled"
                job.deliver(_END)
            else:
                self._prefilling = job

    def _encode(self, job: _Job) -> None:
        req, tok = job.req, self.tok
        stop = job.p.stop
        if req.messages is not None:
            if self.template is None:
                raise BadRequest("this model has no chat template; pass template= "
                                 "(lm, zephyr, llama2 or chatml)")
            ids = self.template.encode(tok, req.messages)
            stop += self.template.stop_strings
        else:
            ids = [tok.bos_id, *tok.encode(req.prompt or "")]
        if len(ids) >= self.max_len:
            raise PromptTooLong(f"prompt of {len(ids)} tokens leaves no room to answer in a "
                                f"{self.max_len}-token context")
        job.prompt = ids
        job.seen = set(job.prompt)
        job.stream = TextStream(tok, job.prompt, stop)

    def _step(self) -> None:
        now = time.monotonic()
        for job in self._running():
            if job.cancelled:
                self._finish(job, "cancelled")
            elif job.deadline is not None and now > job.deadline:
                self._finish(job, "deadline")
        budget = self.prefill_chunk  # prompt tokens read per step, over one or more prompts
        while budget > 0:
            if self._prefilling is None:
                with self._lock:
                    self._admit()
                if self._prefilling is None:
                    break
            budget -= self._prefill(self._prefilling, budget)
        if self._decoding:
            self._decode(self._decoding)

    def _prefill(self, job: _Job, budget: int) -> int:
        """Read up to `budget` tokens of one prompt; return how many. Long prompts take
        several steps, interleaved with decoding; short ones leave budget for the next."""
        if job.stream is None:
            try:
                self._encode(job)
            except (BadRequest, LMError) as e:  # this request's problem, not the batch's
                job.deliver(e)
                self._finish(job, "error")
                return 1
            self.requests += 1
        chunk = job.prompt[job.pos:job.pos + budget]
        idx = torch.tensor([chunk], device=self.device)
        pos = torch.arange(job.pos, job.pos + len(chunk), device=self.device)[None]
        logits = self.model(idx, positions=pos, cache=self.cache, last_only=True, first_row=self.slots)
        job.pos += len(chunk)
        if job.pos < len(job.prompt):
            return len(chunk)
        row = len(self._decoding)
        for layer in self.cache:
            layer.move_row(self.slots, row, job.pos)
        self._prefilling = None
        self._decoding.append(job)
        self._accept([job], self._sample([job], logits[:, -1]))
        return len(chunk)

    def _decode(self, jobs: list[_Job]) -> None:
        jobs = list(jobs)
        idx = torch.tensor([[j.last] for j in jobs], device=self.device)
        pos = torch.tensor([[j.pos] for j in jobs], device=self.device)
        logits = self.model(idx, positions=pos, cache=self.cache)
        for j in jobs:
            j.pos += 1
        self._accept(jobs, self._sample(jobs, logits[:, -1]))

    def _sample(self, jobs: list[_Job], logits: torch.Tensor) -> list[int]:
        logits = logits.float()
        for r, j in enumerate(jobs):
            if j.p.repetition_penalty != 1.0:
                seen = torch.tensor(sorted(j.seen), device=logits.device)
                logits[r] = apply_repetition_penalty(logits[r], seen, j.p.repetition_penalty)
        logits = logits[:, :self.vocab]
        return sample_rows(logits, [j.p for j in jobs], [j.generator for j in jobs]).tolist()

    def _accept(self, jobs: list[_Job], tokens: list[int]) -> None:
        now = time.monotonic()
        for j, token in zip(jobs, tokens):
            if j.first_token_at is None:
                j.first_token_at = now
            if token in self.stop_ids and not j.p.ignore_eos:
                self._finish(j, "stop")
                continue
            j.generated += 1
            self.tokens_generated += 1
            j.seen.add(token)
            j.last = token
            delta = j.stream.push(token)
            if delta:
                j.text.append(delta)
                j.deliver(delta)
            if j.stream.stopped:
                self._finish(j, "stop")
            elif j.generated >= j.p.max_new_tokens or j.pos + 1 >= self.max_len:
                self._finish(j, "length")

    def _finish(self, job: _Job, reason: str) -> None:
        if reason in ("stop", "length") and job.stream is not None:
            tail = job.stream.finish()
            if tail:
                job.text.append(tail)
                job.deliver(tail)
        job.finish_reason = reason
        if job is self._prefilling:
            self._prefilling = None
        else:
            i, last = self._decoding.index(job), self._decoding[-1]
            if last is not job:  # keep generating rows contiguous: the last row fills the hole
                for layer in self.cache:
                    layer.move_row(len(self._decoding) - 1, i, last.pos)
                self._decoding[i] = last
            self._decoding.pop()
        job.deliver(_END)
