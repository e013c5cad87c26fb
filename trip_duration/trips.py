"""Trips as the model sees them: raw TLC columns plus the duration, cleaned as the pipeline cleans.

Arrow and numpy only: months are read column-wise, filtered and kept without a pandas copy.
Used by the `prepare` stage and by every tool that scores a month as the model was validated.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from trip_duration.errors import InputError
from trip_duration.tlc import from_numpy, month_file, read_trips, to_numpy

NAT = np.iinfo(np.int64).min  # a missing pickup or dropoff time, as to_numpy gives it
PREPARED_COLUMNS = ["pickup_datetime", "PULocationID", "DOLocationID", "trip_distance", "duration"]
CLEANING = ("min_minutes", "max_minutes", "drop_outside_month")  # params.yaml `data` keys that clean


def cleaning(data: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaning keys of params.yaml's `data` section, as iter_window and read_window take them."""
    return {key: data[key] for key in CLEANING}


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return to_numpy(column).view(np.int64)


def prepare(trips: pa.Table, min_minutes: float, max_minutes: float, month: str | None = None) -> pa.Table:
    """Add `duration` in minutes; keep trips within the bounds and, if `month` is given, in it."""
    pickup, dropoff = _micros(trips["pickup_datetime"]), _micros(trips["dropoff_datetime"])
    # Seconds first, then minutes: the same float as pandas' total_seconds() / 60.
    duration = (dropoff - pickup) / 1e6 / 60
    keep = (duration >= min_minutes) & (duration <= max_minutes) & (pickup != NAT) & (dropoff != NAT)
    if month is not None:
        start = np.datetime64(f"{month}-01", "us")
        end = (start.astype("datetime64[M]") + 1).astype("datetime64[us]")
        keep &= (pickup >= start.astype(np.int64)) & (pickup < end.astype(np.int64))
    prepared = trips.append_column("duration", from_numpy(duration))
    return prepared.take(from_numpy(np.flatnonzero(keep))).select(PREPARED_COLUMNS)


def iter_window(
    data_dir: str | Path,
    taxi: str,
    months: list[str],
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> Iterator[pa.Table]:
    """Each month of a window, prepared, one at a time; a month that keeps no trip is an error
    naming its file."""
    if not months:
        raise InputError("params.yaml", "a data window lists no months")
    for month in months:
        yield prepare_month(month, data_dir, taxi, min_minutes, max_minutes, drop_outside_month)


def prepare_month(
    month: str,
    data_dir: str | Path,
    taxi: str,
    min_minutes: float,
    max_minutes: float,
    drop_outside_month: bool,
) -> pa.Table:
    """One month of a window, prepared (a task of its own on a cluster); a month that keeps no
    trip is an error naming its file."""
    path = month_file(data_dir, taxi, month)
    part = prepare(read_trips(path), min_minutes, max_minutes, month if drop_outside_month else None)
    if part.num_rows == 0:
        raise InputError(path, f"keeps no trips after filtering to {min_minutes}..{max_minutes} minutes")
    return part


def read_window(data_dir: str | Path, taxi: str, months: list[str], **cleaning: Any) -> pa.Table:
    """Every month of a window, prepared, in one table (`cleaning` as iter_window takes it)."""
    return pa.concat_tables(iter_window(data_dir, taxi, months, **cleaning))


def clean_month(raw: pa.Table, path: Path, month: str, data: dict) -> pa.Table:
    """A month's raw trips (read from `path`) cleaned as `prepare` cleans them, by params.yaml's
    `data` section; none kept is an error naming the file."""
    trips = prepare(
        raw, data["min_minutes"], data["max_minutes"], month if data["drop_outside_month"] else None
    )
    if trips.num_rows == 0:
        raise InputError(path, "keeps no trips after cleaning")
    return trips
