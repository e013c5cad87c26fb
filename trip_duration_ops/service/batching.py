"""Adaptive batching: trips that arrive while the model is busy are scored together in one call.

scikit-learn's cost per `predict` call (a frame, the ColumnTransformer's checks) dwarfs its cost
per trip, so under load the service makes one call for everything that queued meanwhile,
as BentoML and Triton do, without a timer: an idle service scores a lone request at once.
Linear models skip most of that cost (deployment.Loaded.predict scores them with numpy lookups)
and are scored on the event loop, where a thread hop would cost more than the work. Other models
(gradient boosting, whose predict is slow on a large batch: docs/serving.md) are scored in a
worker thread, so the event loop goes on answering /health and the requests that queue for the
next batch.
"""

import asyncio
from typing import Any

import numpy as np

from trip_duration_ops.service.deployment import Loaded, columns
from trip_duration_ops.service.metrics import Metrics

Job = tuple[Loaded, list[dict[str, Any]], asyncio.Future]


def score(loaded: Loaded, trips: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The trips' minutes, and the trips as the columns the model read (for the metrics)."""
    data = columns(trips, loaded.columns)
    return loaded.predict_columns(data), data


class Batcher:
    def __init__(self, max_trips: int = 20_000, metrics: Metrics | None = None) -> None:
        self.max_trips, self.metrics = max_trips, metrics
        self.queue: asyncio.Queue[Job] = asyncio.Queue()

    async def predict(self, loaded: Loaded, trips: list[dict[str, Any]]) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((loaded, trips, future))
        return await future

    def _take(self, first: Job) -> list[Job]:
        jobs, trips = [first], len(first[1])
        while trips < self.max_trips and not self.queue.empty():
            job = self.queue.get_nowait()
            jobs.append(job)
            trips += len(job[1])
        return jobs

    async def _score(self, jobs: list[Job]) -> None:
        # Each job is scored by the model it started with: a swap never changes a request's model.
        for loaded in {id(job[0]): job[0] for job in jobs}.values():
            group = [job for job in jobs if job[0] is loaded and not job[2].done()]
            if not group:
                continue
            try:
                rows = [trip for job in group for trip in job[1]]
                if loaded.scorer is None:
                    minutes, data = await asyncio.to_thread(score, loaded, rows)
                else:
                    minutes, data = score(loaded, rows)
            except Exception as error:  # a model that passed its probe: not the client's fault
                for job in group:
                    if not job[2].done():
                        job[2].set_exception(error)
                continue
            if self.metrics is not None:
                self.metrics.scored(minutes, loaded.unseen(data))
            start = 0
            for job in group:
                if not job[2].done():  # a client that left while its trips were scored
                    job[2].set_result(minutes[start : start + len(job[1])])
                start += len(job[1])

    async def step(self) -> None:
        """Score one batch: what queued while the last one was scored."""
        jobs = self._take(await self.queue.get())
        try:
            await self._score(jobs)
        except BaseException as error:  # nothing taken is left waiting, whatever went wrong
            for job in jobs:
                if not job[2].done():
                    job[2].set_exception(error if isinstance(error, Exception) else RuntimeError("stopped"))
            raise
        await asyncio.sleep(0)  # let the requests just answered write their responses
