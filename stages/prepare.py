"""Stage `prepare`: raw TLC months -> cleaned training and validation trips with durations.

    python -m stages.prepare --data-dir data --train prepared/train.parquet \
        --val prepared/val.parquet

Arrow and numpy only: months are read column-wise, filtered and written without a pandas copy.
"""

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration.errors import InputError, run
from trip_duration.files import atomic_path
from trip_duration.params import check_keys, read_section
from trip_duration.tlc import from_numpy, month_file, read_trips, to_numpy

PREPARED_COLUMNS = ["pickup_datetime", "PULocationID", "DOLocationID", "trip_distance", "duration"]


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return to_numpy(column).view(np.int64)


def prepare(trips: pa.Table, min_minutes: float, max_minutes: float, month: str | None = None) -> pa.Table:
    """Add `duration` in minutes; keep trips within the bounds and, if `month` is given, in it."""
    pickup = _micros(trips["pickup_datetime"])
    # Seconds first, then minutes: the same float as pandas' total_seconds() / 60.
    duration = (_micros(trips["dropoff_datetime"]) - pickup) / 1e6 / 60
    keep = (duration >= min_minutes) & (duration <= max_minutes)
    if month is not None:
        start = np.datetime64(f"{month}-01", "us")
        end = (start.astype("datetime64[M]") + 1).astype("datetime64[us]")
        keep &= (pickup >= start.astype(np.int64)) & (pickup < end.astype(np.int64))
    prepared = trips.append_column("duration", from_numpy(duration))
    return prepared.take(from_numpy(np.flatnonzero(keep))).select(PREPARED_COLUMNS)


def read_window(
    data_dir: str | Path,
    taxi: str,
    months: list[str],
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> pa.Table:
    """Prepare every month of a window; a month that keeps no trip is an error naming its file."""
    if not months:
        raise InputError("params.yaml", "a data window lists no months")
    parts = []
    for month in months:
        path = month_file(data_dir, taxi, month)
        part = prepare(read_trips(path), min_minutes, max_minutes, month if drop_outside_month else None)
        if part.num_rows == 0:
            raise InputError(path, f"keeps no trips after filtering to {min_minutes}..{max_minutes} minutes")
        parts.append(part)
    return pa.concat_tables(parts)


def prepare_windows(
    data_dir: str | Path,
    name: str,
    taxi: str,
    train_months: list[str],
    val_months: list[str],
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> tuple[pa.Table, pa.Table]:
    """The training and validation trips described by params.yaml's `data` section."""
    del name  # names the configuration in params.yaml and `dvc exp show` only
    cleaning = dict(min_minutes=min_minutes, max_minutes=max_minutes, drop_outside_month=drop_outside_month)
    train = read_window(data_dir, taxi, train_months, **cleaning)
    val = read_window(data_dir, taxi, val_months, **cleaning)
    return train, val


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--train", required=True, help="output: training trips (parquet)")
    parser.add_argument("--val", required=True, help="output: validation trips (parquet)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    section = read_section(args.params, "data")
    check_keys(prepare_windows, {"data_dir": args.data_dir, **section}, "data", args.params)
    train, val = prepare_windows(args.data_dir, **section)
    for trips, path in ((train, args.train), (val, args.val)):
        with atomic_path(path) as tmp:
            pq.write_table(trips, tmp)
    print(f"prepare: {train.num_rows:,} training trips, {val.num_rows:,} validation trips")


if __name__ == "__main__":
    run(main)
