"""Stage `evaluate`: validation metrics and plot data from the model's validation predictions.

    python -m stages.evaluate --predictions predictions/val.parquet --scores predictions/train.json \
        --metrics reports/metrics.json --plots reports/plots --reference reports/reference.json

numpy and Arrow only (no pandas, no scikit-learn): re-scoring after a model change costs little.
"""

import argparse
import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from trip_duration import metrics
from trip_duration.errors import run
from trip_duration.features import pickup_hour
from trip_duration.files import atomic_folder, write_text
from trip_duration.params import read_section
from trip_duration.tlc import to_numpy

# Trip-length buckets for the error plot, in minutes: (0, 5], (5, 10], ...
BUCKETS = [0, 5, 10, 15, 20, 30, 45, 60, float("inf")]
Table = dict[str, list]


def _rmse_by(group: np.ndarray, error: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Groups present (0..size-1), their RMSE and their trip counts."""
    trips = np.bincount(group, minlength=size)
    squared = np.bincount(group, weights=error**2, minlength=size)
    present = np.flatnonzero(trips)
    return present, np.sqrt(squared[present] / trips[present]), trips[present]


def plot_tables(
    pickup: np.ndarray,
    duration: np.ndarray,
    predicted: np.ndarray,
    plot_points: int,
    residual_bin: float,
    seed: int,
) -> dict[str, Table]:
    """Small tables behind the plots declared in dvc.yaml, keyed by file stem."""
    error = predicted - duration
    sample = np.sort(
        np.random.default_rng(seed).choice(len(duration), min(plot_points, len(duration)), False)
    )
    residual, counts = np.unique(
        np.round(np.floor(error / residual_bin) * residual_bin, 6), return_counts=True
    )
    bucket = np.searchsorted(BUCKETS, duration, side="left") - 1  # right-closed buckets
    inside = bucket >= 0
    # Zero-padded, so that the plot's text axis sorts the buckets by length: 05-10 before 10-15.
    labels = [
        f"{lo:02g}-{hi:02g} min" if hi < BUCKETS[-1] else f"{lo:02g}+ min"
        for lo, hi in itertools.pairwise(BUCKETS)
    ]
    buckets, bucket_rmse, bucket_trips = _rmse_by(bucket[inside], error[inside], len(labels))
    hour = pickup_hour({"pickup_datetime": pickup}).ravel()
    hours, hour_rmse, hour_trips = _rmse_by(hour, error, 24)
    return {
        "predicted_vs_actual": {
            "actual": np.round(duration[sample], 2).tolist(),
            "predicted": np.round(predicted[sample], 2).tolist(),
        },
        "residuals": {"residual": residual.tolist(), "trips": counts.tolist()},
        "error_by_duration": {
            "duration": [labels[i] for i in buckets],
            "rmse": np.round(bucket_rmse, 4).tolist(),
            "trips": bucket_trips.tolist(),
        },
        "error_by_hour": {
            "hour": hours.tolist(),
            "rmse": np.round(hour_rmse, 4).tolist(),
            "trips": hour_trips.tolist(),
        },
    }


def to_csv(table: Table) -> str:
    """CSV text of a table of equal-length columns (numbers and plain labels)."""
    names: Sequence[str] = list(table)
    rows = zip(*(table[name] for name in names), strict=True)
    return "\n".join([",".join(names), *(",".join(map(str, row)) for row in rows)]) + "\n"


def evaluate(
    pickup: np.ndarray,
    duration: np.ndarray,
    predicted: np.ndarray,
    plot_points: int,
    residual_bin: float,
    seed: int,
) -> tuple[dict[str, float | int], dict[str, Table]]:
    """Validation metrics and plot tables from the model's predictions."""
    tables = plot_tables(pickup, duration, predicted, plot_points, residual_bin, seed)
    scores = metrics.scores(duration, predicted)
    return {**{key: scores[key] for key in ("rmse", "mae", "r2")}, "val_rows": len(duration)}, tables


def reference(predicted: np.ndarray) -> dict[str, float]:
    """What a service running this model should see on trips like the validation month's: the
    quantiles of its predicted minutes (the deployment's manifest carries them; the service's
    alert on a shifted median compares with them)."""
    quantiles = np.quantile(np.asarray(predicted, dtype=np.float64), [0.1, 0.5, 0.9])
    return {
        f"predicted_minutes_{name}": round(float(value), 4)
        for name, value in zip(("p10", "median", "p90"), quantiles, strict=True)
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", required=True, help="validation trips with predictions")
    parser.add_argument("--scores", required=True, help="training scores from the train stage")
    parser.add_argument("--metrics", required=True, help="output: metrics JSON")
    parser.add_argument("--plots", required=True, help="output: folder of plot CSVs")
    parser.add_argument("--reference", required=True, help="output: what the service should see (JSON)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    section = read_section(args.params, "evaluate").model_dump(exclude={"name"})
    table = pq.ParquetFile(args.predictions).read()
    pickup, duration, predicted = (to_numpy(table[c]) for c in ("pickup_datetime", "duration", "predicted"))
    scores, tables = evaluate(pickup, duration, predicted, **section)
    train_scores = json.loads(Path(args.scores).read_text(encoding="utf-8"))
    scores = {
        **{key: scores[key] for key in ("rmse", "mae", "r2")},
        "train_rmse": round(train_scores["train_rmse"], 4),
        "train_rows": train_scores["train_rows"],
        "val_rows": scores["val_rows"],
        "features": train_scores["features"],
        **{key: train_scores[key] for key in ("train_sampled_from",) if key in train_scores},
    }

    with atomic_folder(args.plots) as plots:
        for stem, rows in tables.items():
            (plots / f"{stem}.csv").write_text(to_csv(rows), encoding="utf-8")
    write_text(args.reference, json.dumps(reference(predicted), indent=2) + "\n")
    write_text(args.metrics, json.dumps(scores, indent=2) + "\n")
    print("evaluate: " + ", ".join(f"{key} {value}" for key, value in scores.items()))


if __name__ == "__main__":
    run(main)
