"""Stage `prepare`: raw TLC months -> cleaned training and validation trips with durations.

    python -m stages.prepare --data-dir data --train prepared/train.parquet \
        --val prepared/val.parquet

Arrow and numpy only: months are read column-wise, filtered and written without a pandas copy.
"""

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration.errors import run
from trip_duration.files import atomic_path
from trip_duration.params import check_keys, read_section
from trip_duration.trips import prepare, read_window

__all__ = ["main", "prepare", "prepare_windows", "read_window"]


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
