"""The course's week-4 web service (mlops-zoomcamp 04-deployment, web-service/predict.py), the baseline.

    python -m bench.course_service --train green_tripdata_2021-01.parquet --out lin_reg.bin
    COURSE_MODEL=lin_reg.bin gunicorn --bind=127.0.0.1:9696 --workers 2 bench.course_service:app

Kept as the course wrote it: a Flask app that unpickles a `(DictVectorizer, LinearRegression)`
pair when imported, builds one dict per request ("PU_DO" = f"{PU}_{DO}" and trip_distance),
and answers POST /predict with {"duration": minutes} (unrounded), under gunicorn's sync workers.
The pair is trained the course's way (week 1 notebook, re-implemented in bench.course).
The only addition: the file comes from $COURSE_MODEL instead of ./lin_reg.bin, and importing
this module without it (to train) loads nothing.
"""

import argparse
import os
import pickle
from pathlib import Path

from flask import Flask, jsonify, request
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression

from bench.course import CATEGORICAL, NUMERICAL, TARGET, add_pu_do, read_dataframe

if os.environ.get("COURSE_MODEL"):
    with open(os.environ["COURSE_MODEL"], "rb") as f_in:
        (dv, model) = pickle.load(f_in)


def prepare_features(ride):
    features = {}
    features["PU_DO"] = f"{ride['PULocationID']}_{ride['DOLocationID']}"
    features["trip_distance"] = ride["trip_distance"]
    return features


def predict(features):
    X = dv.transform(features)
    preds = model.predict(X)
    return float(preds[0])


app = Flask("duration-prediction")


@app.route("/predict", methods=["POST"])
def predict_endpoint():
    ride = request.get_json()

    features = prepare_features(ride)
    pred = predict(features)

    result = {"duration": pred}

    return jsonify(result)


def train(path: str | Path) -> tuple[DictVectorizer, LinearRegression]:
    """The week-1 notebook's model on one month: DictVectorizer over PU_DO + distance, LinearRegression."""
    df_train = add_pu_do(read_dataframe(path))
    dv = DictVectorizer()
    X_train = dv.fit_transform(df_train[CATEGORICAL + NUMERICAL].to_dict(orient="records"))
    lr = LinearRegression()
    lr.fit(X_train, df_train[TARGET].values)
    return dv, lr


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="a TLC green month (the course: 2021-01)")
    parser.add_argument("--out", required=True, help="the pickle to write (the course: lin_reg.bin)")
    args = parser.parse_args(argv)
    with open(args.out, "wb") as f_out:
        pickle.dump(train(args.train), f_out)


if __name__ == "__main__":
    main()
