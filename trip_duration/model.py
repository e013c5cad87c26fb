"""The model: one scikit-learn Pipeline from raw trip columns to minutes, built from params.yaml.

    features: ColumnTransformer
        zone_pair     FunctionTransformer(zone_pair) -> OneHotEncoder | TargetEncoder
        ...           one such pair per categorical feature
        trip_distance SimpleImputer(median)
    regressor: any scikit-learn regressor, by dotted path, or trip_duration.linear.GramRidge

Only stock transformers: the file names no class of this project but GramRidge when chosen, and
the functions of trip_duration.features that derive columns, so it unpickles wherever this
package is installed. A GramRidge model fits batch by batch (`fit_batches`); others in memory.
"""

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin, is_regressor
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, TargetEncoder
from sklearn.utils import get_tags

from trip_duration import metrics
from trip_duration.errors import InputError, one_line
from trip_duration.features import DERIVE, INPUTS, NUMERIC, feature_name, raw_columns


def make_regressor(estimator: str, **hyperparameters: Any) -> RegressorMixin:
    """The regressor named by a dotted path (sklearn.linear_model.Ridge) with its hyperparameters.

    Which keys a regressor takes depends on its class, so they are checked here, not by the
    schema of params.yaml's `model` section; an error names the key as `model.<key>`.
    """
    module_name, _, class_name = estimator.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"model.estimator: cannot import '{estimator}'") from error
    signature = inspect.signature(cls)
    unknown = sorted(hyperparameters.keys() - signature.parameters.keys())
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        takes = ", ".join(signature.parameters)
        raise ValueError(f"model.{unknown[0]}: {class_name} has no such hyperparameter; it has {takes}")
    try:
        signature.bind(**hyperparameters)
    except TypeError as error:  # a required argument not given
        raise ValueError(f"model: {class_name} {error}") from error
    regressor = cls(**hyperparameters)
    if not is_regressor(regressor):
        raise ValueError(f"model.estimator: {estimator} is not a regressor")
    return regressor


def make_features(
    categorical: Sequence[str], numeric: Sequence[str], encoding: str, seed: int
) -> ColumnTransformer:
    """Raw trip columns -> feature matrix: sparse one-hot for linear models, dense target codes for trees.

    Its arguments are params.yaml's `features` section, validated (trip_duration.params).
    """
    steps = []
    for feature in categorical:
        derive = FunctionTransformer(DERIVE[feature], feature_names_out=feature_name)
        if encoding == "onehot":
            encoder = OneHotEncoder(handle_unknown="ignore", dtype=np.float64)
        else:  # cross-fitted on shuffled folds: a trip's own duration never encodes its category
            folds = KFold(n_splits=5, shuffle=True, random_state=seed)
            encoder = TargetEncoder(target_type="continuous", cv=folds)
        steps.append((feature, make_pipeline(derive, encoder), list(INPUTS[feature])))
    for feature in numeric:
        imputer = SimpleImputer(strategy="median")
        if encoding == "onehot":  # a CSR column: ColumnTransformer then joins CSR blocks without COO copies
            to_csr = FunctionTransformer(sp.csr_matrix, accept_sparse=True, feature_names_out="one-to-one")
            steps.append((feature, make_pipeline(imputer, to_csr), [feature]))
        else:
            steps.append((feature, imputer, [feature]))
    return ColumnTransformer(steps, sparse_threshold=1.0 if encoding == "onehot" else 0.0)


def imputer(features: ColumnTransformer, name: str) -> SimpleImputer:
    """The fitted imputer of numeric feature `name` (first step of its pipeline, for one-hot)."""
    step = features.named_transformers_[name]
    return step[0] if isinstance(step, Pipeline) else step


def build_model(features: Mapping[str, Any], model: Mapping[str, Any]) -> Pipeline:
    """The unfitted model from params.yaml's `features` and `model` sections (`name` aside)."""
    regressor = make_regressor(**{key: value for key, value in model.items() if key != "name"})
    encoder = make_features(**{key: value for key, value in features.items() if key != "name"})
    if (
        features["encoding"] == "onehot"
        and features["categorical"]
        and not get_tags(regressor).input_tags.sparse
    ):
        raise ValueError(
            f"features.encoding: onehot is sparse, {type(regressor).__name__} needs dense input;"
            " set features.encoding=target"
        )
    return Pipeline([("features", encoder), ("regressor", regressor)])


def input_columns(features: Mapping[str, Any]) -> list[str]:
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


Batches = Callable[[], Iterable[tuple[Any, np.ndarray]]]


def streams(model: Pipeline) -> bool:
    """Whether the model fits batch by batch to the model a fit on all rows gives: a GramRidge on
    one-hot (or no) categorical features. Target encoding cross-fits on all rows, so it cannot."""
    from trip_duration.linear import GramRidge

    encoders = [step[-1] for name, step, _ in model[0].transformers if name not in NUMERIC]
    return isinstance(model[-1], GramRidge) and all(isinstance(e, OneHotEncoder) for e in encoders)


def _add_counts(
    old: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Two (values, counts) tallies as one."""
    values, inverse = np.unique(np.concatenate([old[0], new[0]]), return_inverse=True)
    return values, np.bincount(inverse, np.concatenate([old[1], new[1]])).astype(np.int64)


def _median(values: np.ndarray, counts: np.ndarray) -> float:
    """The median (as numpy's, the mean of the middle two for an even count) of counted values."""
    total = int(counts.sum())
    if total == 0:
        raise ValueError("a numeric feature has no value in the training window")
    ends = np.cumsum(counts)
    middle = [values[np.searchsorted(ends, rank, side="right")] for rank in {(total - 1) // 2, total // 2}]
    return float(np.mean(middle))


Tally = tuple[dict[str, np.ndarray], dict[str, tuple[np.ndarray, np.ndarray]]]


def tally(features: ColumnTransformer, trips: Any, into: Tally | None = None) -> Tally:
    """What the features learn from a batch of trips, added to `into`: each one-hot encoder's
    categories and each numeric column's counted values (for the imputer's exact median)."""
    categories, counted = into or ({}, {})
    for name, step, columns in features.transformers:
        if name not in NUMERIC:  # derive, then encode
            codes = np.unique(step[0].func(trips))
            categories[name] = np.union1d(categories[name], codes) if name in categories else codes
        else:
            column = np.asarray(trips[columns[0]], dtype=np.float64)
            found = np.unique(column[~np.isnan(column)], return_counts=True)
            counted[name] = _add_counts(counted[name], found) if name in counted else found
    return categories, counted


def add_tallies(one: Tally, other: Tally) -> Tally:
    """Two batches' tallies as one (exact: unions of categories and sums of counts)."""
    categories, counted = dict(one[0]), dict(one[1])
    for name, codes in other[0].items():
        categories[name] = np.union1d(categories[name], codes) if name in categories else codes
    for name, found in other[1].items():
        counted[name] = _add_counts(counted[name], found) if name in counted else found
    return categories, counted


def fit_features(features: ColumnTransformer, tallied: Tally, trips: Any, duration: np.ndarray) -> None:
    """Fit the features in place to what `tallied` counted over all batches; `trips` (a batch)
    gives the columns' names and types."""
    categories, counted = tallied
    for name, step, _ in features.transformers:
        if name not in NUMERIC:
            step[-1].set_params(categories=[categories[name]])
    features.fit(trips, duration)
    for name, values in counted.items():  # the fitted copies, which ColumnTransformer keeps apart
        imputer(features, name).statistics_ = np.array([_median(*values)])


def streamed_scores(regressor: Any) -> dict[str, float | int]:
    """A solved GramRidge's scores on the training trips, from its statistics."""
    return {
        "train_rmse": regressor.train_rmse_,
        "train_rows": regressor.n_samples_seen_,
        "features": int(regressor.gram_.shape[0]),
    }


def fit_batches(model: Pipeline, batches: Batches) -> dict[str, float | int]:
    """Fit a model that `streams` in place from `batches()` (an iterable of (trips, duration) that
    can be read twice), holding one batch at a time; return its scores on the training trips.

    The first pass collects what the features learn from all rows (`tally`): each one-hot
    encoder's categories and each imputer's median (exact, from counted values). The second adds
    every batch's encoded rows to the regressor. The result is the model `fit` gives on all rows.
    trip_duration.cluster runs the same two passes as tasks on a Dask cluster.
    """
    features, regressor = model[0], model[-1]
    tallied: Tally | None = None
    first = None
    for trips, duration in batches():
        first = first or (trips, duration)
        tallied = tally(features, trips, tallied)
    if first is None or tallied is None:
        raise ValueError("the training window has no trips")
    fit_features(features, tallied, *first)
    for trips, duration in batches():
        regressor.partial_fit(features.transform(trips), duration)
    regressor.solve()
    return streamed_scores(regressor)


def load_model(path: str | Path) -> Pipeline:
    """A model file written by the `train` stage; anything else is a one-line error naming the file."""
    import joblib

    try:
        model = joblib.load(path)
    except OSError as error:
        raise InputError(path, f"cannot read it ({error.strerror or error})") from None
    except Exception as error:  # unpickling bytes that are not a model raises any kind of error
        raise InputError(path, f"not a model file ({one_line(error, typed=True)})") from None
    if not (isinstance(model, Pipeline) and is_regressor(model)):
        held = type(model).__name__
        raise InputError(path, f"not a model file: it holds a {held}, not a regressor Pipeline")
    return model
