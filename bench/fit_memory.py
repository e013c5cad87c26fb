"""A project's model fitted in memory on its whole training window: the streaming fit's reference.

    python -m bench.fit_memory PROJECT

Reads the project's prepared training and validation trips and params.yaml, fits the model with
`trip_duration.model.fit` (every row in one matrix, as a model that cannot stream is fitted) and
prints one JSON line: the validation RMSE and the training rows.
"""

import argparse
import json
from pathlib import Path

import pandas as pd

from trip_duration import metrics
from trip_duration.model import build_model, fit, input_columns
from trip_duration.params import read_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    args = parser.parse_args(argv)
    params = args.project / "params.yaml"
    features, regressor = (read_section(params, section).model_dump() for section in ("features", "model"))
    model, columns = build_model(features, regressor), input_columns(features)
    trips = pd.read_parquet(args.project / "prepared" / "train.parquet", columns=[*columns, "duration"])
    scores = fit(model, trips[columns], trips["duration"].to_numpy())
    del trips
    val = pd.read_parquet(args.project / "prepared" / "val.parquet", columns=[*columns, "duration"])
    rmse = metrics.rmse(val["duration"].to_numpy(), model.predict(val[columns]))
    print(json.dumps({"rmse": rmse, "train_rows": scores["train_rows"]}))


if __name__ == "__main__":
    main()
