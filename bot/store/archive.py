"""The message archive: every message the bot can see, for context, insights and export.

Reads return the newest ``limit`` matching messages in chronological order (oldest first),
because every caller feeds them to a prompt or a transcript, which read top to bottom.

Archiving a message also records its author in ``members`` (first and last seen, newest
display name), in the same transaction: every author whose words the bot keeps then has the
row that a data export or deletion request starts from, and that member facts hang off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter

from bot.store.db import Database
from bot.store.keys import DM_GUILD

log = logging.getLogger(__name__)

_NEWEST = 2**63 - 1  # above every snowflake, so "before" can always be a bound parameter


@dataclass(frozen=True, slots=True)
class ArchivedMessage:
    """One archived message. Times are unix milliseconds UTC.

    ``channel_id`` is the text channel; a message in a thread also has ``thread_id``.
    ``guild_id`` is the storage key: ``DM_GUILD`` (0) for direct messages, never None
    (build it with ``guild_key``). ``answered_user_id`` is set on the bot's own posts: the
    member it was answering, so that member's data request finds the answers even after
    the question was deleted.
    """

    message_id: int
    guild_id: int
    channel_id: int
    author_id: int
    content: str
    created_at: int
    thread_id: int | None = None
    author_name: str = ""
    is_bot: bool = False
    reply_to_id: int | None = None
    edited_at: int | None = None
    answered_user_id: int | None = None

    def __post_init__(self) -> None:
        # Checked here, in the caller's frame: as a NOT NULL failure in the database it would
        # fail the writer's whole batch, far from the code that built the message.
        if self.guild_id is None:
            raise ValueError(
                f"message {self.message_id}: guild_id is None; direct messages are archived "
                f"under DM_GUILD ({DM_GUILD}), see bot.store.guild_key"
            )


_COLUMNS = tuple(f.name for f in fields(ArchivedMessage))
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM messages"
_IS_BOT = _COLUMNS.index("is_bot")
_as_row = attrgetter(*_COLUMNS)

# The gateway also reports the bot's own posts, without knowing what they answered; the
# chat feature's write does know. Whichever comes first, a known link is never replaced
# by an unknown one (coalesce).
# An upsert, because backfill after downtime re-reads messages already archived and
# should bring them up to date (edits made while the bot was away) rather than fail.
_UPSERT = (
    f"INSERT INTO messages ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
    "ON CONFLICT (message_id) DO UPDATE SET content = excluded.content, "
    "author_name = excluded.author_name, edited_at = excluded.edited_at, "
    "reply_to_id = coalesce(excluded.reply_to_id, reply_to_id), "
    "answered_user_id = coalesce(excluded.answered_user_id, answered_user_id)"
)

# Seen times only widen, so batches may arrive in any order (backfill writes old messages
# after new ones) and the CHECK (last_seen >= first_seen) holds. The name follows the newest
# message, so an old message archived late does not bring back a name the member dropped.
# SET expressions read the row as it was before the update, hence last_seen in the CASE is
# the stored one. Migration 0002's backfill applies the same rule.
MEMBER_UPSERT = (
    "INSERT INTO members (guild_id, user_id, display_name, first_seen, last_seen) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
    "display_name = CASE WHEN excluded.last_seen >= last_seen "
    "THEN excluded.display_name ELSE display_name END, "
    "first_seen = min(first_seen, excluded.first_seen), "
    "last_seen = max(last_seen, excluded.last_seen)"
)
_ID, _GUILD, _AUTHOR, _NAME, _AT = map(
    _COLUMNS.index, ("message_id", "guild_id", "author_id", "author_name", "created_at")
)


def members_seen(rows: Iterable[Sequence]) -> list[tuple[int, int, str, int, int]]:
    """``MEMBER_UPSERT`` parameters for message rows (in ``ArchivedMessage`` field order):
    one per distinct (guild, author), so a batch of 1,000 messages from a few dozen regulars
    costs a few dozen upserts, not 1,000. The newest message (latest ``created_at``, then
    highest id) names the member. Public for bench/store.py's raw-SQLite peer.
    """
    seen: dict[tuple[int, int], list] = {}
    for row in rows:
        key, at = (row[_GUILD], row[_AUTHOR]), row[_AT]
        known = seen.get(key)
        if known is None:
            seen[key] = [at, at, row[_ID], row[_NAME]]
            continue
        if at < known[0]:
            known[0] = at
        if at > known[1] or (at == known[1] and row[_ID] > known[2]):
            known[1:] = at, row[_ID], row[_NAME]
    return [
        (guild, user, name, first, last)
        for (guild, user), (first, last, _, name) in seen.items()
    ]


def _message(row: Sequence) -> ArchivedMessage:
    values = list(row)
    values[_IS_BOT] = bool(values[_IS_BOT])
    return ArchivedMessage(*values)


class Archive:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, message: ArchivedMessage) -> None:
        await self.add_many([message])

    async def add_many(self, messages: Sequence[ArchivedMessage]) -> None:
        """Archive a batch and upsert its authors' ``members`` rows in one transaction: one
        commit (one WAL sync point) per batch, and never a message without its member row."""
        if not messages:
            return
        rows = [_as_row(m) for m in messages]
        members = members_seen(rows)  # built before taking the write lock
        async with self._db.transaction() as conn:
            await conn.executemany(_UPSERT, rows)
            await conn.executemany(MEMBER_UPSERT, members)

    async def edit(self, message_id: int, content: str, edited_at: int) -> bool:
        """Record an edit; False if the message was never archived."""
        changed = await self._db.write(
            "UPDATE messages SET content = ?, edited_at = ? WHERE message_id = ?",
            (content, edited_at, message_id),
        )
        return changed > 0

    async def delete(self, message_id: int) -> bool:
        """Forget a message deleted on Discord; False if it was not archived."""
        return await self._db.write("DELETE FROM messages WHERE message_id = ?", (message_id,)) > 0

    async def delete_many(self, message_ids: Iterable[int]) -> int:
        """Forget a bulk deletion (a purge) in one transaction; return how many were archived."""
        return await self._db.write_many(
            "DELETE FROM messages WHERE message_id = ?", [(i,) for i in message_ids]
        )

    async def recent(
        self, channel_id: int, limit: int, before_id: int | None = None
    ) -> list[ArchivedMessage]:
        """The channel's newest messages (outside threads), oldest first.

        ``before_id`` pages backwards: only messages older than that id are returned.
        """
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE channel_id = ? AND thread_id IS NULL AND message_id < ? "
            "ORDER BY message_id DESC LIMIT ?",
            (channel_id, _NEWEST if before_id is None else before_id, limit),
        )
        return [_message(row) for row in reversed(rows)]

    async def by_author(self, guild_id: int, user_id: int, limit: int) -> list[ArchivedMessage]:
        """A member's newest messages in one guild (``DM_GUILD``: their direct messages),
        oldest first."""
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE author_id = ? AND guild_id = ? ORDER BY message_id DESC LIMIT ?",
            (user_id, guild_id, limit),
        )
        return [_message(row) for row in reversed(rows)]

    async def thread(self, thread_id: int, limit: int) -> list[ArchivedMessage]:
        """A thread's newest messages, oldest first."""
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE thread_id = ? ORDER BY message_id DESC LIMIT ?",
            (thread_id, limit),
        )
        return [_message(row) for row in reversed(rows)]

    async def reply_chain(self, message_id: int, limit: int) -> list[ArchivedMessage]:
        """``message_id`` and the messages it replies to, up to ``limit`` in all, oldest first.

        One recursive query instead of one round trip per hop. Hops stop at a message that
        is not archived (sent before the bot joined, or deleted).
        """
        rows = await self._db.fetchall(
            "WITH RECURSIVE chain(id, depth) AS (SELECT ?, 1 UNION ALL "
            "SELECT m.reply_to_id, chain.depth + 1 FROM messages m JOIN chain "
            "ON m.message_id = chain.id WHERE m.reply_to_id IS NOT NULL AND chain.depth < ?) "
            f"{_SELECT} WHERE message_id IN (SELECT id FROM chain) ORDER BY message_id",
            (message_id, limit),
        )
        return [_message(row) for row in rows]

    async def has_spoken_in_thread(self, thread_id: int, author_id: int) -> bool:
        """Whether ``author_id`` posted in the thread or wrote the message it was started
        from (on Discord a thread started from a message shares that message's id)."""
        row = await self._db.fetchone(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE thread_id = ? AND author_id = ?) "
            "OR EXISTS (SELECT 1 FROM messages WHERE message_id = ? AND author_id = ?)",
            (thread_id, author_id, thread_id, author_id),
        )
        return bool(row[0])


class ArchiveWriter:
    """Write-behind buffer: gateway events append, one transaction per batch hits disk.

    A batch is written when it reaches ``max_rows`` or ``max_delay_s`` after its first
    message, whichever comes first, so archiving keeps up with busy servers while a quiet
    channel's message is still on disk within the delay.

    Edits and deletions go through the writer too: they flush first, because an edit or
    delete applied before the buffered insert would be undone by that insert (a deleted
    message would come back). One lock orders flushes, edits and deletes.

    If a write fails the batch goes back to the front of the buffer and is retried on the
    next flush; the timer-driven flush logs the error, an explicit flush raises it.
    """

    def __init__(self, archive: Archive, max_rows: int = 1000, max_delay_s: float = 0.25) -> None:
        if max_rows < 1 or max_delay_s <= 0:
            raise ValueError("max_rows must be >= 1 and max_delay_s > 0")
        self._archive = archive
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._buffer: list[ArchivedMessage] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._buffer)

    @property
    def max_delay_s(self) -> float:
        """At most this long after ``add``, the message is written (or being written)."""
        return self._max_delay_s

    async def add(self, message: ArchivedMessage) -> None:
        if self._closed:
            raise RuntimeError("ArchiveWriter is closed")
        self._buffer.append(message)
        if len(self._buffer) >= self._max_rows:
            await self.flush()
        elif self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._flush_later())

    async def flush(self) -> None:
        async with self._lock:
            await self._flush_locked()

    async def edit(self, message_id: int, content: str, edited_at: int) -> bool:
        async with self._lock:
            await self._flush_locked()
            return await self._archive.edit(message_id, content, edited_at)

    async def delete(self, message_id: int) -> bool:
        async with self._lock:
            await self._flush_locked()
            return await self._archive.delete(message_id)

    async def delete_many(self, message_ids: Iterable[int]) -> int:
        async with self._lock:
            await self._flush_locked()
            return await self._archive.delete_many(message_ids)

    async def close(self) -> None:
        """Write what is buffered and stop; the database stays open."""
        self._closed = True
        async with self._lock:
            # Holding the lock, the timer is asleep or waiting for the lock, never
            # mid-write, so cancelling it cannot interrupt a transaction.
            timer, self._timer = self._timer, None
            if timer is not None:
                timer.cancel()
            await self._flush_locked()
        if timer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await timer

    async def _flush_locked(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        try:
            await self._archive.add_many(batch)
        except BaseException:
            self._buffer[:0] = batch
            raise

    async def _flush_later(self) -> None:
        while self._buffer:
            await asyncio.sleep(self._max_delay_s)
            try:
                await self.flush()
            except Exception:
                log.exception("archiving failed; %d messages kept for retry", len(self._buffer))
