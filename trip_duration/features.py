"""Feature columns derived from raw trip columns: the functions the model's FunctionTransformers call.

numpy only, so that `evaluate` can derive the pickup hour without importing scikit-learn.
Each function takes a frame (or a mapping of columns) and returns one int32 column of codes;
a missing zone or time becomes UNKNOWN, which matches no category seen in training.
"""

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

# The names params.yaml's `features` section may use (trip_duration.params holds it to them).
CATEGORICAL = ("zone_pair", "PULocationID", "DOLocationID", "pickup_hour", "pickup_weekday")
NUMERIC = ("trip_distance",)
Encoding = Literal["onehot", "target"]
UNKNOWN = -1
# Raw columns each feature is computed from.
INPUTS = {
    "zone_pair": ("PULocationID", "DOLocationID"),
    "PULocationID": ("PULocationID",),
    "DOLocationID": ("DOLocationID",),
    "pickup_hour": ("pickup_datetime",),
    "pickup_weekday": ("pickup_datetime",),
    "trip_distance": ("trip_distance",),
}


def raw_columns(features: Sequence[str]) -> list[str]:
    """The raw trip columns that `features` are computed from."""
    return sorted({column for feature in features for column in INPUTS[feature]})


def _zone(values: Any) -> np.ndarray:
    zone = np.asarray(values)
    if zone.dtype.kind in "iu":
        return zone.astype(np.int32)
    zone = np.asarray(zone, dtype=np.float64)  # None or NaN: a zone the caller did not know
    return np.where(np.isnan(zone), UNKNOWN, zone).astype(np.int32)


def _column(codes: np.ndarray) -> np.ndarray:
    return codes.reshape(-1, 1)


def zone_pair(trips: Any) -> np.ndarray:
    """One code per (pickup, dropoff) zone pair: the course's "PU_DO" string, without strings."""
    pickup, dropoff = _zone(trips["PULocationID"]), _zone(trips["DOLocationID"])
    return _column(np.where((pickup < 0) | (dropoff < 0), UNKNOWN, pickup * 1000 + dropoff))


def pickup_zone(trips: Any) -> np.ndarray:
    return _column(_zone(trips["PULocationID"]))


def dropoff_zone(trips: Any) -> np.ndarray:
    return _column(_zone(trips["DOLocationID"]))


def _pickup_parts(trips: Any) -> tuple[np.ndarray, np.ndarray]:
    """Hour (0..23) and weekday (Monday 0) of each pickup; UNKNOWN where the time is missing."""
    pickup = np.asarray(trips["pickup_datetime"]).astype("datetime64[us]")
    missing = np.isnat(pickup)
    days = pickup.astype("datetime64[D]")
    with np.errstate(invalid="ignore"):  # NaT; replaced below
        hour = ((pickup - days) // np.timedelta64(1, "h")).astype(np.int32)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.int32)  # 1970-01-01 was a Thursday
    return np.where(missing, UNKNOWN, hour), np.where(missing, UNKNOWN, weekday)


def pickup_hour(trips: Any) -> np.ndarray:
    return _column(_pickup_parts(trips)[0])


def pickup_weekday(trips: Any) -> np.ndarray:
    return _column(_pickup_parts(trips)[1])


DERIVE: dict[str, Callable[[Any], np.ndarray]] = {
    "zone_pair": zone_pair,
    "PULocationID": pickup_zone,
    "DOLocationID": dropoff_zone,
    "pickup_hour": pickup_hour,
    "pickup_weekday": pickup_weekday,
}
NAMES = {function.__name__: feature for feature, function in DERIVE.items()}


def feature_name(transformer: Any, input_features: Any) -> list[str]:
    """Output name of a FunctionTransformer over one of the functions above."""
    del input_features  # the derived column is named after the feature, not its inputs
    return [NAMES[transformer.func.__name__]]
