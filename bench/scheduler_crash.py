"""Reliability check: does the scheduler post every item exactly once through SIGKILLs?

    python -m bench.scheduler_crash [--items 200] [--spread 60] [--kills 20] [--seed 1]

Schedules ``--items`` one-off posts due over ``--spread`` seconds in a real SQLite file,
then runs the bot's dispatcher (``bot.schedule.dispatcher``) in a subprocess and kills it
with SIGKILL at random moments, at least ``--kills`` times, restarting it each time; a
last run, left alone, finishes what is due. "Discord" is a second SQLite file the child
writes each post into (a commit there is the platform accepting the message) and reads
its history from; the child waits a random few milliseconds before and after each post,
so kills land between claiming, posting and recording. Prints one JSON object with
``posted`` (distinct items posted), ``duplicates`` (posts beyond one per item), ``lost``
(items never posted), ``missed`` (recorded as missed), ``kills``, and how many claims a
killed child left behind were found already posted or sent after all (``reconciled_*``:
the kills that landed inside the window the reconciliation exists for). Target: 0 duplicates
and 0 lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.core.posting import ChannelTarget, Posted, PostingError
from bot.schedule.dispatcher import Dispatcher
from bot.schedule.store import ScheduleStore
from bot.store import Database

GUILD, CHANNEL, BOT = 1, 11, 2
LEASE_S = 2.0  # short, so a killed claim is reconciled within the run


class PlatformFile:
    """The posting port over a SQLite file standing in for Discord's side."""

    def __init__(self, path: Path, rng: random.Random) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("CREATE TABLE IF NOT EXISTS posts (id INTEGER PRIMARY KEY, "
                           "channel_id INTEGER, author_id INTEGER, content TEXT, created_at INTEGER)")
        self._rng = rng

    async def send(self, target, reply) -> Posted:
        await asyncio.sleep(self._rng.uniform(0, 0.02))  # the request on its way
        now = int(time.time() * 1000)
        cursor = self._conn.execute("INSERT INTO posts (channel_id, author_id, content, created_at) "
                                    "VALUES (?, ?, ?, ?)", (target.channel_id, BOT, reply.text, now))
        await asyncio.sleep(self._rng.uniform(0, 0.02))  # the answer on its way back
        return Posted(cursor.lastrowid, target.channel_id, BOT, reply.text, now)

    async def history(self, target: ChannelTarget, limit: int = 50) -> list[Posted]:
        rows = self._conn.execute("SELECT id, channel_id, author_id, content, created_at FROM posts "
                                  "WHERE channel_id = ? ORDER BY id DESC LIMIT ?",
                                  (target.channel_id, limit)).fetchall()
        return [Posted(*r) for r in rows]

    async def edit(self, *args, **kwargs) -> None:
        raise PostingError("not used here")

    delete = create_event = edit


async def child(workdir: Path, seed: int) -> None:
    logging.basicConfig(filename=workdir / "child.log", level=logging.INFO)
    db = await Database.open(workdir / "bot.db")

    async def notify(guild: int, text: str) -> None:
        print(json.dumps({"notice": text}), flush=True)

    dispatcher = Dispatcher(ScheduleStore(db), PlatformFile(workdir / "platform.db", random.Random(seed)),
                            bot_user_id=BOT, notify=notify, grace_s=3600, lease_s=LEASE_S, cap_s=0.25)
    try:
        await dispatcher.run()
    finally:
        await db.close()


async def schedule(workdir: Path, items: int, spread: float, rng: random.Random) -> None:
    db = await Database.open(workdir / "bot.db")
    store, now = ScheduleStore(db), int(time.time() * 1000)
    for i in range(items):
        await store.add(GUILD, CHANNEL, f"scheduled post {i:04d}",
                        now + int(rng.uniform(0.5, spread) * 1000), tz="UTC", now=now)
    await db.close()


def start_child(workdir: Path, seed: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.scheduler_crash", "--child", str(workdir),
                             "--seed", str(seed)], stdout=subprocess.DEVNULL)


def tally(workdir: Path, items: int) -> dict:
    platform = sqlite3.connect(workdir / "platform.db")
    rows = platform.execute("SELECT content, COUNT(*) FROM posts GROUP BY content").fetchall()
    bot = sqlite3.connect(workdir / "bot.db")
    missed = bot.execute("SELECT COUNT(*) FROM scheduled_deliveries WHERE status = 'missed'").fetchone()[0]
    left = bot.execute("SELECT COUNT(*) FROM scheduled_posts WHERE state != 'done'").fetchone()[0]
    log = (workdir / "child.log").read_text() if (workdir / "child.log").exists() else ""
    return {"items": items, "posted": len(rows), "duplicates": sum(n - 1 for _, n in rows),
            "lost": items - len(rows) - missed, "missed": missed, "not_done": left,
            # claims a killed child left: found already posted, or sent after all
            "reconciled_posted": log.count("had been posted before a restart"),
            "reconciled_unposted": log.count("was claimed but not posted")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the items are due over")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        asyncio.run(child(args.child, args.seed))
        return
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        asyncio.run(schedule(workdir, args.items, args.spread, rng))
        started, kills = time.monotonic(), 0
        pause = args.spread / args.kills
        while kills < args.kills:
            process = start_child(workdir, rng.randrange(1 << 30))
            time.sleep(rng.uniform(0.3, 2 * pause))  # start-up is part of the window
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            print(f"kill {kills}/{args.kills} at {time.monotonic() - started:.1f} s", file=sys.stderr)
        final = start_child(workdir, rng.randrange(1 << 30))
        deadline = time.monotonic() + args.spread + 4 * LEASE_S + 30
        while time.monotonic() < deadline and tally(workdir, args.items)["not_done"]:
            time.sleep(0.5)
        final.send_signal(signal.SIGTERM)
        final.wait()
        result = tally(workdir, args.items) | {"kills": kills,
                                               "seconds": round(time.monotonic() - started, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
