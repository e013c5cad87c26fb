"""Stage `prepare`: raw TLC months -> cleaned training and validation trips with durations.

python -m stages.prepare --data-dir data --train prepared/train.parquet --val prepared/val.parquet
"""

import argparse
from pathlib import Path

import pandas as pd

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.section import check_keys, read_section
from stages.trips import month_file, read_trips

PREPARED_COLUMNS = ["pickup_datetime", "PULocationID", "DOLocationID", "trip_distance", "duration"]


def prepare(
    trips: pd.DataFrame,
    min_minutes: float,
    max_minutes: float,
    month: str | None = None,
) -> pd.DataFrame:
    """Add `duration` in minutes; keep trips within the bounds and, if `month` is given, in it."""
    duration = (trips["dropoff_datetime"] - trips["pickup_datetime"]).dt.total_seconds() / 60
    keep = duration.between(min_minutes, max_minutes)
    if month is not None:
        start = pd.Timestamp(f"{month}-01")
        keep &= (trips["pickup_datetime"] >= start) & (
            trips["pickup_datetime"] < start + pd.offsets.MonthBegin(1)
        )
    prepared = trips.loc[keep].assign(duration=duration[keep])
    return prepared[PREPARED_COLUMNS].reset_index(drop=True)


def read_window(
    data_dir: str | Path,
    taxi: str,
    months: list[str],
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> pd.DataFrame:
    """Prepare every month of a window; a month that keeps no trip is an error naming its file."""
    if not months:
        raise InputError("params.yaml", "a data window lists no months")
    parts = []
    for month in months:
        path = month_file(data_dir, taxi, month)
        part = prepare(read_trips(path), min_minutes, max_minutes, month if drop_outside_month else None)
        if part.empty:
            raise InputError(path, f"keeps no trips after filtering to {min_minutes}..{max_minutes} minutes")
        parts.append(part)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def prepare_windows(
    data_dir: str | Path,
    name: str,
    taxi: str,
    train_months: list[str],
    val_months: list[str],
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
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
            trips.to_parquet(tmp, index=False)
    print(f"prepare: {len(train):,} training trips, {len(val):,} validation trips")


if __name__ == "__main__":
    run(main)
