"""Background jobs: restarted after a crash, cancelled and awaited at shutdown."""

import asyncio

from bot.core.jobs import Job, Jobs


async def test_a_crashing_job_is_restarted_with_backoff(caplog):
    runs = []
    sleeps = []
    second_run = asyncio.Event()

    async def flaky():
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError("boom")
        second_run.set()
        await asyncio.Event().wait()  # a healthy job runs until cancelled

    async def no_wait(seconds):
        sleeps.append(seconds)

    jobs = Jobs(sleep=no_wait)
    jobs.start(Job("flaky", flaky, first_backoff_s=1.0, max_backoff_s=30.0))
    await asyncio.wait_for(second_run.wait(), 10)
    assert runs == [0, 1, 2] and sleeps == [1.0, 2.0] and jobs.restarts["flaky"] == 2
    assert caplog.text.count("job flaky crashed") == 2
    assert jobs.running == ["flaky"]
    await jobs.close()
    assert jobs.running == []


async def test_close_cancels_and_waits_for_each_job_to_finish_cancelling():
    cleaned = asyncio.Event()
    started = asyncio.Event()

    async def worker():
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.set()

    jobs = Jobs()
    jobs.start(Job("worker", worker))
    await started.wait()
    await jobs.close()
    assert cleaned.is_set()


async def test_a_job_that_returns_is_done():
    done = []

    async def once():
        done.append(1)

    jobs = Jobs()
    jobs.start(Job("once", once))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert done == [1] and jobs.running == []
    await jobs.close()
