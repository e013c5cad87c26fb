"""Stage `train`: fit the model on the training trips; save it as one file; predict the validation trips.

    python -m stages.train --train prepared/train.parquet --val prepared/val.parquet \
        --model models/trip-duration.joblib --predictions predictions/val.parquet \
        --scores predictions/train.json

The model (trip_duration.model) takes raw trip columns and returns minutes. A model that streams
(GramRidge) reads the training trips one row group at a time, so memory does not grow with the
window; any other reads them whole, or, past params.yaml's `training.max_rows`, a seeded sample
(each trip kept with probability max_rows / window rows), which the scores report as
`train_sampled_from`. With params.yaml's `compute: dask`, a model that streams makes the same two
passes as tasks on a Dask cluster, a row group each (trip_duration.cluster); any other fits here as
with `local`. Once saved, it predicts
the validation trips from their raw columns, as any caller would, so that `evaluate` needs neither
scikit-learn nor the model: this is the only stage that pays scikit-learn's start-up time.
"""

import argparse
import json
import time
from collections.abc import Iterator
from typing import cast

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from trip_duration.errors import InputError, run
from trip_duration.files import atomic_path, write_text
from trip_duration.model import build_model, fit, fit_batches, input_columns, streams
from trip_duration.params import Compute, Training, cluster_module, read_compute, read_section

BATCH_ROWS = 1 << 20  # the row groups `prepare` writes


def frames(path: str, columns: list[str], rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
    """The training trips' columns and duration, `rows` at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=rows, columns=[*columns, "duration"]):
        yield batch.to_pandas()


def batches(
    path: str, columns: list[str], rows: int = BATCH_ROWS
) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
    """The training trips `rows` at a time, as (raw columns, duration)."""
    for frame in frames(path, columns, rows):
        yield frame[columns], frame["duration"].to_numpy()


def fit_in_memory(model: Pipeline, path: str, columns: list[str], max_rows: int, seed: int) -> dict:
    """Fit on all training trips, or on a seeded sample of about `max_rows` when there are more."""
    window = pq.ParquetFile(path).metadata.num_rows
    if window <= max_rows:
        trips = pd.read_parquet(path, columns=[*columns, "duration"])
        return fit(model, trips[columns], trips["duration"].to_numpy())
    rng = np.random.default_rng(seed)
    kept = [frame[rng.random(len(frame)) < max_rows / window] for frame in frames(path, columns)]
    trips = pd.concat(kept, ignore_index=True)
    return {**fit(model, trips[columns], trips["duration"].to_numpy()), "train_sampled_from": window}


def fit_streaming(model: Pipeline, path: str, columns: list[str], compute: Compute, params: str) -> dict:
    """A model that streams, fitted here a row group at a time, or on the cluster `compute` names."""
    if compute.name == "local":
        return fit_batches(model, lambda: batches(path, columns))
    cluster = cluster_module(params)
    start = time.monotonic()
    with cluster.connect(compute, params) as client:
        print(f"train: a task per row group on {cluster.described(client, start)}")
        scores = cluster.fit_on_cluster(client, model, path, columns, compute.worker_root)
        print(f"train: {cluster.peak_memory(client)}")
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="input: prepared training trips")
    parser.add_argument("--val", required=True, help="input: prepared validation trips")
    parser.add_argument("--model", required=True, help="output: the model file")
    parser.add_argument("--predictions", required=True, help="output: validation predictions (parquet)")
    parser.add_argument("--scores", required=True, help="output: training scores (JSON)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    features = read_section(args.params, "features").model_dump()
    regressor = read_section(args.params, "model").model_dump()
    training = cast(Training, read_section(args.params, "training"))
    compute = read_compute(args.params)
    try:
        model = build_model(features, regressor)  # names the key: model.<hyperparameter>
    except ValueError as error:
        raise InputError(args.params, str(error)) from error
    columns = input_columns(features)
    try:
        if streams(model):
            scores = fit_streaming(model, args.train, columns, compute, args.params)
        else:
            if compute.name != "local":
                print(f"train: {type(model[-1]).__name__} does not stream: it fits here, not on the cluster")
            scores = fit_in_memory(model, args.train, columns, training.max_rows, training.seed)
    except ValueError as error:
        raise InputError(args.params, f"model: {error}") from error

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
    estimator = type(model[-1]).__name__
    print(f"train: {estimator} on {scores['train_rows']:,} trips x {scores['features']:,} features")


if __name__ == "__main__":
    run(main)
