"""Storage benchmark: archive ingest and context-fetch latency, next to simpler peers.

Prints one JSON object. The bot's numbers go through the real code path (ArchiveWriter →
Archive.add_many for ingest, Archive.recent for context); the peers run on the same machine
in the same run, because absolute numbers mean little across machines:

* raw_sqlite_1000_per_tx: plain sqlite3 executemany, 1,000 rows per transaction, same schema
  and pragmas, and the same members upsert per batch (Archive.add_many records each author):
  the ceiling for this schema, so the ratio is the cost of the async layers.
* aiosqlite_commit_per_msg: the naive async approach, one commit per message.

Message synthesis is timed together with the writes on every path, so the bot's ingest
figure includes building its ArchivedMessage objects, as the bot must.

    python -m bench.store                    # 1,000,000 messages, about a minute
    python -m bench.store --messages 50000   # quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import aiosqlite

from bot.store import Archive, ArchivedMessage, ArchiveWriter, Database, migrate
from bot.store.archive import MEMBER_UPSERT, members_seen
from bot.store.db import PRAGMAS

DISCORD_EPOCH_MS = 1_420_070_400_000
START_MS = 1_700_000_000_000
GUILD = 1
CONTEXT = 30
COMMIT_PER_MSG_COUNT = 2_000
COLUMNS = [f.name for f in fields(ArchivedMessage)]
INSERT = f"INSERT INTO messages ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
WORDS = (
    "hi does the merino hoodie run small or large I ordered a size M last week and it still "
    "has not shipped can someone check tracking number thanks love the new colors when is "
    "restock for socks what is the return policy for sale items discount code not working"
).split()


def synthetic(count: int, channels: int, seed: int = 7) -> Iterator[tuple]:
    """Rows in ``ArchivedMessage`` field order: time-ordered snowflakes, 5% in threads."""
    rng = random.Random(seed)
    texts = [" ".join(rng.choices(WORDS, k=rng.randint(3, 40))) for _ in range(2_000)]
    channel_ids = [1_000 + c for c in range(channels)]
    for i in range(count):
        created_at = START_MS + i
        channel = channel_ids[rng.randrange(channels)]
        thread = channel + 500_000 if rng.random() < 0.05 else None
        author = 10_000 + rng.randrange(5_000)
        yield (
            (created_at - DISCORD_EPOCH_MS) << 22,  # message_id
            GUILD, channel, author, texts[rng.randrange(len(texts))], created_at,
            thread, f"member{author}", False, None, None,
        )


async def bot_ingest(path: Path, count: int, channels: int) -> float:
    db = await Database.open(path)
    try:
        writer = ArchiveWriter(Archive(db))  # the bot's defaults
        start = time.perf_counter()
        for row in synthetic(count, channels):
            await writer.add(ArchivedMessage(*row))
        await writer.close()
        return count / (time.perf_counter() - start)
    finally:
        await db.close()


async def context_fetch(path: Path, channels: int, fetches: int) -> list[float]:
    db = await Database.open(path)
    try:
        archive = Archive(db)
        rng = random.Random(11)
        timings = []
        for n in range(fetches + 100):
            channel = 1_000 + rng.randrange(channels)
            start = time.perf_counter()
            rows = await archive.recent(channel, CONTEXT)
            elapsed = time.perf_counter() - start
            assert len(rows) == CONTEXT, "benchmark needs >= 30 messages per channel"
            if n >= 100:  # the first fetches warm SQLite's page cache
                timings.append(elapsed * 1000)
        return sorted(timings)
    finally:
        await db.close()


async def raw_sqlite(path: Path, count: int, channels: int) -> float:
    await migrate(path)
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:  # same settings as the bot: this peer isolates the async layers
        conn.execute(pragma)
    rows = synthetic(count, channels)
    start = time.perf_counter()
    while chunk := [row for _, row in zip(range(1_000), rows)]:
        conn.execute("BEGIN")
        conn.executemany(INSERT, chunk)
        conn.executemany(MEMBER_UPSERT, members_seen(chunk))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


async def aiosqlite_commit_per_msg(path: Path, channels: int) -> float:
    await migrate(path)
    async with aiosqlite.connect(path) as conn:
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        start = time.perf_counter()
        for row in synthetic(COMMIT_PER_MSG_COUNT, channels):
            await conn.execute(INSERT, row)
            await conn.commit()
        return COMMIT_PER_MSG_COUNT / (time.perf_counter() - start)


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--fetches", type=int, default=5_000)
    parser.add_argument("--db", type=Path, help="where to build the bot's database (must not exist)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-store-") as scratch:
        scratch_dir = Path(scratch)
        path = args.db or scratch_dir / "bot.db"
        if path.exists():
            parser.error(f"{path} exists; the benchmark needs a fresh database")
        ingest = await bot_ingest(path, args.messages, args.channels)
        timings = await context_fetch(path, args.channels, args.fetches)
        size = path.stat().st_size
        raw = await raw_sqlite(scratch_dir / "raw.db", args.messages, args.channels)
        naive = await aiosqlite_commit_per_msg(scratch_dir / "naive.db", args.channels)

    print(json.dumps({
        "messages": args.messages,
        "channels": args.channels,
        "db_bytes": size,
        "sqlite_version": sqlite3.sqlite_version,
        "ingest_msgs_per_s": round(ingest),
        "context_fetch_messages": CONTEXT,
        "context_fetches": len(timings),
        "context_fetch_p50_ms": round(percentile(timings, 0.50), 3),
        "context_fetch_p99_ms": round(percentile(timings, 0.99), 3),
        "context_fetch_max_ms": round(timings[-1], 3),
        "raw_sqlite_1000_per_tx_msgs_per_s": round(raw),
        "aiosqlite_commit_per_msg_msgs_per_s": round(naive),
        "ingest_vs_raw_sqlite": round(ingest / raw, 3),
        "ingest_vs_commit_per_msg": round(ingest / naive, 1),
    }))


if __name__ == "__main__":
    asyncio.run(main())
