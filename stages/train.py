"""Stage `train`: fit the configured regressor and save the whole model as one file.

    python -m stages.train --matrix features/train --train prepared/train.parquet \
        --featurizer features/featurizer.joblib --model models/trip-duration.joblib

The saved model is a scikit-learn Pipeline that takes raw trip columns and returns minutes.
"""

import argparse
import importlib
import inspect
from typing import Any

import joblib
import pandas as pd
import scipy.sparse as sp
from sklearn.base import RegressorMixin, is_regressor
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.matrix import load_matrix
from stages.section import read_section


def make_regressor(name: str, estimator: str, **hyperparameters: Any) -> RegressorMixin:
    """Build the regressor named by a dotted path, e.g. sklearn.linear_model.Ridge, with its params."""
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


def train(featurizer: Pipeline, matrix: Any, duration: pd.Series, regressor: RegressorMixin) -> Pipeline:
    """Fit the regressor on the encoded training matrix; return featurizer + regressor as one model."""
    if sp.issparse(matrix) and not get_tags(regressor).input_tags.sparse:
        raise ValueError(f"{type(regressor).__name__} needs dense input; set features.encoding=target")
    regressor.fit(matrix, duration.to_numpy())
    return Pipeline([*featurizer.steps, ("regressor", regressor)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", required=True, help="input: training matrix folder")
    parser.add_argument("--train", required=True, help="input: prepared training trips (target)")
    parser.add_argument("--featurizer", required=True, help="input: fitted featurizer")
    parser.add_argument("--model", required=True, help="output: the model file")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    try:
        regressor = make_regressor(**read_section(args.params, "model"))
    except (TypeError, ValueError) as error:
        raise InputError(args.params, str(error)) from error
    matrix, _ = load_matrix(args.matrix)
    duration = pd.read_parquet(args.train, columns=["duration"])["duration"]
    featurizer = joblib.load(args.featurizer)
    try:
        model = train(featurizer, matrix, duration, regressor)
    except ValueError as error:
        raise InputError(args.params, f"model: {error}") from error
    with atomic_path(args.model) as tmp:
        joblib.dump(model, tmp)
    print(f"train: {type(regressor).__name__} on {matrix.shape[0]:,} x {matrix.shape[1]:,}")


if __name__ == "__main__":
    run(main)
