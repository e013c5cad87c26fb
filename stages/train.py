"""Stage `train`: fit the model on the training trips; save it as one file; predict the validation trips.

    python -m stages.train --train prepared/train.parquet --val prepared/val.parquet \
        --model models/trip-duration.joblib --predictions predictions/val.parquet \
        --scores predictions/train.json

The model (trip_duration.model) takes raw trip columns and returns minutes. Once saved, it predicts
the validation trips from their raw columns, as any caller would, so that `evaluate` needs neither
scikit-learn nor the model: this is the only stage that pays scikit-learn's start-up time.
"""

import argparse
import json

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trip_duration.errors import InputError, run
from trip_duration.files import atomic_path, write_text
from trip_duration.model import build_model, fit, input_columns
from trip_duration.params import read_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="input: prepared training trips")
    parser.add_argument("--val", required=True, help="input: prepared validation trips")
    parser.add_argument("--model", required=True, help="output: the model file")
    parser.add_argument("--predictions", required=True, help="output: validation predictions (parquet)")
    parser.add_argument("--scores", required=True, help="output: training scores (JSON)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    features = read_section(args.params, "features")
    try:
        model = build_model(features, read_section(args.params, "model"))
        columns = input_columns(features)
    except (TypeError, ValueError, KeyError) as error:
        raise InputError(args.params, f"model: {error}") from error
    trips = pd.read_parquet(args.train, columns=[*columns, "duration"])
    try:
        scores = fit(model, trips[columns], trips["duration"].to_numpy())
    except ValueError as error:
        raise InputError(args.params, f"model: {error}") from error
    del trips

    val = pd.read_parquet(args.val, columns=sorted({*columns, "pickup_datetime", "duration"}))
    predictions = pa.table(
        {
            "pickup_datetime": pa.array(val["pickup_datetime"].to_numpy()),
            "duration": pa.array(val["duration"].to_numpy()),
            "predicted": pa.array(np.asarray(model.predict(val[columns]), dtype=np.float64)),
        }
    )
    with atomic_path(args.model) as tmp:
        joblib.dump(model, tmp)
    with atomic_path(args.predictions) as tmp:
        pq.write_table(predictions, tmp)
    write_text(args.scores, json.dumps(scores, indent=2) + "\n")
    regressor = type(model[-1]).__name__
    print(f"train: {regressor} on {scores['train_rows']:,} trips x {scores['features']:,} features")


if __name__ == "__main__":
    run(main)
