"""Batch scoring: predict every trip of a TLC month with a registered model or a model file.

    trip-duration score --month 2023-04 --stage prod --out predictions.parquet
    trip-duration score --month 2023-04 --model models/trip-duration.joblib --out predictions.parquet

The month is read from --data-dir (fetch it first: trip-duration fetch 2023-04) and cleaned as
the pipeline cleans (params.yaml's `data` section: minutes bounds, month filter). The output holds
one row per trip: pickup time, zones, distance, actual duration, predicted minutes, model version.
With params.yaml's `compute: dask`, the month is read and scored by a task on a Dask cluster
(trip_duration.month_tasks), and the output written here: the same file. Expected output:
    score: 2023-04, 70,012 trips, trip-duration v0.1.1 -> predictions.parquet (rmse 7.1234)
"""

import argparse
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration import metrics
from trip_duration.errors import InputError, run
from trip_duration.files import atomic_path
from trip_duration.month_tasks import month_tasks
from trip_duration.params import read_compute, read_section
from trip_duration.tlc import MONTH, month_file, read_trips
from trip_duration.trips import clean_month
from trip_duration_ops import registry

if TYPE_CHECKING:
    import pandas as pd


class Predictor(Protocol):
    """What scoring needs of a model: minutes for a frame of trips."""

    def predict(self, trips: "pd.DataFrame", /) -> npt.ArrayLike: ...


def month_trips(data_dir: Path, month: str, data: dict) -> pa.Table:
    """One month's trips, cleaned as the `prepare` stage cleans them."""
    if not MONTH.fullmatch(month):
        raise InputError(month, "not a month: expected YYYY-MM, like 2023-04")
    path = month_file(data_dir, data["taxi"], month)
    return clean_month(read_trips(path), path, month, data)


def score(model: Predictor, version: str, trips: pa.Table) -> pa.Table:
    """The trips with the model's predicted minutes and its version."""
    frame = trips.to_pandas()
    predicted = np.asarray(model.predict(frame), dtype=np.float64)
    versions = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(frame), np.int32)), pa.array([version]))
    return trips.append_column("predicted", pa.array(predicted)).append_column("model_version", versions)


def scored_month(month: str, data_dir: Path, data: dict, model: Predictor, version: str) -> pa.Table:
    """A month's trips, cleaned and scored: a task of its own on a cluster."""
    return score(model, version, month_trips(data_dir, month, data))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration score", description=__doc__.splitlines()[0])
    parser.add_argument("--month", required=True, help="YYYY-MM")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", help="a registry stage, e.g. prod")
    which.add_argument("--version", help="a registered version, e.g. v0.1.1")
    which.add_argument("--model", type=Path, help="a model file")
    parser.add_argument("--out", type=Path, required=True, help="output parquet")
    parser.add_argument("--repo", default=".", help="where the registry is (default: .)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument(
        "--params", default="params.yaml", help="its `data` section says how to clean, `compute` where"
    )
    args = parser.parse_args(argv)
    data = read_section(args.params, "data").model_dump()
    with ExitStack() as stack:  # the cluster first: unreachable, nothing is read
        scored_months = month_tasks(read_compute(args.params), stack, args.params, "score")
        model, name, version, _ = registry.load_model_from(args.repo, args.version, args.stage, args.model)
        [outcome] = scored_months(
            scored_month, [args.month], args.data_dir, data["taxi"], model=model, version=version, data=data
        )
        scored = outcome()
    with atomic_path(args.out) as tmp:
        pq.write_table(scored, tmp)
    rmse = metrics.rmse(scored["duration"].to_numpy(), scored["predicted"].to_numpy())
    print(f"score: {args.month}, {scored.num_rows:,} trips, {name} {version} -> {args.out} (rmse {rmse:.4f})")


if __name__ == "__main__":
    run(main)
