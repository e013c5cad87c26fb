"""The heavy stages' work as Dask tasks (params.yaml's `compute: dask`): the stage is the client.

    with connect(compute, "params.yaml") as client:        # a LocalCluster, or a running scheduler
        for month in in_order(client, clean, months): ...   # one task a month, results in order
        scores = fit_on_cluster(client, model, path, columns, root)  # GramRidge's two passes

A streaming fit (trip_duration.model.fit_batches) makes two passes over the training trips, and
each is a sum: the tally of categories and distance counts, then X^T X, X^T y and the column sums.
Here each row group of the prepared file is a task that computes its share, the shares are added
pairwise in a tree on the workers (partition order fixed, so the result does not depend on which
worker ran what), and the client solves. A lost worker's tasks are rerun by Dask from their inputs.
The client holds one row group (to fit the encoders' column names) and the statistics, never the
window. Code that starts a LocalCluster runs in a stage's `main()`: its workers are spawned
processes that import the stage's module, which must not start a cluster itself on import.
"""

import logging
import resource
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from distributed import Client, Future, LocalCluster

from trip_duration.errors import InputError, one_line
from trip_duration.linear import GramRidge
from trip_duration.model import Tally, add_tallies, fit_features, streamed_scores, tally
from trip_duration.params import Compute
from trip_duration.tlc import file_name
from trip_duration.trips import prepare_month


@contextmanager
def connect(compute: Compute, where: str | Path) -> Iterator[Client]:
    """A client of the cluster `compute` names, closed on exit (with the LocalCluster it started);
    an unreachable scheduler is one InputError naming its address."""
    if not compute.address:
        with (
            LocalCluster(
                n_workers=compute.n_workers,
                threads_per_worker=compute.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # A failed task is re-raised here as one error line: no worker log of it beside.
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    target: dict[str, Any] = {"address": compute.address}
    if "://" not in compute.address:  # a scheduler file, as `dask scheduler --scheduler-file` writes it
        if not Path(compute.address).is_file():
            raise InputError(compute.address, f"no such Dask scheduler file (compute.address in {where})")
        target = {"scheduler_file": compute.address}
    try:
        client = Client(**target, timeout=compute.connect_timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise InputError(
            compute.address,
            f"cannot reach the Dask scheduler (compute.address in {where}): {one_line(error)}",
        ) from None
    with client:
        yield client


def _same(value: Any) -> Any:
    return value


def share(client: Client, value: Any) -> Future:
    """`value` on the cluster once, for many tasks. Not `scatter`: scattered data has no task that
    makes it, so it dies with its worker; this task's result is made again on another one."""
    return client.submit(_same, value, pure=False)


def described(client: Client, since: float) -> str:
    """The cluster in a few words, for a stage's output: where, how many workers, and how long it
    took to start or reach since `since` (time.monotonic())."""
    ready, workers, address = (
        time.monotonic() - since,
        len(client.nthreads()),
        client.scheduler_info()["address"],
    )
    return f"the Dask cluster at {address} ({workers} workers, ready in {ready:.2f} s)"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def peak_memory(client: Client) -> str:
    """The peak resident memory of this process (the client) and of each worker process so far."""
    workers = sorted(client.run(_peak_mb).values())
    shown = ", ".join(f"{peak:,.0f}" for peak in workers)
    return f"peak memory: client {_peak_mb():,.0f} MB, workers {shown} MB"


def worker_path(path: str | Path, root: str) -> str:
    """Where workers read the project's file `path`: the same absolute path (root empty), or the
    path relative to the project (the working directory) under `root`, a folder the workers mount
    or an fsspec URL (s3://bucket/project)."""
    if not root:
        return str(Path(path).resolve())
    relative = Path(path).resolve().relative_to(Path.cwd())
    return f"{root.rstrip('/')}/{relative.as_posix()}"


def _is_url(path: str | Path) -> bool:
    return "://" in str(path)


@contextmanager
def month_folder(data_dir: str | Path, taxi: str, month: str) -> Iterator[Path]:
    """A folder holding the month's TLC file: `data_dir` itself, or for a URL a temporary folder
    the file is copied into (errors name the URL)."""
    if not _is_url(data_dir):
        yield Path(data_dir)
        return
    import fsspec

    url = f"{str(data_dir).rstrip('/')}/{file_name(taxi, month)}"
    with tempfile.TemporaryDirectory() as folder:
        try:
            with fsspec.open(url, "rb") as source, (Path(folder) / file_name(taxi, month)).open("wb") as out:
                shutil.copyfileobj(source, out)
        except FileNotFoundError:
            raise InputError(url, "is missing (compute.worker_root holds no such file)") from None
        try:
            yield Path(folder)
        except InputError as error:
            raise InputError(url, error.problem) from None


def prepare_month_at(month: str, data_dir: str, taxi: str, **cleaning: Any) -> Any:
    """`prepare`'s task: trip_duration.trips.prepare_month, on a folder or a URL."""
    with month_folder(data_dir, taxi, month) as folder:
        return prepare_month(month, folder, taxi, **cleaning)


def month_at(month: str, task: Callable[..., Any], data_dir: str, taxi: str, **shared: Any) -> Any:
    """task(month=month, data_dir=..., **shared) on the month's folder or URL: a tool's or the
    `monitor` stage's task (trip_duration.month_tasks)."""
    with month_folder(data_dir, taxi, month) as folder:
        return task(month=month, data_dir=folder, **shared)


def submitted(
    client: Client, task: Callable[..., Any], items: Iterable[Any], ahead: int = 0, **shared: Any
) -> Iterator[Future]:
    """task(item, **shared) for each item as tasks on the cluster, their futures in the items'
    order. At most `ahead` (by default twice the cluster's threads) are submitted and not yet
    taken, so neither the client nor the workers hold them all; `shared` values go to the workers
    once."""
    ahead = ahead or 2 * max(1, sum(client.nthreads().values()))
    shared = {name: share(client, value) for name, value in shared.items()}
    pending: deque[Future] = deque()
    for item in items:
        pending.append(client.submit(task, item, **shared, pure=False))
        if len(pending) >= ahead:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


def in_order(
    client: Client, task: Callable[..., Any], items: Iterable[Any], ahead: int = 0, **shared: Any
) -> Iterator[Any]:
    """The results of `submitted`'s tasks, in the items' order."""
    return (future.result() for future in submitted(client, task, items, ahead, **shared))


def tree_sum(client: Client, add: Callable[[Any, Any], Any], parts: list[Future]) -> Any:
    """The sum of `parts` (futures), added pairwise in rounds on the workers, in their order."""
    if not parts:
        raise ValueError("the training window has no trips")
    while len(parts) > 1:
        pairs = [client.submit(add, *parts[i : i + 2], pure=False) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + parts[len(parts) - len(parts) % 2 :]
    return parts[0].result()


def row_groups(path: str) -> list[tuple[str, int]]:
    """The training file's partitions: (path, row group index), one task each."""
    return [(path, index) for index in range(pq.ParquetFile(path).metadata.num_row_groups)]


def read_row_group(part: tuple[str, int], columns: list[str]) -> tuple[Any, Any]:
    """One row group's trips, as (raw columns, duration)."""
    path, index = part
    with ExitStack() as stack:
        if _is_url(path):  # read through fsspec: the row group's byte ranges only
            import fsspec

            path = stack.enter_context(fsspec.open(path, "rb"))
        frame = pq.ParquetFile(path).read_row_group(index, columns=[*columns, "duration"]).to_pandas()
    return frame[columns], frame["duration"].to_numpy()


def tally_part(part: tuple[str, int], features: Any, columns: list[str]) -> Tally:
    """The first pass on one row group: its categories and counted values."""
    return tally(features, read_row_group(part, columns)[0])


def gram_part(part: tuple[str, int], features: Any, regressor: GramRidge, columns: list[str]) -> GramRidge:
    """The second pass on one row group: its X^T X, X^T y and sums, in a GramRidge of its own."""
    trips, duration = read_row_group(part, columns)
    return GramRidge(**regressor.get_params()).partial_fit(features.transform(trips), duration)


def add_grams(one: GramRidge, other: GramRidge) -> GramRidge:
    return GramRidge(**one.get_params()).merge(one).merge(other)


def fit_on_cluster(client: Client, model: Any, path: str, columns: list[str], root: str = "") -> dict:
    """fit_batches's two passes over the training file at `path`, a task per row group: the model
    is fitted in place; its scores on the training trips are returned."""
    features, regressor = model[0], model[-1]
    parts = [(worker_path(file, root), index) for file, index in row_groups(path)]
    if not parts:
        raise ValueError("the training window has no trips")
    unfitted = share(client, features)
    tallies = client.map(tally_part, parts, features=unfitted, columns=columns, pure=False)
    tallied = tree_sum(client, add_tallies, tallies)
    fit_features(features, tallied, *read_row_group(row_groups(path)[0], columns))
    fitted = share(client, features)
    grams = client.map(gram_part, parts, features=fitted, regressor=regressor, columns=columns, pure=False)
    regressor.merge(tree_sum(client, add_grams, grams)).solve()
    return streamed_scores(regressor)
