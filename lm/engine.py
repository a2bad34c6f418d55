"""The in-process inference engine: one model shared by every request, batched continuously.

Requests arrive from asyncio code (`await engine.complete(req)`, `async for delta in
engine.stream(req)`); the model runs in one worker thread so the event loop never waits
on a matrix multiply. The worker owns a fixed-slot KV cache [slots, kv_heads, max_len,
head_dim]. Each step it (1) admits waiting requests into free slots, (2) runs one prefill
chunk for the oldest request still reading its prompt, and (3) decodes one token for every
request that is generating, all rows in one batch at their own positions. A request that
finishes, is cancelled or runs past its deadline frees its slot at once, and the next
waiting request takes it at the next step (Orca/vLLM-style scheduling without paging).

Admission is bounded: past `slots + max_queue` requests, `Busy` is raised at once rather
than queueing without limit.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Sequence

import torch

from .model import Llama
from .sample import SamplingParams, TextStream, apply_repetition_penalty, make_generator, sample_rows
from .tokenizer import Tokenizer


class Busy(Exception):
    """The engine is at capacity; the caller should answer politely and try later."""


class DeadlineExceeded(Exception):
    """The request's deadline passed before it finished."""


class EngineClosed(Exception):
    pass


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
        self.slot = -1
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
                 max_len: int | None = None, prefill_chunk: int = 256, threads: int | None = None):
        self.model, self.tok = model.eval(), tokenizer
        self.device = model.lm_head.weight.device
        self.slots = slots
        self.max_len = min(max_len or model.config.max_position_embeddings,
                           model.config.max_position_embeddings)
        self.capacity = slots + max_queue
        self.prefill_chunk = prefill_chunk
        self.threads = threads
        self.stop_ids = set(model.config.eos_ids) | ({tokenizer.roles["end"]} if tokenizer.has_role_tags else set())
        self._lock = threading.Condition()
        self._waiting: deque[_Job] = deque()
        self._active: list[_Job] = []
        self._free = list(range(slots - 1, -1, -1))
        self._closing = False
        self._thread: threading.Thread | None = None
        self.cache = None
        self.steps = 0

    @classmethod
    def from_dir(cls, folder: Path, device: str = "auto", precision: str = "auto", **kw) -> "Engine":
        from .checkpoint import TOKENIZER, load_model
        from .device import pick_device, pick_dtype
        dev = pick_device(device)
        model = load_model(folder, device=dev, dtype=pick_dtype(dev, precision))
        return cls(model, Tokenizer(Path(folder) / TOKENIZER), **kw)

    # -- the asyncio side -------------------------------------------------------------

    def start(self) -> "Engine":
        if self._thread is None:
            self.cache = self.model.new_cache(self.slots, self.max_len)
            self._thread = threading.Thread(target=self._run, name="lm-engine", daemon=True)
            self._thread.start()
        return self

    @property
    def load(self) -> int:
        return len(self._waiting) + len(self._active)

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

    async def stream(self, req: Request) -> AsyncIterator[str]:
        """Text deltas (whole characters, stop strings never leaked) as they are generated."""
        job = self._submit(req)
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
        """Stop taking requests; finish (drain) or cancel the ones in flight; free the model."""
        with self._lock:
            self._closing = True
            if not drain:
                for job in [*self._waiting, *self._active]:
                    job.cancelled = True
            self._lock.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, timeout)
            self._thread = None
        self.cache = None

    # -- the worker thread ------------------------------------------------------------

    def _run(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            while True:
                with self._lock:
                    while not (self._waiting or self._active or self._closing):
                        self._lock.wait()
                    if self._closing and not (self._waiting or self._active):
                        return
                    self._admit()
                try:
                    self._step()
                except Exception as e:  # a model failure fails its requests, not the engine
                    log.exception("engine step failed; failing %d requests", len(self._active))
                    for job in list(self._active):
                        job.deliver(e)
                        self._finish(job, "error")

    def _admit(self) -> None:
        while self._waiting and self._free:
            job = self._waiting.popleft()
            if job.cancelled:
                job.finish_reason = "cancelled"
                job.deliver(_END)
                continue
            job.slot = self._free.pop()
            self._active.append(job)

    def _encode(self, job: _Job) -> None:
        req, tok = job.req, self.tok
        if req.messages is not None:
            ids = [tok.bos_id, *tok.encode_chat(req.messages, add_generation_prompt=True)]
        else:
            ids = [tok.bos_id, *tok.encode(req.prompt or "")]
        budget = max(1, min(job.p.max_new_tokens, self.max_len - 1))
        job.prompt = ids[-(self.max_len - budget):]
        job.seen = set(job.prompt)
        job.stream = TextStream(tok, job.prompt, job.p.stop)

    def _step(self) -> None:
        now = time.monotonic()
        for job in list(self._active):
            if job.cancelled:
                self._finish(job, "cancelled")
            elif job.deadline is not None and now > job.deadline:
                self._finish(job, "deadline")
        prefilling = [j for j in self._active if j.last is None]
        if prefilling:
            self._prefill(prefilling[0])
        decoding = [j for j in self._active if j.last is not None]
        if decoding:
            self._decode(decoding)
        self.steps += 1

    def _prefill(self, job: _Job) -> None:
        """One chunk of one prompt; long prompts take several steps, interleaved with decoding."""
        if job.stream is None:
            self._encode(job)
        chunk = job.prompt[job.pos:job.pos + self.prefill_chunk]
        idx = torch.tensor([chunk], device=self.device)
        pos = torch.arange(job.pos, job.pos + len(chunk), device=self.device)[None]
        logits = self.model(idx, positions=pos, cache=self.cache, last_only=True,
                            slots=torch.tensor([job.slot], device=self.device))
        job.pos += len(chunk)
        if job.pos == len(job.prompt):
            self._accept([job], self._sample([job], logits[:, -1]))

    def _decode(self, jobs: list[_Job]) -> None:
        idx = torch.tensor([[j.last] for j in jobs], device=self.device)
        pos = torch.tensor([[j.pos] for j in jobs], device=self.device)
        slots = torch.tensor([j.slot for j in jobs], device=self.device)
        logits = self.model(idx, positions=pos, cache=self.cache, slots=slots)
        for j in jobs:
            j.pos += 1
        self._accept(jobs, self._sample(jobs, logits[:, -1]))

    def _sample(self, jobs: list[_Job], logits: torch.Tensor) -> list[int]:
        logits = logits.float()
        for r, j in enumerate(jobs):
            if j.p.repetition_penalty != 1.0:
                seen = torch.tensor(sorted(j.seen), device=logits.device)
                logits[r] = apply_repetition_penalty(logits[r], seen, j.p.repetition_penalty)
        return sample_rows(logits, [j.p for j in jobs], [j.generator for j in jobs]).tolist()

    def _accept(self, jobs: list[_Job], tokens: list[int]) -> None:
        now = time.monotonic()
        for j, token in zip(jobs, tokens):
            if j.first_token_at is None:
                j.first_token_at = now
            if token in self.stop_ids:
                self._finish(j, "stop")
                continue
            j.generated += 1
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
        self._active.remove(job)
        self._free.append(job.slot)
        job.deliver(_END)
