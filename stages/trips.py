"""Read raw TLC trip files (green `lpep_*` or yellow `tpep_*`, old or new schema) narrowly."""

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from stages.errors import InputError

MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ZONES = ("PULocationID", "DOLocationID")
# Only these columns are read: the rest of a TLC file (fares, flags...) is never loaded.
COLUMNS = ("pickup_datetime", "dropoff_datetime", *ZONES, "trip_distance")


def month_file(data_dir: str | Path, taxi: str, month: str) -> Path:
    """Path of one month's raw TLC file, e.g. data/green_tripdata_2021-01.parquet."""
    if not MONTH.match(str(month)):
        raise InputError(data_dir, f"'{month}' is not a month in the form YYYY-MM")
    return Path(data_dir) / f"{taxi}_tripdata_{month}.parquet"


def _source_columns(path: Path, schema: pa.Schema) -> dict[str, str]:
    """Map our column names to the file's, checking each one exists with a usable type."""
    names = set(schema.names)
    prefix = next((p for p in ("lpep_", "tpep_") if f"{p}pickup_datetime" in names), None)
    if prefix is None:
        raise InputError(path, "lacks a pickup time column (lpep_pickup_datetime or tpep_pickup_datetime)")
    source = {
        "pickup_datetime": f"{prefix}pickup_datetime",
        "dropoff_datetime": f"{prefix}dropoff_datetime",
        **{zone: zone for zone in ZONES},
        "trip_distance": "trip_distance",
    }
    expected = {
        "pickup_datetime": ("a timestamp", pa.types.is_timestamp),
        "dropoff_datetime": ("a timestamp", pa.types.is_timestamp),
        "PULocationID": ("an integer", pa.types.is_integer),
        "DOLocationID": ("an integer", pa.types.is_integer),
        "trip_distance": ("a number", lambda t: pa.types.is_floating(t) or pa.types.is_integer(t)),
    }
    for ours, theirs in source.items():
        if theirs not in names:
            raise InputError(path, f"lacks column {theirs}")
        kind, is_kind = expected[ours]
        actual = schema.field(theirs).type
        if not is_kind(actual):
            raise InputError(path, f"column {theirs} has type {actual}, expected {kind}")
    return source


def read_trips(path: str | Path) -> pd.DataFrame:
    """Read the columns the model needs from one TLC file, with narrow, uniform types."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "is missing (fetch it: python -m stages.fetch YYYY-MM)")
    try:
        schema = pq.read_schema(path)
        source = _source_columns(path, schema)
        table = pq.read_table(path, columns=list(source.values()))
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, f"is not a readable parquet file ({error})") from error
    table = table.rename_columns(list(source))
    trips = table.to_pandas()
    for zone in ZONES:
        trips[zone] = trips[zone].astype("int16")  # zone ids are 1..265
    trips["trip_distance"] = trips["trip_distance"].astype("float64")
    for column in ("pickup_datetime", "dropoff_datetime"):
        trips[column] = trips[column].astype("datetime64[us]")
    return trips
