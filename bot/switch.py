"""Switching the bot's model: ``python -m bot model use DIR`` scores the candidate against
the model in use on held-out text and, unless it is worse, records it; a running bot
notices within a minute and swaps, without a restart; a bot started later loads it.

The check: bits per byte (comparable across tokenizers, ``lm.evaluate``) on the held-out
fifth of the text (the documents ``lm train`` holds out at its default
``--val-fraction``, so a model fine-tuned on the same file is scored on what it did not
see). The text is the latest corpus export (``python -m bot export-corpus``), else the
demo community's conversations. A candidate more than ``TOLERANCE`` worse is refused,
with both figures.

The swap: the runtime's model is a ``ModelSlot``; the ``model-switch`` job loads the
recorded folder on a thread, puts it in the slot (new requests go to it), then closes the
old model, which lets the answers in flight finish.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

from bot.model import ChatModel, ChatRequest

log = logging.getLogger(__name__)

TOLERANCE = 0.02       # a candidate may be 2% worse in bits per byte (measurement noise)
VAL_FRACTION = 0.2     # lm train's default held-out share
EVAL_CONTEXT = 512     # tokens per scored window: enough for chat turns, cheap on a CPU
CHECK_EVERY_S = 30.0


def held_out(sources: list[str]) -> list:
    from lm.clean import load_corpus
    from lm.data import is_validation

    docs = [d for d in load_corpus(sources) if is_validation(d, VAL_FRACTION)]
    if not docs:
        raise ValueError(f"no held-out documents in {', '.join(sources)}")
    return docs


def score(folder: Path, docs: list) -> float:
    """Bits per byte of the model in ``folder`` on ``docs`` (blocking)."""
    from lm.evaluate import evaluate_folder

    return evaluate_folder(folder, docs, context=EVAL_CONTEXT)["bits_per_byte"]


def check(current: Path, candidate: Path, sources: list[str],
          tolerance: float = TOLERANCE) -> dict:
    docs = held_out(sources)
    now, new = score(current, docs), score(candidate, docs)
    return {"current": str(current), "candidate": str(candidate), "data": sources,
            "held_out_documents": len(docs), "current_bits_per_byte": round(now, 4),
            "candidate_bits_per_byte": round(new, 4), "ratio": round(new / now, 4),
            "tolerance": tolerance, "accepted": new <= now * (1 + tolerance)}


def chosen(database: Path) -> Path | None:
    """The model ``model use`` recorded, if any (read before the bot's database opens)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT path FROM model_choice WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None  # an older database without the table: nothing chosen
    return Path(row[0]) if row else None


async def record(db, result: dict) -> None:
    await db.write(
        "INSERT INTO model_choice (id, path, chosen_at, current_bpb, candidate_bpb) "
        "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET path = excluded.path, "
        "chosen_at = excluded.chosen_at, current_bpb = excluded.current_bpb, "
        "candidate_bpb = excluded.candidate_bpb",
        (result["candidate"], int(time.time() * 1000), result["current_bits_per_byte"],
         result["candidate_bits_per_byte"]))


class ModelSlot:
    """A ``ChatModel`` that forwards to the model in it, which ``swap`` replaces."""

    def __init__(self, model: ChatModel, folder: Path | None = None) -> None:
        self.model = model
        self.folder = folder

    @property
    def context_window(self) -> int:
        return self.model.context_window

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def count_prompt(self, messages: Sequence[tuple[str, str]]) -> int:
        return self.model.count_prompt(messages)

    def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        return self.model.stream(request)

    async def complete(self, request: ChatRequest) -> str:
        return await self.model.complete(request)

    async def swap(self, model: ChatModel, folder: Path) -> None:
        old, self.model, self.folder = self.model, model, folder
        await old.close()

    async def close(self, drain_timeout: float = 10.0) -> None:
        await self.model.close(drain_timeout)


def switch_job(slot: ModelSlot, db, load: Callable[[Path], Awaitable[ChatModel]],
               every_s: float = CHECK_EVERY_S) -> Callable[[], Awaitable[None]]:
    """The job that swaps in the recorded model when the record changes. A folder that
    fails to load is logged and not tried again until another is recorded."""
    async def run() -> None:
        failed: Path | None = None
        while True:
            row = await db.fetchone("SELECT path FROM model_choice WHERE id = 1")
            wanted = None if row is None else Path(row[0])
            if wanted is not None and wanted not in (slot.folder, failed):
                log.info("switching the model to %s", wanted)
                try:
                    await slot.swap(await load(wanted), wanted)
                except Exception:
                    log.exception("could not switch to %s; keeping %s", wanted, slot.folder)
                    failed = wanted
            await asyncio.sleep(every_s)
    return run
