"""What a monitoring record says about a month: data quality shares, the alert and its reasons.

numpy and Arrow only; the drift scores come from trip_duration_ops.drift, the thresholds from
params.yaml's `monitor` section (conf/monitor/default.yaml).
"""

from typing import Any

import numpy as np
import pyarrow as pa

from trip_duration.tlc import to_numpy
from trip_duration.trips import NAT

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
