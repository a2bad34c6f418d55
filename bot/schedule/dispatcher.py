"""The dispatcher: one task that posts scheduled items when they are due, exactly once.

It sleeps until the next due item, at most ``cap_s`` (so a changed clock is noticed), and
``wake()`` cuts the sleep short when a sooner item is added. Each turn (``tick``):

1. **Reconcile** claims older than the lease (a dispatcher that died, or hung, between
   claiming and recording): take the claim over, look for the post in the channel's
   recent history (by the bot, with the item's exact text, created after the claim), and
   record it as sent if it is there. Only if it is absent is the item handed back to be
   sent. A send is cut off at half the lease, so a post that landed is in the history
   before anyone looks.
2. **Deliver** every due item: claim it (scheduled → sending, compare-and-set, so of two
   dispatchers on one database only one gets it), post it, and record the message id
   together with the move to the next occurrence (or done). An item more than
   ``grace_s`` late (the bot was down) is recorded as missed instead, and moderators
   are told; a recurring one goes on from its next occurrence after that.

The clock is injected (``clock`` returns seconds): tests drive ``tick`` with a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from bot.core.posting import ChannelTarget, Poster, PostingError
from bot.core.replies import Reply
from bot.schedule.store import Item, ScheduleStore

log = logging.getLogger(__name__)

CLOCK_SKEW_MS = 5_000  # between our clock and the platform's message timestamps
LATE_MS = 60_000       # posted more than this after its time counts as "late"

Notify = Callable[[int, str], Awaitable[None]]  # guild id, text for its moderators


def content_of(item: Item) -> str:
    """What the post says, exactly as it is sent (and found again in history)."""
    return f"<@&{item.ping_role_id}> {item.text}" if item.ping_role_id else item.text


class Dispatcher:
    def __init__(self, store: ScheduleStore, poster: Poster, *, bot_user_id: int,
                 notify: Notify, clock: Callable[[], float] = time.time,
                 grace_s: float = 3600, lease_s: float = 120, cap_s: float = 60) -> None:
        self._store = store
        self._poster = poster
        self._bot = bot_user_id
        self._notify = notify
        self._clock = clock
        self.grace_ms = int(grace_s * 1000)
        self.lease_ms = int(lease_s * 1000)
        self._cap_s = cap_s
        self.token = uuid.uuid4().hex  # this dispatcher's name on its claims
        self._wake = asyncio.Event()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def wake(self) -> None:
        """A sooner item may have been added: look again now."""
        self._wake.set()

    async def run(self) -> None:
        """The background job: tick, then sleep until the next item (capped) or a wake."""
        while True:
            self._wake.clear()
            await self.tick()
            due = await self._store.next_due()
            delay = self._cap_s if due is None else min(self._cap_s, max(0.0, (due - self._now()) / 1000))
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for loses a cancellation that
                # arrives as the event is set, and shutdown would wait out the sleep
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> int:
        """Reconcile stale claims, then deliver everything due; how many were delivered."""
        for stale in await self._store.stale(self._now() - self.lease_ms):
            await self._reconcile(stale)
        delivered = 0
        while (item := await self._store.claim(self._now(), self.token)) is not None:
            await self._deliver(item)
            delivered += 1
        return delivered

    def _next(self, item: Item, now: int) -> int | None:
        return item.next_due(max(item.due_at, now - self.grace_ms))

    async def _deliver(self, item: Item) -> None:
        now = self._now()
        target = ChannelTarget(item.guild_id, item.channel_id)
        if now - item.due_at > self.grace_ms:
            nxt = self._next(item, now)
            await self._store.finish(item, self.token, "missed", now, next_due=nxt)
            await self._tell(item, f"Scheduled post {item.number} for <#{item.channel_id}> was due "
                             f"<t:{item.due_at // 1000}:f>, while I was offline; it is more than "
                             f"{self.grace_ms // 60_000} minutes late, so I did not post it."
                             + (f" The next one is <t:{nxt // 1000}:f>." if nxt else ""))
            return
        try:
            async with asyncio.timeout(self.lease_ms / 2000):
                posted = await self._poster.send(target, Reply(content_of(item), private=False,
                                                               ping_role=item.ping_role_id))
        except TimeoutError:
            log.warning("posting scheduled item %d timed out; reconciliation decides", item.id)
            return  # it may have landed: the claim stays, and goes stale after the lease
        except PostingError as exc:
            await self._store.finish(item, self.token, "failed", now, error=str(exc))
            await self._tell(item, f"Scheduled post {item.number} could not be posted in "
                             f"<#{item.channel_id}>: {exc}. Fix it, then reschedule it.")
            return
        done = self._now()
        status = "late" if done - item.due_at > LATE_MS else "sent"
        await self._store.finish(item, self.token, status, done, message_id=posted.message_id,
                                 next_due=self._next(item, done))

    async def _reconcile(self, stale: Item) -> None:
        item = await self._store.take_over(stale, self.token, self._now())
        if item is None:
            return  # another dispatcher got there first
        target = ChannelTarget(item.guild_id, item.channel_id)
        try:
            history = await self._poster.history(target, limit=50)
        except PostingError as exc:
            log.warning("cannot read #%d to reconcile scheduled post %d: %s", item.channel_id,
                        item.id, exc)
            return  # never post blind: it stays claimed and is looked at after the lease
        content, since = content_of(item), (stale.claimed_at or 0) - CLOCK_SKEW_MS
        found = next((p for p in history if p.author_id == self._bot and p.content == content
                      and p.created_at >= since), None)
        if found is None:
            log.info("scheduled post %d was claimed but not posted; sending it", item.id)
            await self._store.release(item, self.token, self._now())
            return
        now = self._now()
        await self._store.finish(item, self.token, "sent", now, message_id=found.message_id,
                                 next_due=self._next(item, now))
        log.info("scheduled post %d had been posted before a restart (message %d)", item.id,
                 found.message_id)

    async def _tell(self, item: Item, text: str) -> None:
        try:
            await self._notify(item.guild_id, text)
        except Exception:
            log.exception("could not tell guild %d's moderators about post %d", item.guild_id, item.id)
