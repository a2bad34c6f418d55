"""The labelling job: a backlog older than the newest messages it watches is labelled
batch after batch, not one batch per idle poll."""

import asyncio

from bot.insights import labeller as labeller_module
from bot.insights.labeller import Labeller
from bot.insights.store import RECENT, InsightsStore
from bot.store import Archive, ArchivedMessage
from tests.bot.harness import ScriptedClassifier


class SmallWindow(InsightsStore):
    """Watches the newest 3 messages instead of 2,000, so 12 make a backlog."""

    async def pending(self, limit, skip=frozenset(), recent=RECENT):
        return await super().pending(limit, skip, 3 if recent else None)


async def test_a_backlog_is_labelled_without_waiting_for_the_idle_poll(db, monkeypatch):
    monkeypatch.setattr(labeller_module, "BATCH", 2)
    await Archive(db).add_many([ArchivedMessage(mid, 1, 11, 40 + mid, f"message {mid}", 1000 * mid)
                                for mid in range(1, 13)])

    async def no_products(guild, text):
        return []

    async def no_followup(pending):
        return None

    job = Labeller(SmallWindow(db), ScriptedClassifier, products=no_products,
                   on_complaint=no_followup, settle_s=0.0)
    task = asyncio.create_task(job.run())
    try:
        for _ in range(250):  # 5 s; the idle poll is 60 s
            labelled = await db.fetchone("SELECT COUNT(*) FROM message_labels")
            if labelled[0] == 12:
                break
            await asyncio.sleep(0.02)
        assert labelled[0] == 12
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        job.close()
