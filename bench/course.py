"""The course's method (mlops-zoomcamp, 01-intro notebook) as one process: the baseline to beat.

    python -m bench.course --train green_tripdata_2021-01.parquet --val green_tripdata_2021-02.parquet \
        [--vectorised]

Kept as the notebook wrote it, slow parts included (a Python lambda per row for the duration,
one dict per row for DictVectorizer). --vectorised computes the duration as a pandas user first
would (`.dt.total_seconds() / 60`), the rest unchanged. Prints one JSON line: rmse, rows,
features, phase seconds.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression
from sklearn.metrics import root_mean_squared_error

CATEGORICAL = ["PU_DO"]
NUMERICAL = ["trip_distance"]
TARGET = "duration"


def read_dataframe(path: str | Path, vectorised: bool = False) -> pd.DataFrame:
    """The notebook's read_dataframe: whole file, duration in minutes, 1..60 minutes, zones as strings."""
    df = pd.read_parquet(path)
    df["duration"] = df.lpep_dropoff_datetime - df.lpep_pickup_datetime
    if vectorised:
        df["duration"] = df["duration"].dt.total_seconds() / 60
    else:
        df["duration"] = df["duration"].apply(lambda td: td.total_seconds() / 60)
    df = df[(df.duration >= 1) & (df.duration <= 60)]
    categorical = ["PULocationID", "DOLocationID"]
    df[categorical] = df[categorical].astype(str)
    return df


def add_pu_do(df: pd.DataFrame) -> pd.DataFrame:
    df["PU_DO"] = df["PULocationID"] + "_" + df["DOLocationID"]
    return df


def fit_and_score(df_train: pd.DataFrame, df_val: pd.DataFrame) -> tuple[float, int, dict[str, float]]:
    """DictVectorizer + LinearRegression as in the notebook; validation RMSE, feature count, seconds."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(now - clock, 3)
        clock = now

    dv = DictVectorizer()
    train_dicts = df_train[CATEGORICAL + NUMERICAL].to_dict(orient="records")
    val_dicts = df_val[CATEGORICAL + NUMERICAL].to_dict(orient="records")
    lap("to_dict")
    X_train = dv.fit_transform(train_dicts)
    X_val = dv.transform(val_dicts)
    lap("vectorize")
    y_train = df_train[TARGET].values
    y_val = df_val[TARGET].values
    lr = LinearRegression()
    lr.fit(X_train, y_train)
    lap("fit")
    y_pred = lr.predict(X_val)
    rmse = float(root_mean_squared_error(y_val, np.asarray(y_pred)))
    lap("predict")
    return rmse, X_train.shape[1], seconds


def run_course(train_path: str | Path, val_path: str | Path, vectorised: bool = False) -> dict[str, object]:
    """The whole notebook on one training and one validation file."""
    start = time.perf_counter()
    df_train = add_pu_do(read_dataframe(train_path, vectorised))
    df_val = add_pu_do(read_dataframe(val_path, vectorised))
    read_s = round(time.perf_counter() - start, 3)
    rmse, features, seconds = fit_and_score(df_train, df_val)
    return {
        "rmse": rmse,
        "train_rows": len(df_train),
        "val_rows": len(df_val),
        "features": features,
        "seconds": {"read": read_s, **seconds},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--vectorised", action="store_true", help="the duration without a lambda")
    args = parser.parse_args(argv)
    print(json.dumps(run_course(args.train, args.val, args.vectorised)))


if __name__ == "__main__":
    main()
