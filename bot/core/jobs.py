"""Background jobs: async loops the runtime owns (the scheduler, retention, digests).

The runtime starts them after the database and the model, and at shutdown cancels and
awaits them before the database closes, so a job never writes to a closed database. A
job that crashes is logged and restarted after a back-off that doubles up to a cap (a
job failing on every start must not spin the CPU or flood the log), and resets once a
run has lasted longer than the cap. A job that returns is done and is not restarted.

Jobs run on the event loop: anything slow (a model call, a big query) must await, or
go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], Awaitable[None]] = field(compare=False)
    first_backoff_s: float = 1.0
    max_backoff_s: float = 300.0


class Jobs:
    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._sleep = sleep
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, job: Job) -> None:
        if job.name in self._tasks:
            raise ValueError(f"two jobs are called {job.name!r}")
        self.restarts[job.name] = 0
        self._tasks[job.name] = asyncio.create_task(self._supervise(job), name=f"job-{job.name}")

    @property
    def running(self) -> list[str]:
        return [name for name, task in self._tasks.items() if not task.done()]

    async def _supervise(self, job: Job) -> None:
        backoff = job.first_backoff_s
        while True:
            started = time.monotonic()
            try:
                await job.run()
                log.info("job %s finished", job.name)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() - started > job.max_backoff_s:
                    backoff = job.first_backoff_s
                log.exception("job %s crashed; restarting in %.1f s", job.name, backoff)
            await self._sleep(backoff)
            backoff = min(backoff * 2, job.max_backoff_s)
            self.restarts[job.name] += 1

    async def close(self) -> None:
        """Cancel every job and wait until each has finished cancelling."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
