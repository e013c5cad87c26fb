"""Stage `prepare`: raw TLC months -> cleaned training and validation trips with durations.

    python -m stages.prepare --data-dir data --train prepared/train.parquet \
        --val prepared/val.parquet

Arrow and numpy only: months are read column-wise, filtered and written without a pandas copy,
one month at a time, so that memory holds one month whatever the window's length. Both files are
moved into place together, only once both are whole. With params.yaml's `compute: dask`, each
month is cleaned by a task on a Dask cluster (trip_duration.cluster), and this stage writes them
in order as they come back: the same files.
"""

import argparse
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration.errors import run
from trip_duration.files import atomic_path
from trip_duration.params import Compute, cluster_module, read_compute, read_section
from trip_duration.trips import cleaning, iter_window

# Row groups are the batches that a streaming fit reads (pyarrow's default size, written as such).
ROW_GROUP_ROWS = 1 << 20


def write_window(months: Iterable[pa.Table], path: Path) -> int:
    """Write prepared months to one parquet file as they come, on the first month's schema; the
    rows written."""
    rows, writer = 0, None
    try:
        for month in months:
            writer = writer or pq.ParquetWriter(path, month.schema)
            writer.write_table(month, row_group_size=ROW_GROUP_ROWS)
            rows += month.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def prepared_months(
    compute: Compute, stack: ExitStack, where: str, data_dir: str, **window: Any
) -> Callable[[list[str]], Iterator[pa.Table]]:
    """months -> those months prepared, in order: here one after another, or a task a month on the
    cluster `compute` names (whose client `stack` closes)."""
    if compute.name == "local":
        return lambda months: iter_window(data_dir, months=months, **window)
    cluster = cluster_module(where)
    start = time.monotonic()
    client = stack.enter_context(cluster.connect(compute, where))
    print(f"prepare: a task per month on {cluster.described(client, start)}")
    task = partial(
        cluster.prepare_month_at, data_dir=cluster.worker_path(data_dir, compute.worker_root), **window
    )
    return lambda months: cluster.in_order(client, task, months)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--train", required=True, help="output: training trips (parquet)")
    parser.add_argument("--val", required=True, help="output: validation trips (parquet)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    data = read_section(args.params, "data").model_dump()
    window = {"taxi": data["taxi"], **cleaning(data)}
    with ExitStack() as stack:  # the cluster first: unreachable, nothing is written
        months = prepared_months(read_compute(args.params), stack, args.params, args.data_dir, **window)
        with atomic_path(args.train) as train_tmp, atomic_path(args.val) as val_tmp:
            train = write_window(months(data["train_months"]), train_tmp)
            val = write_window(months(data["val_months"]), val_tmp)
    print(f"prepare: {train:,} training trips, {val:,} validation trips")


if __name__ == "__main__":
    run(main)
