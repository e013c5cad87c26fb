"""A task per month, run here or on the Dask cluster that params.yaml's `compute` names.

    with ExitStack() as stack:  # closes the cluster's client, if one was connected
        each_month = month_tasks(read_compute("params.yaml"), stack, "params.yaml", "monitor")
        for outcome in each_month(monitoring.judge, months, data_dir, taxi, watch=w, reference_=r):
            record, current = outcome()  # the month's result, or its task's error raised here

With `local`, an outcome does the month's work when called, as a loop over the months would. With
`dask`, each month is a task on the cluster (a few submitted ahead, trip_duration.cluster.submitted)
and its outcome waits for the result. Either way a month's error is raised by its own outcome, so a
caller may report it and go on with the next month. The `monitor` stage, `trip-duration monitor`
and `trip-duration score` run their months this way; the outputs are the same.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from trip_duration.params import Compute, cluster_module

Outcomes = Iterator[Callable[[], Any]]
# (task, months, data_dir, taxi, **shared) -> an outcome per month, in the months' order; `task`
# is called as task(month=..., data_dir=..., **shared).
MonthTasks = Callable[..., Outcomes]


def month_tasks(compute: Compute, stack: ExitStack, where: str | Path, command: str) -> MonthTasks:
    """Months run here, or as tasks on the cluster `compute` names: connected now (an unreachable
    one is an InputError), said on stdout as `command`'s line, closed by `stack`."""
    if compute.name == "local":
        return lambda task, months, data_dir, taxi, **shared: (
            partial(task, month=month, data_dir=data_dir, **shared) for month in months
        )
    cluster = cluster_module(where)
    start = time.monotonic()
    client = stack.enter_context(cluster.connect(compute, where))
    print(f"{command}: a task per month on {cluster.described(client, start)}")

    def on_cluster(
        task: Callable[..., Any], months: list[str], data_dir: Path, taxi: str, **shared: Any
    ) -> Outcomes:
        at = partial(
            cluster.month_at,
            task=task,
            data_dir=cluster.worker_path(data_dir, compute.worker_root),
            taxi=taxi,
        )
        return (future.result for future in cluster.submitted(client, at, months, **shared))

    return on_cluster
