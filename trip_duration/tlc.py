"""TLC trip files: their names and months, and reading the few columns the model needs.

Reads green (`lpep_*`) or yellow (`tpep_*`) files of either schema with Arrow only: no pandas.
"""

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration.errors import InputError

TLC_URL = "https://d37ci6vzurychx.cloudfront.net/trip-data/"
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
ZONES = ("PULocationID", "DOLocationID")
# Only these columns are read: the rest of a TLC file (fares, flags...) is never loaded.
COLUMNS = ("pickup_datetime", "dropoff_datetime", *ZONES, "trip_distance")


def file_name(taxi: str, month: str) -> str:
    """TLC's name for one month's file, e.g. green_tripdata_2021-01.parquet."""
    return f"{taxi}_tripdata_{month}.parquet"


def months_in(names: Iterable[str]) -> list[str]:
    """The months (YYYY-MM) that TLC file names carry, sorted and unique."""
    return sorted({match.group(0) for name in names if (match := MONTH.search(name))})


def month_file(data_dir: str | Path, taxi: str, month: str) -> Path:
    """Path of one month's raw TLC file, e.g. data/green_tripdata_2021-01.parquet."""
    if not MONTH.fullmatch(str(month)):
        raise InputError(data_dir, f"'{month}' is not a month in the form YYYY-MM")
    return Path(data_dir) / file_name(taxi, month)


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


def read_trips(path: str | Path) -> pa.Table:
    """Read the columns the model needs from one TLC file, with narrow, uniform types."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "is missing (fetch it: trip-duration fetch YYYY-MM)")
    try:
        # ParquetFile, not read_table: the dataset layer would import pandas (a second of start-up).
        file = pq.ParquetFile(path)
        source = _source_columns(path, file.schema_arrow)
        table = file.read(columns=list(source.values()))
    except (pa.ArrowException, OSError) as error:
        raise InputError(path, f"is not a readable parquet file ({error})") from error
    table = table.rename_columns(list(source))
    types = {
        "pickup_datetime": pa.timestamp("us"),
        "dropoff_datetime": pa.timestamp("us"),
        "PULocationID": pa.int16(),  # zone ids are 1..265
        "DOLocationID": pa.int16(),
        "trip_distance": pa.float64(),
    }
    try:
        return table.cast(pa.schema([(name, types[name]) for name in COLUMNS]))
    except pa.ArrowInvalid as error:
        raise InputError(path, f"has values out of range ({error})") from error


# pyarrow's own to_numpy() and pa.array() import pandas on first use, which adds pandas' import to
# a stage's start-up; these two go through the buffers instead, without copying.
def to_numpy(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric or timestamp column as numpy (timestamps as datetime64[us])."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_timestamp(array.type):
        micros = array.cast(pa.timestamp("us")).cast(pa.int64())
        if micros.null_count:  # a missing time is NaT (int64's minimum), not a float NaN
            micros = micros.fill_null(np.iinfo(np.int64).min)
        return to_numpy(micros).view("datetime64[us]")
    if array.null_count or not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
        return array.to_numpy(zero_copy_only=False)
    dtype = np.dtype(f"{'f' if pa.types.is_floating(array.type) else 'i'}{array.type.bit_width // 8}")
    if pa.types.is_unsigned_integer(array.type):
        dtype = np.dtype(f"u{array.type.bit_width // 8}")
    return np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )


def from_numpy(values: np.ndarray) -> pa.Array:
    """A numeric or datetime64[us] numpy array as an Arrow array, sharing its memory."""
    values = np.ascontiguousarray(values)
    if values.dtype.kind == "M":
        kind, values = pa.timestamp("us"), values.astype("datetime64[us]").view(np.int64)
    else:
        kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])
