"""The one interface the bot uses to call the language model.

Chat code talks to a ``ChatModel``: ``stream(request)`` yields text deltas, ``complete``
returns the whole answer, ``Busy`` means "the model is saturated, try later". The
implementation, ``LocalModel``, is a thin adapter over ``lm.engine.Engine``, which batches
all members' requests in one worker process so the event loop (Discord heartbeats, the
archive, moderation) never waits on a matrix multiply.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

ROLES = ("system", "user", "assistant")


class Busy(Exception):
    """The model's queue is full, or a request waited past its deadline: try again later."""


class ModelError(Exception):
    """Generation failed. The cause is logged; members only get a friendly note."""


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion. ``deadline`` is a ``time.monotonic()`` instant: a request still
    queued then is refused with ``Busy``; one generating then stops and keeps its text."""

    messages: Sequence[tuple[str, str]]
    max_new_tokens: int = 200
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    repetition_penalty: float = 1.1
    stop: tuple[str, ...] = ()
    seed: int | None = None
    deadline: float | None = None

    def __post_init__(self) -> None:
        bad = [role for role, _ in self.messages if role not in ROLES]
        if bad:
            raise ValueError(f"unknown chat role {bad[0]!r} (use {', '.join(ROLES)})")
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")


class ChatModel(Protocol):
    """What chat code needs from a model: a context size, token counters and generation.
    ``count_prompt`` is exact: the prompt's length through the model's own chat template;
    ``count_tokens`` (one text alone) is for cutting a text to size."""

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def count_prompt(self, messages: Sequence[tuple[str, str]]) -> int: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[str]: ...

    async def complete(self, request: ChatRequest) -> str: ...

    async def close(self, drain_timeout: float = 10.0) -> None: ...


class LocalModel:
    """A ``ChatModel`` backed by the ``lm`` inference engine running in this process.

    The engine batches every member's request in its worker process; this class only
    translates: chat requests into engine requests, and engine outcomes into the two
    things chat code handles (``Busy``: try later; ``ModelError``: say sorry).
    """

    def __init__(self, engine) -> None:
        if engine.template is None:
            raise ModelError(f"{engine.tok.path.parent} has no recognisable chat template in its "
                             "tokenizer_config.json: set MODEL_TEMPLATE (lm, zephyr, llama2, "
                             "chatml or llama3)")
        self._engine = engine.start()

    @classmethod
    def load(cls, model_dir: Path, device: str = "auto", slots: int = 8,
             queue_size: int = 16, template: str | None = None) -> LocalModel:
        """Load weights and tokenizer (blocking: call before the loop or via ``to_thread``).
        ``queue_size`` bounds the requests in flight, generating or waiting; ``template``
        overrides the chat template the folder asks for."""
        from lm.engine import Engine

        slots = min(slots, queue_size)
        return cls(Engine.from_dir(Path(model_dir), device=device, slots=slots,
                                   max_queue=queue_size - slots, template=template))

    @property
    def context_window(self) -> int:
        return self._engine.max_len

    @property
    def tokens_generated(self) -> int:
        return self._engine.tokens_generated

    def count_tokens(self, text: str) -> int:
        return len(self._engine.tok.encode(text))

    def count_prompt(self, messages: Sequence[tuple[str, str]]) -> int:
        return self._engine.count_prompt(messages)

    async def complete(self, request: ChatRequest) -> str:
        async with contextlib.aclosing(self.stream(request)) as deltas:
            return "".join([delta async for delta in deltas])

    def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Admit the request and return its text deltas as an async iterator.

        ``Busy`` is raised here, at the call, so a caller learns it before promising the
        member an answer. Leaving the iteration early cancels the request in the engine.
        """
        from lm.engine import Busy as EngineBusy, EngineClosed, Request
        from lm.sample import SamplingParams

        timeout = None
        if request.deadline is not None:
            timeout = request.deadline - time.monotonic()
            if timeout <= 0:
                raise Busy("the request waited too long for the model")
        params = SamplingParams(temperature=request.temperature, top_k=request.top_k,
                                top_p=request.top_p, repetition_penalty=request.repetition_penalty,
                                max_new_tokens=request.max_new_tokens, stop=request.stop,
                                seed=request.seed)
        try:
            deltas = self._engine.stream(Request(messages=request.messages, params=params,
                                                 timeout_s=timeout))
        except (EngineBusy, EngineClosed) as e:
            raise Busy(str(e)) from None
        return self._translate(deltas)

    @staticmethod
    async def _translate(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
        from lm.engine import DeadlineExceeded

        said = False
        try:
            async for delta in deltas:
                said = True
                yield delta
        except DeadlineExceeded:
            if not said:  # nothing to show: as if the model were saturated
                raise Busy("the request waited too long for the model") from None
            log.info("model: deadline reached mid-answer; keeping the text so far")
        except Exception as e:
            log.error("model: generation failed: %s", e, exc_info=e)
            raise ModelError("generation failed") from None
        finally:
            await deltas.aclose()

    async def close(self, drain_timeout: float = 10.0) -> None:
        """Refuse new requests, let those in flight finish for up to ``drain_timeout``
        seconds, then cancel the rest and free the model."""
        await self._engine.close(drain=True, timeout=drain_timeout)
        log.info("model: closed after %d requests, %d tokens", self._engine.requests,
                 self._engine.tokens_generated)
