"""The in-process inference engine: one model shared by every request, batched continuously.

Requests arrive from asyncio code (`await engine.complete(req)`, `async for delta in
engine.stream(req)`). The model runs in a worker process the engine starts and owns;
the worker's side of the pipe is lm/worker.py, the batching itself lm/scheduler.py.
A process rather than a thread, measured on 2 cores with 16 concurrent requests:
- the bot's event loop and the model no longer share the GIL: the same scheduler did
  513 tok/s on a thread beside a busy loop, 667 alone on a process's main thread;
- torch's OpenMP pool (libgomp) throttles its workers to near-zero spinning once the
  process has more OpenMP threads than cores, which any earlier multi-threaded torch
  call on the main thread (loading, training, another model) guarantees; a second
  intra-op thread then made a worker *thread* slower, not faster;
- a crash in a kernel or an out-of-memory kill takes the worker, not the bot: requests
  in flight fail with `EngineClosed` and the bot answers politely.
Weights reach the worker once: a folder is loaded there, an in-memory model travels
through shared memory (torch.multiprocessing).

Admission is bounded here, in the caller's process: past `slots + max_queue` requests,
`Busy` is raised at once rather than queueing without limit.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import pickle
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Sequence

import torch
import torch.multiprocessing  # noqa: F401  (registers tensor sharing for the worker's pickles)

from .chat import TEMPLATES, Template, folder_template
from .errors import LMError
from .model import Llama, ModelConfig
from .sample import SamplingParams
from .scheduler import BadRequest, Ending, PromptTooLong
from .tokenizer import Tokenizer, load_tokenizer
from .worker import WorkerSpec, serve

__all__ = ["Engine", "Request", "Completion", "Busy", "DeadlineExceeded", "EngineClosed",
           "BadRequest", "PromptTooLong"]
log = logging.getLogger(__name__)


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


class _Handle:
    """The caller's side of one request. Touched by the caller's loop, and by the reader
    thread only through `loop.call_soon_threadsafe`."""

    def __init__(self, job_id: int, req: Request, loop: asyncio.AbstractEventLoop):
        self.id, self.req, self.loop = job_id, req, loop
        self.queue: asyncio.Queue = asyncio.Queue()
        self.submitted = time.monotonic()
        self.text: list[str] = []
        self.ending: Ending | None = None


class Engine:
    def __init__(self, model: Llama | None, tokenizer: Tokenizer, *, slots: int = 16, max_queue: int = 64,
                 max_len: int | None = None, prefill_chunk: int = 256, threads: int | None = None,
                 template: Template | None = None, kv_dtype: torch.dtype | None = None,
                 _folder: tuple[Path, str, str, ModelConfig] | None = None):
        self.tok = tokenizer
        # How chat requests become tokens; our own role tags unless the folder says otherwise.
        self.template = template or (TEMPLATES["lm"] if tokenizer.has_role_tags else None)
        folder, device, precision, config = _folder or (None, "cpu", "as-is", model.config)
        ctx = config.max_position_embeddings
        self.max_len = min(max_len or ctx, ctx)
        self.slots, self.capacity = slots, slots + max_queue
        self._spec = WorkerSpec(folder, device, precision, None if _folder else model, tokenizer.path,
                                self.template, slots, self.max_len, prefill_chunk, threads, kv_dtype)
        self.requests = self.tokens_generated = 0
        self._handles: dict[int, _Handle] = {}
        self._ids = 0
        self._lock = threading.Lock()  # admission, and the handles the reader hands out
        # Messages to the worker go through a queue and a sender thread: a pipe whose
        # buffer is full (a burst of long prompts during a long step) must never block the loop.
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._conn = self._proc = self._reader = self._writer = None
        self._closing = False

    @classmethod
    def from_dir(cls, folder: Path, device: str = "auto", precision: str = "auto",
                 template: str | None = None, **kw) -> "Engine":
        """The worker loads the folder itself (see lm/checkpoint.load_for_inference), so
        the weights never occupy this process. `template` overrides the chat template the
        folder asks for (see lm/chat.py)."""
        from .checkpoint import read_config
        folder = Path(folder)
        config = read_config(folder)
        tok = load_tokenizer(folder)
        return cls(None, tok, template=folder_template(folder, template), _folder=(folder, device, precision, config), **kw)

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "Engine":
        """Start the worker and wait until its model is loaded (seconds: call it before
        serving, or through `asyncio.to_thread`). A model that cannot load raises here."""
        if self._proc is not None:
            return self
        if self._closing:
            raise EngineClosed("a closed engine does not restart; make a new one")
        ctx = multiprocessing.get_context("spawn")  # fork would copy torch's thread state
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve, args=(child, self._spec), name="lm-engine",
                                 daemon=True)
        self._proc.start()
        child.close()
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            kind, payload = "failed", LMError(f"the engine worker exited (code {self._proc.exitcode})")
        if kind == "failed":
            self._proc.join()
            self._conn.close()
            self._proc = self._conn = None
            raise payload
        self._reader = threading.Thread(target=self._read, name="lm-engine-reader", daemon=True)
        self._writer = threading.Thread(target=self._write, name="lm-engine-writer", daemon=True)
        self._reader.start()
        self._writer.start()
        return self

    @property
    def load(self) -> int:
        """Requests admitted and not yet ended."""
        return len(self._handles)

    async def close(self, drain: bool = True, timeout: float | None = None) -> None:
        """Stop taking requests, let the ones in flight finish (for up to `timeout` seconds
        when draining), cancel the rest, then stop the worker and free the model."""
        with self._lock:
            self._closing = True
            proc = self._proc
            if proc is None:
                return
            self._send(("close", drain))
        if drain:
            await asyncio.to_thread(proc.join, timeout)
        with self._lock:
            self._send(("close", False))
        await asyncio.to_thread(proc.join, 30)
        if proc.is_alive():
            proc.kill()
        self._outbox.put(None)
        await asyncio.to_thread(self._reader.join)
        await asyncio.to_thread(self._writer.join)
        self._conn.close()
        self._proc = None

    # -- requests ---------------------------------------------------------------------

    def count_prompt(self, messages: Sequence[tuple[str, str]]) -> int:
        """The exact prompt length of chat `messages` through this model's own template,
        generation prompt included: what the worker will encode (thread-safe; the
        tokenizer is only read)."""
        if self.template is None:
            raise BadRequest("this model has no chat template")
        return len(self.template.encode(self.tok, messages))

    def _submit(self, req: Request) -> _Handle:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closing or self._proc is None:
                raise EngineClosed("the engine is not running")
            if len(self._handles) >= self.capacity:
                raise Busy(f"engine at capacity ({self.capacity} requests)")
            self._ids += 1
            h = _Handle(self._ids, req, loop)
            deadline = h.submitted + req.timeout_s if req.timeout_s else None
            message = _submission(h.id, req, deadline)
            self._handles[h.id] = h
            self._send(message)
        return h

    def _send(self, message) -> None:
        self._outbox.put(message)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until every message queued for the worker before this call is in its pipe:
        True, or False once `timeout` passes (as it will when the worker is gone). Serving
        never waits for the sender thread; a test does, to know a cancel will be read at the
        worker's next step before it lets that step happen (tests/bot/test_model.py)."""
        sent = threading.Event()
        self._outbox.put(sent)
        return sent.wait(timeout)

    def _write(self) -> None:
        while (message := self._outbox.get()) is not None:
            if isinstance(message, threading.Event):  # flush(): all before it has been sent
                message.set()
                continue
            try:
                self._conn.send(message)
            except (OSError, ValueError):  # the worker is gone; the reader fails what is left
                return

    async def _events(self, h: _Handle):
        try:
            while True:
                item = await h.queue.get()
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self._cancel(h)  # when the caller left early: free the slot

    def stream(self, req: Request) -> AsyncIterator[str]:
        """Text deltas (whole characters, stop strings never leaked) as they are generated.

        The request is admitted here, at the call, so `Busy` reaches the caller before it
        promises anyone an answer; leaving the iteration early, or dropping the iterator
        unread, cancels the request."""
        h = self._submit(req)
        return _Stream(self._stream(h), lambda: self._cancel(h))

    def _cancel(self, h: _Handle) -> None:
        if h.ending is None and h.id in self._handles:
            self._send(("cancel", h.id))

    async def _stream(self, h: _Handle) -> AsyncIterator[str]:
        # aclosing: leaving early cancels now, not when the garbage collector gets round to it
        async with contextlib.aclosing(self._events(h)) as events:
            async for item in events:
                yield item
        if h.ending.finish_reason == "deadline":
            raise DeadlineExceeded(f"request passed its {h.req.timeout_s}s deadline")

    async def complete(self, req: Request) -> Completion:
        h = self._submit(req)
        async with contextlib.aclosing(self._events(h)) as events:
            async for _ in events:
                pass
        if h.ending.finish_reason == "deadline":
            raise DeadlineExceeded(f"request passed its {req.timeout_s}s deadline")
        end = h.ending
        ttft = end.first_token_at - h.submitted if end.first_token_at else None
        return Completion("".join(h.text), end.finish_reason, end.prompt_tokens,
                          end.completion_tokens, ttft, time.monotonic() - h.submitted)

    # -- the reader thread: the worker's reports, handed to each caller's loop -------------

    def _read(self) -> None:
        while True:
            try:
                events = self._conn.recv()
            except (EOFError, OSError):
                break
            by_loop: dict[asyncio.AbstractEventLoop, list] = {}
            for job_id, kind, payload in events:
                h = self._handles.get(job_id)
                if h is None:
                    continue
                if kind == "end":
                    with self._lock:
                        del self._handles[job_id]
                    self.requests += payload.prompt_tokens > 0
                    self.tokens_generated += payload.completion_tokens
                by_loop.setdefault(h.loop, []).append((h, kind, payload))
            for loop, items in by_loop.items():
                _deliver(loop, items)
        with self._lock:  # the worker stopped: nothing more will come for anyone
            self._closing = True
            left, self._handles = list(self._handles.values()), {}
        for h in left:
            _deliver(h.loop, [(h, "error", EngineClosed("the engine worker stopped")),
                              (h, "end", Ending("error", 0, 0, None))])
        self._outbox.put(None)


def _deliver(loop: asyncio.AbstractEventLoop, items: list) -> None:
    """One wake-up of the caller's loop per worker step, however many requests it touched."""
    def put():
        for h, kind, payload in items:
            if kind == "delta":
                h.text.append(payload)
                h.queue.put_nowait(payload)
            elif kind == "error":
                h.queue.put_nowait(payload)
            else:
                h.ending = payload
                h.queue.put_nowait(_END)
    try:
        loop.call_soon_threadsafe(put)
    except RuntimeError:  # that loop is closed: nobody is listening
        pass


class _Stream:
    """What `stream()` returns: its text deltas, and a cancel when dropped unread. An async
    generator that never started has no finaliser, so an answer nobody reads would keep
    its slot until it finished."""

    def __init__(self, deltas: AsyncIterator[str], cancel):
        self._deltas, self._cancel = deltas, cancel

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        await self._deltas.aclose()
        self._cancel()

    def __del__(self):
        self._cancel()


def _submission(job_id: int, req: Request, deadline: float | None) -> tuple:
    """The message that hands a request to the worker, checked here: a malformed request
    fails alone, in its caller, at once, and never reaches (or stops) the worker."""
    p = req.params
    if req.prompt is not None and not isinstance(req.prompt, str):
        raise BadRequest("prompt must be text")
    messages = None
    if req.messages is not None:
        try:
            messages = [(role, content) for role, content in req.messages]
        except (TypeError, ValueError):
            raise BadRequest("messages must be (role, content) pairs") from None
        if not all(isinstance(role, str) and isinstance(text, str) for role, text in messages):
            raise BadRequest("chat roles and contents must be text")
    stop = (p.stop,) if isinstance(p.stop, str) else tuple(p.stop)
    problems = [why for bad, why in [
        (not all(isinstance(x, str) and x for x in stop), "stop strings must be non-empty text"),
        (p.seed is not None and not (isinstance(p.seed, int) and 0 <= p.seed < 2**63),
         "seed must be an integer in [0, 2**63)"),
        (not (isinstance(p.max_new_tokens, int) and p.max_new_tokens >= 1), "max_new_tokens must be >= 1"),
        (not p.temperature >= 0, "temperature must be >= 0"),
        (not (isinstance(p.top_k, int) and p.top_k >= 0), "top_k must be an integer >= 0"),
        (not 0 < p.top_p <= 1, "top_p must be in (0, 1]"),
        (not p.repetition_penalty > 0, "repetition_penalty must be > 0")] if bad]
    if problems:
        raise BadRequest(problems[0])
    message = ("submit", job_id, req.prompt, messages, dataclasses.replace(p, stop=stop), deadline)
    try:
        pickle.dumps(message)
    except Exception as e:  # noqa: BLE001 - whatever cannot cross to the worker
        raise BadRequest(f"request cannot be sent to the engine: {e}") from None
    return message
