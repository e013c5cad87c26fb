"""Feature columns derived from raw trip columns, and the vocabulary fitted on training trips.

Only numpy here: `featurize` runs without importing pandas or scikit-learn, and the model's
encoder (stages.features) uses the same functions, so both derive features identically.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

CATEGORICAL = ("zone_pair", "PULocationID", "DOLocationID", "pickup_hour", "pickup_weekday")
NUMERIC = ("trip_distance",)
ENCODINGS = ("onehot", "target")
UNKNOWN = -1  # code of a missing zone or time: it matches no training category
# Raw columns each feature is computed from.
INPUTS = {
    "zone_pair": ("PULocationID", "DOLocationID"),
    "PULocationID": ("PULocationID",),
    "DOLocationID": ("DOLocationID",),
    "pickup_hour": ("pickup_datetime",),
    "pickup_weekday": ("pickup_datetime",),
    "trip_distance": ("trip_distance",),
}


def check_features(categorical: Sequence[str], numeric: Sequence[str], encoding: str) -> None:
    """Refuse unknown feature names and encodings, naming the valid ones."""
    unknown = sorted(set(categorical) - set(CATEGORICAL)) + sorted(set(numeric) - set(NUMERIC))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {[*CATEGORICAL, *NUMERIC]}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding '{encoding}'; choose from {list(ENCODINGS)}")
    if not categorical and not numeric:
        raise ValueError("no features selected")


def raw_columns(features: Sequence[str]) -> list[str]:
    """The raw trip columns that `features` are computed from."""
    return sorted({column for feature in features for column in INPUTS[feature]})


def _zone(values: Any) -> np.ndarray:
    zone = np.asarray(values)
    if zone.dtype.kind in "iu":
        return zone.astype(np.int32)
    zone = np.asarray(zone, dtype=np.float64)  # None or NaN: a zone the caller did not know
    return np.where(np.isnan(zone), UNKNOWN, zone).astype(np.int32)


def _pickup_parts(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Hour (0..23) and weekday (Monday 0) of each pickup; UNKNOWN where the time is missing."""
    pickup = np.asarray(values).astype("datetime64[us]")
    missing = np.isnat(pickup)
    days = pickup.astype("datetime64[D]")
    with np.errstate(invalid="ignore"):  # NaT; replaced below
        hour = ((pickup - days) // np.timedelta64(1, "h")).astype(np.int32)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.int32)  # 1970-01-01 was a Thursday
    return np.where(missing, UNKNOWN, hour), np.where(missing, UNKNOWN, weekday)


def derive(trips: Mapping[str, Any], features: Sequence[str]) -> dict[str, np.ndarray]:
    """Compute each named feature (int32 codes, or float64 numbers) from raw trip columns."""
    derived: dict[str, np.ndarray] = {}
    for feature in features:
        if feature == "zone_pair":
            # One integer per (pickup, dropoff) pair: the course's "PU_DO" string, without strings.
            pickup, dropoff = _zone(trips["PULocationID"]), _zone(trips["DOLocationID"])
            derived[feature] = np.where((pickup < 0) | (dropoff < 0), UNKNOWN, pickup * 1000 + dropoff)
        elif feature in ("PULocationID", "DOLocationID"):
            derived[feature] = _zone(trips[feature])
        elif feature in ("pickup_hour", "pickup_weekday"):
            hour, weekday = _pickup_parts(trips["pickup_datetime"])
            derived[feature] = hour if feature == "pickup_hour" else weekday
        else:
            derived[feature] = np.asarray(trips[feature], dtype=np.float64)
    return derived


def fit_vocabulary(
    derived: Mapping[str, np.ndarray], categorical: Sequence[str], numeric: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Categories seen in training (sorted, unknown code left out) and numeric medians."""
    categories = {}
    for feature in categorical:
        codes = np.unique(derived[feature])
        categories[feature] = [int(code) for code in codes[codes != UNKNOWN]]
    medians = {}
    for feature in numeric:
        values = derived[feature]
        median = np.nanmedian(values) if len(values) and not np.isnan(values).all() else 0.0
        medians[feature] = float(median)
    return {"categories": categories, "medians": medians}
