"""The model's feature pipeline: raw trip columns in, an encoded matrix out.

It is the first part of the published model, so it must handle anything a caller
may send at prediction time: zones never seen in training, missing distances.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, TargetEncoder

CATEGORICAL = ("zone_pair", "PULocationID", "DOLocationID", "pickup_hour", "pickup_weekday")
NUMERIC = ("trip_distance",)
ENCODINGS = ("onehot", "target")
UNKNOWN = -1  # code of a missing zone: it matches no training category


def _zone(trips: pd.DataFrame, column: str) -> np.ndarray:
    zone = pd.to_numeric(trips[column], errors="coerce")
    return zone.fillna(UNKNOWN).to_numpy(dtype=np.int32)


def derive(trips: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Compute the named feature columns from raw trip columns."""
    derived = {}
    for column in columns:
        if column == "zone_pair":
            # One integer per (pickup, dropoff) pair: the course's "PU_DO" string, without strings.
            pickup, dropoff = _zone(trips, "PULocationID"), _zone(trips, "DOLocationID")
            pair = pickup * 1000 + dropoff
            derived[column] = np.where((pickup < 0) | (dropoff < 0), UNKNOWN, pair)
        elif column in ("PULocationID", "DOLocationID"):
            derived[column] = _zone(trips, column)
        elif column in ("pickup_hour", "pickup_weekday"):
            pickup = pd.to_datetime(trips["pickup_datetime"])
            part = pickup.dt.hour if column == "pickup_hour" else pickup.dt.day_of_week
            derived[column] = part.fillna(UNKNOWN).to_numpy(dtype=np.int32)
        else:
            derived[column] = pd.to_numeric(trips[column], errors="coerce").to_numpy(dtype=np.float64)
    return pd.DataFrame(derived, index=trips.index)


class TripFeatures(TransformerMixin, BaseEstimator):
    """Turn raw trip columns into the configured categorical (int codes) and numeric columns."""

    def __init__(self, categorical: Sequence[str] = ("zone_pair",), numeric: Sequence[str] = NUMERIC):
        self.categorical = categorical
        self.numeric = numeric

    def fit(self, trips: pd.DataFrame, y: object = None) -> "TripFeatures":
        self.feature_names_out_ = np.array([*self.categorical, *self.numeric], dtype=object)
        return self

    def transform(self, trips: pd.DataFrame) -> pd.DataFrame:
        return derive(trips, list(self.feature_names_out_))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_out_


def make_featurizer(categorical: Sequence[str], numeric: Sequence[str], encoding: str, seed: int) -> Pipeline:
    """An unfitted pipeline from raw trips to a matrix: one-hot (sparse) or target-encoded (dense)."""
    unknown = sorted(set(categorical) - set(CATEGORICAL)) + sorted(set(numeric) - set(NUMERIC))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; choose from {[*CATEGORICAL, *NUMERIC]}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding '{encoding}'; choose from {list(ENCODINGS)}")
    if not categorical and not numeric:
        raise ValueError("no features selected")
    if encoding == "onehot":
        # Unseen categories become all-zero rows, as the course's DictVectorizer does.
        encoder = OneHotEncoder(handle_unknown="ignore", dtype=np.float64)
    else:
        folds = KFold(n_splits=5, shuffle=True, random_state=seed)
        encoder = TargetEncoder(target_type="continuous", cv=folds)
    transformers = []
    if categorical:
        transformers.append(("category", encoder, list(categorical)))
    if numeric:
        transformers.append(("number", SimpleImputer(strategy="median"), list(numeric)))
    columns = ColumnTransformer(transformers, sparse_threshold=1.0 if encoding == "onehot" else 0.0)
    return Pipeline([("trip_features", TripFeatures(list(categorical), list(numeric))), ("encode", columns)])
