"""Stage `train`: fit the configured regressor; save the whole model as one file.

    python -m stages.train --vocabulary features/vocabulary.json --train prepared/train.parquet \
        --val prepared/val.parquet --model models/trip-duration.joblib \
        --predictions predictions/val.parquet --scores predictions/train.json

The model is a scikit-learn Pipeline (encoder, regressor) that takes raw trip columns and returns
minutes. Once saved, it predicts the validation trips from their raw columns, as any caller
would, so that `evaluate` needs neither scikit-learn nor the model: this is the only stage that
pays scikit-learn's start-up time.
"""

import argparse
import importlib
import inspect
import json
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from sklearn.base import RegressorMixin, is_regressor
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.features import TripEncoder
from stages.section import read_section
from stages.vocabulary import raw_columns


def make_regressor(name: str, estimator: str, **hyperparameters: Any) -> RegressorMixin:
    """Build the regressor named by a dotted path (sklearn.linear_model.Ridge) with its params."""
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


def make_encoder(spec: dict[str, Any]) -> TripEncoder:
    """The model's encoder from the vocabulary file that `featurize` wrote."""
    vocabulary = {"categories": spec["categories"], "medians": spec["medians"]}
    return TripEncoder(spec["categorical"], spec["numeric"], spec["encoding"], vocabulary, spec["seed"])


def train(
    trips: pd.DataFrame, encoder: TripEncoder, regressor: RegressorMixin
) -> tuple[Pipeline, dict[str, float | int]]:
    """Fit encoder and regressor on the training trips; return the model and its training scores."""
    duration = trips["duration"].to_numpy()
    matrix = encoder.fit_transform(trips, duration)
    if sp.issparse(matrix) and not get_tags(regressor).input_tags.sparse:
        raise ValueError(f"{type(regressor).__name__} needs dense input; set features.encoding=target")
    regressor.fit(matrix, duration)
    residual = regressor.predict(matrix) - duration
    scores = {
        "train_rmse": float(np.sqrt(np.mean(residual**2))),
        "train_rows": len(duration),
        "features": int(matrix.shape[1]),
    }
    return Pipeline([("encode", encoder), ("regressor", regressor)]), scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", required=True, help="input: the encoder's vocabulary")
    parser.add_argument("--train", required=True, help="input: prepared training trips")
    parser.add_argument("--val", required=True, help="input: prepared validation trips")
    parser.add_argument("--model", required=True, help="output: the model file")
    parser.add_argument("--predictions", required=True, help="output: validation predictions (parquet)")
    parser.add_argument("--scores", required=True, help="output: training scores (JSON)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    try:
        regressor = make_regressor(**read_section(args.params, "model"))
    except (TypeError, ValueError) as error:
        raise InputError(args.params, str(error)) from error
    spec = json.loads(Path(args.vocabulary).read_text(encoding="utf-8"))
    columns = raw_columns([*spec["categorical"], *spec["numeric"]])
    trips = pd.read_parquet(args.train, columns=[*columns, "duration"])
    try:
        model, scores = train(trips, make_encoder(spec), regressor)
    except ValueError as error:
        raise InputError(args.params, f"model: {error}") from error
    del trips
    with atomic_path(args.model) as tmp:
        joblib.dump(model, tmp)

    val = pd.read_parquet(args.val, columns=sorted({*columns, "pickup_datetime", "duration"}))
    predicted = model.predict(val)
    predictions = pa.table(
        {
            "pickup_datetime": pa.array(val["pickup_datetime"].to_numpy()),
            "duration": pa.array(val["duration"].to_numpy()),
            "predicted": pa.array(np.asarray(predicted, dtype=np.float64)),
        }
    )
    with atomic_path(args.predictions) as tmp:
        pq.write_table(predictions, tmp)
    with atomic_path(args.scores) as tmp:
        tmp.write_text(json.dumps(scores, indent=2) + "\n", encoding="utf-8")
    print(f"train: {type(regressor).__name__} on {scores['train_rows']:,} x {scores['features']:,}")


if __name__ == "__main__":
    run(main)
