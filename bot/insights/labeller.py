"""Classifying archived messages: a background job that labels, in batches, on a thread of
its own, every member message the archive holds and no label covers yet.

Why a job over the archive rather than a queue of incoming messages: the archive is the
queue. A message that arrived while the bot was busy, down or classifying something else
is still there unlabelled, and is picked up next time, so nothing is lost to a full queue
or a restart, and an edit (which drops the message's label) is classified again the same
way. The archive hook only wakes the job, which reads the archive once the writer has
stored what it buffered. The chat answer needs its message's sentiment
before it writes (an upset member gets another tone), so ``label_now`` classifies one
message at once, on the same thread: torch never runs two batches at a time here.

Each label is the sentiment classifier's (``lm.classify``), the intent rules'
(``bot.insights.intent``) over the text and that sentiment, and the catalog products the
text names. A complaint also goes on the staff follow-up list (``on_complaint``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from bot.insights.intent import intent
from bot.insights.store import SENTIMENTS, InsightsStore, Label, Pending

log = logging.getLogger(__name__)

BATCH = 32
IDLE_POLL_S = 60.0   # the job looks at the archive this often even when nobody wakes it
FOLLOWUP_MAX_AGE_MS = 14 * 86_400_000  # an old complaint found in the backlog is not news


class TextClassifier(Protocol):
    """``lm.classify.Classifier``'s shape: (label, {label: probability}) per text."""

    def classify(self, texts: Sequence[str]) -> list[tuple[str, dict[str, float]]]: ...


def check_labels(classifier: TextClassifier) -> TextClassifier:
    """A sentiment classifier says negative and positive (and may say neutral), nothing else:
    the charts, the score and the intent rules are built on those."""
    labels = getattr(getattr(classifier, "head", None), "labels", None)
    if labels is not None and not {"negative", "positive"} <= set(labels) <= set(SENTIMENTS):
        raise ValueError(f"a sentiment classifier labels texts {', '.join(SENTIMENTS)} "
                         f"(neutral optional); this one says {', '.join(labels)}")
    return classifier


def score_of(scores: dict[str, float]) -> float:
    return scores.get("positive", 0.0) - scores.get("negative", 0.0)


class Labeller:
    def __init__(self, store: InsightsStore, load: Callable[[], TextClassifier], *,
                 products: Callable[[int, str], Awaitable[list[int]]],
                 on_complaint: Callable[[Pending], Awaitable[None]],
                 settle_s: float) -> None:
        self._store = store
        self._load = load
        self._products = products
        self._on_complaint = on_complaint
        self._settle_s = settle_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify")
        self._classifier: TextClassifier | None = None
        self._loading: asyncio.Future | None = None
        self._wake = asyncio.Event()
        self._skip: set[int] = set()  # messages the classifier failed on
        self.unavailable: str | None = None  # why there is no classifier, once known

    def wake(self) -> None:
        self._wake.set()

    async def classifier(self) -> TextClassifier | None:
        """The classifier, loaded once on the thread; None (and ``unavailable`` says why)
        when it cannot load: insights then wait, and nothing else breaks."""
        if self._classifier is None and self.unavailable is None:
            if self._loading is None:
                self._loading = asyncio.get_running_loop().run_in_executor(self._thread, self._load)
            try:
                self._classifier = check_labels(await asyncio.shield(self._loading))
            except Exception as exc:
                self.unavailable = str(exc) or type(exc).__name__
                log.error("no sentiment classifier, so messages are not classified: %s",
                          self.unavailable)
        return self._classifier

    async def classify(self, texts: Sequence[str]) -> list[tuple[str, dict[str, float]]] | None:
        classifier = await self.classifier()
        if classifier is None:
            return None
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, classifier.classify, list(texts))

    async def label_now(self, pending: Pending) -> Label | None:
        """Label one message at once (the chat answer is waiting for it) and store it."""
        labels = await self._label([pending])
        return labels[0] if labels else None

    async def run(self) -> None:
        """The job: load the classifier (so the first message does not wait seconds for
        it), label what is pending, then sleep until woken or the poll is due."""
        await self.classifier()
        backlog_at = 0.0
        while True:
            batch = await self._store.pending(BATCH, skip=self._skip)
            if not batch and time.monotonic() - backlog_at > IDLE_POLL_S:
                batch = await self._store.pending(BATCH, skip=self._skip, recent=None)
                if not batch:  # all labelled: scan the whole archive again in a minute
                    backlog_at = time.monotonic()
            if batch and await self._label(batch) is not None:
                continue
            self._wake.clear()
            try:  # not wait_for: on 3.11 it loses a cancellation that arrives with a wake
                async with asyncio.timeout(IDLE_POLL_S):
                    await self._wake.wait()
            except TimeoutError:
                pass
            # A wake comes as a message is buffered for the archive; the archive writer
            # stores it within its own delay. Forcing a flush here instead would turn the
            # writer's batches into one transaction per message on a busy server.
            await asyncio.sleep(self._settle_s)

    async def _label(self, batch: list[Pending]) -> list[Label] | None:
        """Label a batch; None when there is no classifier. A batch that fails anywhere
        (classifying, matching products, storing, filing a complaint) is tried one message
        at a time, and a message that fails alone is skipped from then on (logged): one bad
        message must not stop the rest."""
        try:
            return await self._label_batch(batch)
        except Exception:
            if len(batch) == 1:
                log.exception("could not label message %d; skipping it", batch[0].message_id)
                self._skip.add(batch[0].message_id)
                return []
        labels: list[Label] = []
        for p in batch:
            one = await self._label([p])
            if one is None:
                return None
            labels += one
        return labels

    async def _label_batch(self, batch: list[Pending]) -> list[Label] | None:
        results = await self.classify([p.content for p in batch])
        if results is None:
            return None
        labels = []
        for p, (sentiment, scores) in zip(batch, results):
            labels.append(Label(p.message_id, sentiment, score_of(scores),
                                intent(p.content, sentiment),
                                tuple(await self._products(p.guild_id, p.content))))
        stored = await self._store.save(labels, [p.content for p in batch])
        now = time.time() * 1000
        for p, label in zip(batch, labels):
            if (label.message_id in stored and label.intent == "complaint"
                    and now - p.created_at < FOLLOWUP_MAX_AGE_MS):
                await self._on_complaint(p)
        return labels

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
