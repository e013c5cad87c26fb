"""Monitoring: how a model does on a month against its real durations and its validation window.

One computation for `trip-duration monitor` (a registered model on new months) and for the `monitor`
stage (the pipeline's model on the months after its validation window): performance on the actual
durations, drift of the inputs and of the prediction (trip_duration.drift: Evidently's tests, with
scipy), the shares of bad raw rows, and the alert decided by params.yaml's `monitor` section
(conf/monitor/default.yaml).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trip_duration import drift, metrics
from trip_duration.errors import InputError
from trip_duration.tlc import file_name, month_file, months_in, read_trips, to_numpy
from trip_duration.trips import NAT, clean_month

if TYPE_CHECKING:  # frames come from the callers: no pandas import for a backtest without months
    import pandas as pd

MAX_ZONE = 265  # TLC zones are 1..265 (264 and 265 are "unknown" and "outside NYC")
MAX_DISTANCE = 200.0  # miles: more is a meter error, not a taxi trip in New York
DIGITS = 4


def _share(mask: np.ndarray) -> float:
    return round(float(np.mean(mask)), 6) if len(mask) else 0.0


def quality(raw: pa.Table, month: str, min_minutes: float, max_minutes: float) -> dict[str, Any]:
    """Shares of a month's raw trips (before cleaning) that are missing or out of range."""
    zones = [np.asarray(to_numpy(raw[name]), np.float64) for name in ("PULocationID", "DOLocationID")]
    zone_unknown = np.zeros(raw.num_rows, bool)
    for zone in zones:
        zone_unknown |= ~((zone >= 1) & (zone <= MAX_ZONE))  # NaN (missing) is outside too
    distance = np.asarray(to_numpy(raw["trip_distance"]), np.float64)
    pickup = to_numpy(raw["pickup_datetime"]).view(np.int64)
    dropoff = to_numpy(raw["dropoff_datetime"]).view(np.int64)
    minutes = (dropoff - pickup) / 1e6 / 60
    missing_time = (pickup == NAT) | (dropoff == NAT)
    start = np.datetime64(f"{month}-01", "us")
    end = (start.astype("datetime64[M]") + 1).astype("datetime64[us]")
    outside = (pickup < start.astype(np.int64)) | (pickup >= end.astype(np.int64))
    return {
        "raw_rows": raw.num_rows,
        "zone_unknown": _share(zone_unknown),
        "distance_missing": _share(np.isnan(distance)),
        "distance_out_of_range": _share((distance <= 0) | (distance > MAX_DISTANCE)),
        "duration_out_of_bounds": _share(missing_time | (minutes < min_minutes) | (minutes > max_minutes)),
        "outside_month": _share(outside & (pickup != NAT)),
    }


def rmse_increase_pct(rmse: float, reference_rmse: float) -> float:
    """How much higher the month's rmse is than the validation rmse, in % (negative when lower)."""
    return round((rmse / reference_rmse - 1) * 100, 2)


def decide(
    rows: int,
    increase_pct: float,
    drifted_share: float,
    prediction_drift: float,
    thresholds: dict[str, Any],
) -> list[dict[str, Any]]:
    """The reasons to alert, each with its value and threshold; no reason means no alert.

    Too few trips is a data problem: the model's numbers on them are noise, so they are not judged.
    """
    if rows < thresholds["min_trips"]:
        return [{"name": "min_trips", "value": rows, "threshold": thresholds["min_trips"]}]
    checks = [
        ("max_rmse_increase_pct", increase_pct, increase_pct > thresholds["max_rmse_increase_pct"]),
        ("max_drifted_share", drifted_share, drifted_share >= thresholds["max_drifted_share"]),
        ("max_prediction_drift", prediction_drift, prediction_drift > thresholds["max_prediction_drift"]),
    ]
    return [
        {"name": name, "value": value, "threshold": thresholds[name]} for name, value, hit in checks if hit
    ]


def record(
    model: dict[str, str],
    month: str,
    reference: dict[str, Any],
    performance: dict[str, Any],
    drift: dict[str, Any],
    quality_shares: dict[str, Any],
    reasons: list[dict[str, Any]],
) -> dict[str, Any]:
    """One month's monitoring record, keys in the order a reader wants them."""
    return {
        "model": model,
        "month": month,
        "reference": reference,
        "metrics": performance,
        "drift": drift,
        "quality": quality_shares,
        "alert": bool(reasons),
        "reasons": reasons,
    }


@dataclass(frozen=True)
class Watch:
    """What is watched and how: the model, its name and version, its params, the thresholds."""

    model: Any
    name: dict[str, str]
    data: dict[str, Any]  # params.yaml's `data` section at the model's commit: how to clean a month
    features: dict[str, Any]
    thresholds: dict[str, Any]

    @property
    def columns(self) -> tuple[list[str], list[str]]:
        return drift.drift_columns(self.features["categorical"], self.features["numeric"])


@dataclass(frozen=True)
class Reference:
    """The validation window's summary (months, rows, rmse) and its sampled drift frame."""

    summary: dict[str, Any]
    frame: pd.DataFrame


def reference(watch: Watch, trips: pd.DataFrame, predicted: np.ndarray) -> Reference:
    """The reference from the validation trips and the model's predictions of them."""
    categorical, numeric = watch.columns
    summary = {
        "months": list(watch.data["val_months"]),
        "rows": len(trips),
        "rmse": round(metrics.rmse(trips["duration"], predicted), DIGITS),
    }
    frame = drift.drift_frame(trips, [*categorical, *numeric], predicted)
    return Reference(summary, drift.sample(frame, watch.thresholds["drift_sample"], watch.thresholds["seed"]))


def judge(
    watch: Watch, reference_: Reference, data_dir: Path, month: str
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One month's record and its sampled drift frame (what a report sets against the reference's);
    InputError when the month cannot be used."""
    thresholds, categorical, numeric = watch.thresholds, *watch.columns
    path = month_file(data_dir, watch.data["taxi"], month)
    raw = read_trips(path)
    trips = clean_month(raw, path, month, watch.data).to_pandas()
    predicted = np.asarray(watch.model.predict(trips), np.float64)
    performance = {"rows": len(trips), **metrics.scores(trips["duration"], predicted)}
    performance["rmse_increase_pct"] = rmse_increase_pct(performance["rmse"], reference_.summary["rmse"])
    limit = reference_.summary["rmse"] * (1 + thresholds["max_rmse_increase_pct"] / 100)
    performance["rmse_threshold"] = round(limit, DIGITS)  # the rmse above which the month alerts
    frame = drift.drift_frame(trips, [*categorical, *numeric], predicted)
    current = drift.sample(frame, thresholds["drift_sample"], thresholds["seed"])
    try:
        drifts = drift.drift_scores(reference_.frame, current, categorical, numeric)
    except ValueError as error:  # a column with no value to test, e.g. no distance at all
        raise InputError(path, f"cannot test drift ({error})") from None
    reasons = decide(
        len(trips),
        performance["rmse_increase_pct"],
        drifts["drifted_share"],
        drifts["prediction"]["score"],
        thresholds,
    )
    shares = quality(raw, month, watch.data["min_minutes"], watch.data["max_minutes"])
    return record(watch.name, month, reference_.summary, performance, drifts, shares, reasons), current


def judge_record(month: str, watch: Watch, reference_: Reference, data_dir: Path) -> dict[str, Any]:
    """One month's record alone: a task of its own on a cluster (the `monitor` stage)."""
    return judge(watch, reference_, data_dir, month)[0]


def later_months(setting: str | list[str], data: dict[str, Any], data_dir: Path) -> list[str]:
    """The months `monitor.months` names: `later` is every month in data_dir after the validation
    window (for data.taxi); a list names them."""
    if setting == "later":
        last = max(data["val_months"])
        names = [path.name for path in Path(data_dir).glob(file_name(data["taxi"], "*"))]
        return [month for month in months_in(names) if month > last]
    return sorted(set(setting))


HISTORY_COLUMNS = [
    "month",
    "model",
    "rows",
    "rmse",
    "rmse_threshold",
    "drifted_share",
    "prediction_drift",
    "alert",
]


def history_row(found: dict[str, Any]) -> dict[str, Any]:
    """One record as a row of a history table: the month's rmse beside the rmse that alerts."""
    return {
        "month": found["month"],
        "model": found["model"]["version"],
        "rows": found["metrics"]["rows"],
        "rmse": found["metrics"]["rmse"],
        "rmse_threshold": found["metrics"]["rmse_threshold"],
        "drifted_share": found["drift"]["drifted_share"],
        "prediction_drift": found["drift"]["prediction"]["score"],
        "alert": str(found["alert"]).lower(),
    }


def history_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV, by month: what the `plots:` of dvc.yaml draw."""
    out = io.StringIO()
    writer = csv.DictWriter(out, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(sorted(rows, key=lambda row: row["month"]))
    return out.getvalue()
