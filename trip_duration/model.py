"""The model: one scikit-learn Pipeline from raw trip columns to minutes, built from params.yaml.

    features: ColumnTransformer
        zone_pair     FunctionTransformer(zone_pair) -> OneHotEncoder | TargetEncoder
        ...           one such pair per categorical feature
        trip_distance SimpleImputer(median)
    regressor: any scikit-learn regressor, by dotted path

Only stock transformers: the file names no class of this project, only the functions of
trip_duration.features that derive columns, so it unpickles wherever this package is installed.
"""

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, TargetEncoder
from sklearn.utils import get_tags

from trip_duration import metrics
from trip_duration.features import DERIVE, INPUTS, check_features, feature_name, raw_columns


def make_regressor(name: str, estimator: str, **hyperparameters: Any) -> RegressorMixin:
    """The regressor named by a dotted path (sklearn.linear_model.Ridge) with its params."""
    module_name, _, class_name = estimator.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"model {name}: cannot import estimator '{estimator}'") from error
    try:
        inspect.signature(cls).bind(**hyperparameters)
    except TypeError as error:
        raise ValueError(f"model {name}: {class_name} {error}") from error
    regressor = cls(**hyperparameters)
    if not is_regressor(regressor):
        raise ValueError(f"model {name}: {estimator} is not a regressor")
    return regressor


def make_features(
    categorical: Sequence[str], numeric: Sequence[str], encoding: str, seed: int, name: str = ""
) -> ColumnTransformer:
    """Raw trip columns -> feature matrix: sparse one-hot for linear models, dense target codes for trees."""
    del name  # names the configuration in params.yaml and `dvc exp show` only
    check_features(categorical, numeric, encoding)
    steps = []
    for feature in categorical:
        derive = FunctionTransformer(DERIVE[feature], feature_names_out=feature_name)
        if encoding == "onehot":
            encoder = OneHotEncoder(handle_unknown="ignore", dtype=np.float64)
        else:  # cross-fitted on shuffled folds: a trip's own duration never encodes its category
            folds = KFold(n_splits=5, shuffle=True, random_state=seed)
            encoder = TargetEncoder(target_type="continuous", cv=folds)
        steps.append((feature, make_pipeline(derive, encoder), list(INPUTS[feature])))
    steps += [(feature, SimpleImputer(strategy="median"), [feature]) for feature in numeric]
    return ColumnTransformer(steps, sparse_threshold=1.0 if encoding == "onehot" else 0.0)


def build_model(features: dict[str, Any], model: dict[str, Any]) -> Pipeline:
    """The unfitted model from params.yaml's `features` and `model` sections."""
    regressor = make_regressor(**model)
    encoder = make_features(**features)
    if (
        features["encoding"] == "onehot"
        and features["categorical"]
        and not get_tags(regressor).input_tags.sparse
    ):
        raise ValueError(f"{type(regressor).__name__} needs dense input; set features.encoding=target")
    return Pipeline([("features", encoder), ("regressor", regressor)])


def input_columns(features: dict[str, Any]) -> list[str]:
    """The raw trip columns the model reads, for params.yaml's `features` section."""
    return raw_columns([*features["categorical"], *features["numeric"]])


def fit(model: Pipeline, trips: Any, duration: np.ndarray) -> dict[str, float | int]:
    """Fit the model in place, as Pipeline.fit does; return its scores on the training trips.

    The feature matrix is kept for the training scores, so the trips are encoded once.
    """
    matrix = model[:-1].fit_transform(trips, duration)
    regressor = model[-1].fit(matrix, duration)
    return {
        "train_rmse": metrics.rmse(duration, regressor.predict(matrix)),
        "train_rows": len(duration),
        "features": int(matrix.shape[1]),
    }


def load_model(path: str | Path) -> Pipeline:
    """A model file written by the `train` stage."""
    import joblib

    return joblib.load(path)
