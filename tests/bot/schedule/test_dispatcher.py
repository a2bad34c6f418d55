"""The dispatcher, driven by a fake clock over a real database: every occurrence is posted
once, through restarts in every state, late starts and two dispatchers at once."""

import asyncio
from datetime import datetime, timezone

import pytest

from bot.core.posting import Posted, PostingError
from bot.schedule.dispatcher import Dispatcher
from bot.schedule.store import ScheduleStore

BOT, GUILD, CHANNEL = 2, 1, 11
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, at=T0):
        self.at = at

    def __call__(self):
        return self.at


class Platform:
    """The posting port as the platform sees it: what was posted, and its history."""

    def __init__(self, clock, fail=None):
        self.clock, self.posts, self.fail = clock, [], fail
        self.crash_after_post = False

    async def send(self, target, reply):
        if self.fail:
            raise PostingError(self.fail)
        posted = Posted(1000 + len(self.posts), target.channel_id, BOT, reply.text,
                        int(self.clock() * 1000))
        self.posts.append((posted, reply))
        if self.crash_after_post:  # the process dies before it records the post
            raise asyncio.CancelledError
        return posted

    async def history(self, target, limit=50):
        return [p for p, _ in reversed(self.posts) if p.channel_id == target.channel_id][:limit]

    def texts(self):
        return [p.content for p, _ in self.posts]


def dispatcher(db, clock, platform, notices=None, **kw):
    async def notify(guild, text):
        (notices if notices is not None else []).append(text)
    return Dispatcher(ScheduleStore(db), platform, bot_user_id=BOT, notify=notify, clock=clock,
                      **kw)


async def add(db, text, at_s, **kw):
    return await ScheduleStore(db).add(GUILD, CHANNEL, text, int(at_s * 1000), tz=kw.pop("tz", "UTC"),
                                       now=int(T0 * 1000), **kw)


async def state(db, item):
    return (await ScheduleStore(db).by_id(item.id)).state


async def test_an_item_is_posted_at_its_time_once_with_its_ping(db):
    clock = Clock()
    platform = Platform(clock)
    item = await add(db, "Winter sale starts now", T0 + 60, ping_role_id=77)
    d = dispatcher(db, clock, platform)
    assert await d.tick() == 0 and platform.posts == []
    clock.at += 61
    assert await d.tick() == 1 and await d.tick() == 0
    (posted, reply), = platform.posts
    assert posted.content == "<@&77> Winter sale starts now" and reply.ping_role == 77
    done = await ScheduleStore(db).by_id(item.id)
    assert (done.state, done.last_message_id, done.sent_count) == ("done", posted.message_id, 1)


async def test_a_restart_in_every_state_posts_each_item_exactly_once(db):
    clock, store = Clock(T0 + 100), ScheduleStore(db)
    platform = Platform(clock)
    now = int(clock() * 1000)
    landed = await add(db, "claimed and posted, not recorded", T0 + 10)
    lost = await add(db, "claimed, never posted", T0 + 20)
    assert [(await store.claim(now, "dead-process")).id for _ in range(2)] == [landed.id, lost.id]
    platform.posts.append((Posted(999, CHANNEL, BOT, landed.text, now + 50), None))
    waiting = await add(db, "still scheduled", T0 + 30)
    finished = await add(db, "already sent", T0 + 40)
    claimed = await store.claim(now, "earlier-run")
    assert claimed.id == waiting.id  # (the earliest first)
    await store.release(claimed, "earlier-run", now)
    paused = await add(db, "paused", T0 + 50)
    await store.set_state(GUILD, paused.number, "paused", ("scheduled",), now)
    await db.write("UPDATE scheduled_posts SET state = 'done' WHERE id = ?", (finished.id,))

    restarted = dispatcher(db, clock, platform, lease_s=120)
    assert await restarted.tick() == 1  # the scheduled one; the claims are not stale yet
    assert platform.texts()[-1] == "still scheduled"
    clock.at += 121
    assert await restarted.tick() == 1  # the lost claim, handed back and sent
    assert sorted(platform.texts()) == sorted(i.text for i in (landed, lost, waiting))
    row = await db.fetchone("SELECT state, last_message_id FROM scheduled_posts WHERE id = ?",
                            (landed.id,))
    assert tuple(row) == ("done", 999)  # found in the history, not posted again
    assert await state(db, paused) == "paused" and await state(db, finished) == "done"


async def test_a_crash_between_posting_and_recording_is_reconciled_not_reposted(db):
    clock = Clock(T0 + 10)
    platform = Platform(clock)
    item = await add(db, "Restock: linen shirts", T0)
    platform.crash_after_post = True
    with pytest.raises(asyncio.CancelledError):
        await dispatcher(db, clock, platform).tick()
    assert await state(db, item) == "sending"
    platform.crash_after_post = False
    clock.at += 200
    assert await dispatcher(db, clock, platform).tick() == 0
    assert platform.texts() == ["Restock: linen shirts"] and await state(db, item) == "done"


async def test_items_missed_while_down_are_posted_late_within_the_grace_window_else_told(db):
    clock = Clock(T0 + 2 * 3600)
    platform, notices = Platform(clock), []
    late = await add(db, "late but fine", T0 + 1.5 * 3600)
    missed = await add(db, "too late", T0)
    daily = await add(db, "daily tip", T0 - 86_400, recurrence="daily")
    await dispatcher(db, clock, platform, notices, grace_s=3600).tick()
    assert platform.texts() == ["late but fine"]
    assert await state(db, late) == "done" and await state(db, missed) == "done"
    assert len(notices) == 2 and all("I did not post it" in n for n in notices)
    assert "The next one is <t:" in notices[0] and "next" not in notices[1]  # daily, one-off
    statuses = await db.fetchall("SELECT post_id, status FROM scheduled_deliveries ORDER BY post_id")
    assert [tuple(r) for r in statuses] == [(late.id, "late"), (missed.id, "missed"),
                                            (daily.id, "missed")]
    nxt = await ScheduleStore(db).by_id(daily.id)
    assert nxt.state == "scheduled" and nxt.due_at == int((T0 + 86_400) * 1000)


async def test_a_recurring_item_moves_to_its_next_local_time_and_ends(db):
    start = datetime(2026, 3, 27, 8, 0, tzinfo=timezone.utc).timestamp()  # 09:00 in Berlin
    clock = Clock(start)
    platform = Platform(clock)
    until = int((start + 2.5 * 86_400) * 1000)  # 03-29 20:00 UTC
    item = await add(db, "good morning", start, recurrence="daily", tz="Europe/Berlin",
                      until_at=until)
    d = dispatcher(db, clock, platform)
    seen = []
    for _ in range(5):
        await d.tick()
        current = await ScheduleStore(db).by_id(item.id)
        seen.append(current.state)
        clock.at = max(clock.at, current.due_at / 1000) + 1
    assert platform.texts() == ["good morning"] * 3  # 03-27, 03-28, 03-29; 03-30 is past until
    times = [datetime.fromtimestamp(p.created_at / 1000, timezone.utc).hour for p, _ in platform.posts]
    assert times == [8, 8, 7]  # 09:00 local each day, across the change to summer time
    assert seen[-1] == "done"


async def test_two_dispatchers_on_one_database_never_post_an_item_twice(db):
    clock = Clock(T0 + 1000)
    platform = Platform(clock)
    for i in range(40):
        await add(db, f"post {i}", T0 + i)
    a, b = dispatcher(db, clock, platform), dispatcher(db, clock, platform)
    await asyncio.gather(a.tick(), b.tick(), a.tick(), b.tick())
    assert sorted(platform.texts()) == sorted(f"post {i}" for i in range(40))


async def test_a_post_the_platform_refuses_fails_once_and_moderators_are_told(db):
    clock = Clock(T0 + 5)
    notices = []
    item = await add(db, "hello", T0)
    await dispatcher(db, clock, Platform(clock, fail="the bot may not post there"), notices).tick()
    assert await state(db, item) == "failed"
    assert notices == ["Scheduled post 1 could not be posted in <#11>: the bot may not post "
                       "there. Fix it, then reschedule it."]


async def test_the_run_loop_wakes_early_for_a_sooner_item(db):
    clock = Clock()
    platform = Platform(clock)
    d = dispatcher(db, clock, platform, cap_s=30)
    task = asyncio.create_task(d.run())
    await asyncio.sleep(0.05)
    await add(db, "now please", T0 - 1)
    d.wake()
    for _ in range(100):
        if platform.posts:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert platform.texts() == ["now please"]
