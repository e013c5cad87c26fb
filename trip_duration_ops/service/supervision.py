"""The service's background loops (the batcher, the deployment poll), kept alive through any exception.

A loop repeats one step. A step that raises is logged (with its traceback the first time in a row,
then one line each), and the loop waits a backoff (doubling from `backoff` up to `max_backoff`
seconds) before the next step; a step that succeeds ends the streak. A loop that has failed
`stuck_after` times in a row, or whose task has ended, cannot go on: `problem()` says why, and
/ready turns 503 with that reason while /health stays 200.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from trip_duration.errors import one_line

log = logging.getLogger("trip_duration.service")


class Loop:
    """A task that runs `step` forever, surviving its exceptions."""

    def __init__(
        self,
        name: str,
        step: Callable[[], Awaitable[object]],
        backoff: float = 0.1,
        max_backoff: float = 30.0,
        stuck_after: int = 3,
    ) -> None:
        self.name, self.step = name, step
        self.backoff, self.max_backoff, self.stuck_after = backoff, max_backoff, stuck_after
        self.failures = 0  # in a row
        self.failing_since: float | None = None
        self.error: str | None = None
        self.task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        self.task = asyncio.create_task(self.run(), name=self.name)
        return self.task

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as error:  # anything but cancellation: log, wait, try again
                await self._failed(error)
            else:
                if self.failures:
                    log.info("%s: going on after %d failure(s)", self.name, self.failures)
                    self.failures, self.failing_since, self.error = 0, None, None

    async def _failed(self, error: Exception) -> None:
        text = one_line(error, typed=True)
        self.failures += 1
        wait = min(self.backoff * 2 ** (self.failures - 1), self.max_backoff)
        if self.failures == 1 or text != self.error:
            log.exception("%s failed (retrying in %.1f s)", self.name, wait)
        else:
            log.error("%s failed again, %d times in a row: %s (retrying in %.1f s)",
                      self.name, self.failures, text, wait)  # fmt: skip
        self.failing_since = self.failing_since or time.time()
        self.error = text
        await asyncio.sleep(wait)

    def stopped(self) -> bool:
        return self.task is not None and self.task.done()

    def problem(self) -> str | None:
        """Why the loop cannot go on, or None while it can."""
        if self.task is not None and self.task.done():
            ended = "cancelled" if self.task.cancelled() else repr(self.task.exception())
            return f"the {self.name} has stopped ({ended})"
        if self.failures >= self.stuck_after:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.failing_since))
            return f"the {self.name} has failed {self.failures} times in a row since {since}: {self.error}"
        return None

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
