"""Stage `evaluate`: score the model on the validation trips; write metrics and plot data.

    python -m stages.evaluate --model models/trip-duration.joblib --train prepared/train.parquet \
        --val prepared/val.parquet --metrics reports/metrics.json --plots reports/plots
"""

import argparse
import itertools
import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

from stages.atomic import atomic_path
from stages.errors import run
from stages.section import check_keys, read_section

# Trip-length buckets for the error plot, in minutes (upper bound included).
BUCKETS = [0, 5, 10, 15, 20, 30, 45, 60, float("inf")]


def metrics(
    train_duration: np.ndarray, train_predicted: np.ndarray, duration: np.ndarray, predicted: np.ndarray
) -> dict[str, float | int]:
    """Validation rmse, mae and r2, training rmse and row counts, rounded for reading and diffing."""
    return {
        "rmse": round(float(root_mean_squared_error(duration, predicted)), 4),
        "mae": round(float(mean_absolute_error(duration, predicted)), 4),
        "r2": round(float(r2_score(duration, predicted)), 4),
        "train_rmse": round(float(root_mean_squared_error(train_duration, train_predicted)), 4),
        "train_rows": len(train_duration),
        "val_rows": len(duration),
    }


def _rmse_by(groups: pd.Series, error: pd.Series) -> pd.DataFrame:
    grouped = error.pow(2).groupby(groups, observed=True)
    return pd.DataFrame({"rmse": grouped.mean().pow(0.5).round(4), "trips": grouped.size()})


def plot_tables(
    val: pd.DataFrame, predicted: np.ndarray, plot_points: int, residual_bin: float, seed: int
) -> dict[str, pd.DataFrame]:
    """Small tables behind the plots declared in dvc.yaml, keyed by file stem."""
    actual = val["duration"].reset_index(drop=True)
    error = pd.Series(predicted, name="error") - actual
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(actual), size=min(plot_points, len(actual)), replace=False))
    scatter = pd.DataFrame(
        {"actual": actual.iloc[sample].round(2).to_numpy(), "predicted": np.round(predicted[sample], 2)}
    )
    bins = (np.floor(error / residual_bin) * residual_bin).round(6)
    residuals = bins.value_counts().sort_index().rename_axis("residual").reset_index(name="trips")
    labels = [f"{lo:g}-{hi:g} min" for lo, hi in itertools.pairwise(BUCKETS)]
    bucket = pd.cut(actual, BUCKETS, labels=labels, right=True)
    by_duration = _rmse_by(bucket, error).rename_axis("duration").reset_index()
    hour = pd.to_datetime(val["pickup_datetime"]).dt.hour.reset_index(drop=True).rename("hour")
    by_hour = _rmse_by(hour, error).reset_index()
    return {
        "predicted_vs_actual": scatter,
        "residuals": residuals,
        "error_by_duration": by_duration,
        "error_by_hour": by_hour,
    }


def evaluate(
    model: object,
    train: pd.DataFrame,
    val: pd.DataFrame,
    name: str,
    plot_points: int,
    residual_bin: float,
    seed: int,
) -> tuple[dict[str, float | int], dict[str, pd.DataFrame]]:
    """Score `model` on raw validation trips, as a caller of the published model would."""
    del name  # names the configuration in params.yaml and `dvc exp show` only
    predicted = model.predict(val)
    scores = metrics(
        train["duration"].to_numpy(), model.predict(train), val["duration"].to_numpy(), predicted
    )
    return scores, plot_tables(val, predicted, plot_points, residual_bin, seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--train", required=True, help="prepared training trips")
    parser.add_argument("--val", required=True, help="prepared validation trips")
    parser.add_argument("--metrics", required=True, help="output: metrics JSON")
    parser.add_argument("--plots", required=True, help="output: folder of plot CSVs")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    section = read_section(args.params, "evaluate")
    check_keys(evaluate, {"model": None, "train": None, "val": None, **section}, "evaluate", args.params)
    model = joblib.load(args.model)
    train, val = pd.read_parquet(args.train), pd.read_parquet(args.val)
    scores, tables = evaluate(model, train, val, **section)

    plots = Path(args.plots)
    if plots.exists():
        shutil.rmtree(plots)
    plots.mkdir(parents=True)
    for stem, table in tables.items():
        table.to_csv(plots / f"{stem}.csv", index=False)
    with atomic_path(args.metrics) as tmp:
        tmp.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    print("evaluate: " + ", ".join(f"{key} {value}" for key, value in scores.items()))


if __name__ == "__main__":
    run(main)
