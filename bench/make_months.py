"""Large TLC-shaped months, resampled with a seed from the real green months of the offline mirror.

    python -m bench.make_months --out /tmp/nyc-bench/months --rows 3000000 2099-01 2099-02

Each output is a valid TLC file: the source files' schema and column set, snappy, row groups.
Rows are drawn with replacement; each trip keeps its duration and its place in its own month
(day and time), and is moved into the target month. Target months default to the year 2099 so
that a resampled file can never be mistaken for a real TLC month.
"""

import argparse
import calendar
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
SOURCE_MONTHS = tuple(f"2022-{m:02d}" for m in range(1, 13))
ROW_GROUP_ROWS = 1 << 20  # pyarrow's default row group size
VERSION = "v1"  # bump when the resampling changes, so cached files are rebuilt
NAME = re.compile(r"^(green|yellow)_tripdata_(\d{4}-\d{2})\.parquet$")


def mirror_dir() -> Path:
    """The offline copy of the TLC files: $TLC_MIRROR, else ../shared/data/nyc-tlc beside the repo."""
    return Path(os.environ.get("TLC_MIRROR", ROOT.parent / "shared" / "data" / "nyc-tlc")).resolve()


@dataclass(frozen=True)
class Pool:
    """Real TLC rows to draw from, with each pickup's offset into its file's own month."""

    trips: pa.Table
    offset: np.ndarray  # timedelta64, pickup minus the start of the month the file is named after


def month_span(month: str) -> tuple[np.datetime64, np.timedelta64]:
    """Start and length of a YYYY-MM month, in microseconds."""
    year, number = (int(part) for part in month.split("-"))
    days = calendar.monthrange(year, number)[1]
    return np.datetime64(f"{month}-01T00:00:00", "us"), np.timedelta64(days * 86_400_000_000, "us")


def time_columns(schema: pa.Schema) -> tuple[str, str]:
    """The pickup and dropoff columns of a green (lpep_) or yellow (tpep_) file."""
    for prefix in ("lpep_", "tpep_"):
        if f"{prefix}pickup_datetime" in schema.names:
            return f"{prefix}pickup_datetime", f"{prefix}dropoff_datetime"
    raise ValueError("no lpep_/tpep_ pickup column")


def load_pool(paths: Sequence[Path]) -> Pool:
    """Concatenate TLC files of one schema; offsets are taken from each file's month in its name."""
    tables, offsets = [], []
    for path in paths:
        match = NAME.match(Path(path).name)
        if match is None:
            raise ValueError(f"{path}: not named like a TLC file (green_tripdata_YYYY-MM.parquet)")
        table = pq.read_table(path)
        pickup, _ = time_columns(table.schema)
        start, _ = month_span(match.group(2))
        offsets.append(table[pickup].to_numpy().astype("datetime64[us]") - start)
        tables.append(table)
    return Pool(pa.concat_tables(tables), np.concatenate(offsets))


def split_pool(pool: Pool, seed: int) -> tuple[Pool, Pool]:
    """Two disjoint halves of the pool, so validation months share no source row with training ones."""
    order = np.random.default_rng([seed, 0]).permutation(pool.trips.num_rows)
    halves = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])
    return tuple(Pool(pool.trips.take(half), pool.offset[half]) for half in halves)


def move_into_month(offset: np.ndarray, duration: np.ndarray, month: str) -> tuple[np.ndarray, np.ndarray]:
    """New pickups and dropoffs inside `month`, keeping each duration and, where it fits, each offset.

    The earlier of a trip's two times is placed at its offset modulo the room the trip leaves in
    the month, so both times land inside the month even for negative or long durations.
    """
    start, length = month_span(month)
    span = np.abs(duration)
    if np.any(span >= length):
        raise ValueError(f"a trip lasts longer than {month}: it cannot be placed inside it")
    earliest = offset + np.minimum(duration, np.timedelta64(0, "us"))
    pickup = start + earliest % (length - span) - np.minimum(duration, np.timedelta64(0, "us"))
    return pickup, pickup + duration


def resample_month(pool: Pool, rows: int, month: str, seed: int) -> pa.Table:
    """`rows` trips drawn with replacement from `pool`, moved into `month`, in the pool's schema."""
    year, number = (int(part) for part in month.split("-"))
    picks = np.random.default_rng([seed, year, number]).integers(0, pool.trips.num_rows, size=rows)
    trips = pool.trips.take(picks)
    pickup_name, dropoff_name = time_columns(trips.schema)
    old_pickup = trips[pickup_name].to_numpy().astype("datetime64[us]")
    duration = trips[dropoff_name].to_numpy().astype("datetime64[us]") - old_pickup
    pickup, dropoff = move_into_month(pool.offset[picks], duration, month)
    for name, values in ((pickup_name, pickup), (dropoff_name, dropoff)):
        column = trips.schema.get_field_index(name)
        field = trips.schema.field(column)
        trips = trips.set_column(column, field, pa.array(values, type=field.type, from_pandas=True))
    return trips


def month_path(folder: Path, month: str, taxi: str = "green") -> Path:
    return folder / f"{taxi}_tripdata_{month}.parquet"


def write_month(trips: pa.Table, path: Path) -> None:
    """Write as TLC does (snappy, row groups), whole or not at all."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(trips, tmp, compression="snappy", row_group_size=ROW_GROUP_ROWS)
    os.replace(tmp, path)


def cache_folder(workdir: Path, rows: int, seed: int) -> Path:
    """Where months of one size and seed are kept, so re-runs skip building them."""
    return workdir / "months" / f"{VERSION}-seed{seed}-rows{rows}"


def build_months(
    mirror: Path,
    folder: Path,
    train_months: Sequence[str],
    val_months: Sequence[str],
    rows: int,
    seed: int,
) -> list[Path]:
    """Resampled training and validation months in `folder`, built only where missing."""
    wanted = [(month, 0) for month in train_months] + [(month, 1) for month in val_months]
    missing = [(month, half) for month, half in wanted if not month_path(folder, month).is_file()]
    if missing:
        folder.mkdir(parents=True, exist_ok=True)
        pools = split_pool(load_pool([month_path(mirror, m) for m in SOURCE_MONTHS]), seed)
        for month, half in missing:
            write_month(resample_month(pools[half], rows, month, seed), month_path(folder, month))
    return [month_path(folder, month) for month, _ in wanted]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("months", nargs="+", help="training months, YYYY-MM")
    parser.add_argument("--val", nargs="*", default=[], help="validation months, YYYY-MM")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mirror", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = build_months(args.mirror or mirror_dir(), args.out, args.months, args.val, args.rows, args.seed)
    print("\n".join(str(path) for path in paths))


if __name__ == "__main__":
    main()
