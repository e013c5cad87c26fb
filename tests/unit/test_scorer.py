"""trip_duration.scorer: the numpy scorer gives model.predict's numbers for every linear configuration."""

import numpy as np
import pandas as pd
import pytest

from trip_duration.model import build_model, fit, input_columns
from trip_duration.scorer import linear_scorer

RNG = np.random.default_rng(0)
N = 400
TRAIN = pd.DataFrame(
    {
        "pickup_datetime": np.datetime64("2021-01-01T00:00", "us")
        + RNG.integers(0, 31 * 86_400, N).astype("timedelta64[s]"),
        "PULocationID": RNG.integers(1, 12, N).astype("int16"),
        "DOLocationID": RNG.integers(1, 12, N).astype("int16"),
        "trip_distance": RNG.exponential(3.0, N),
    }
)
TRAIN["duration"] = 2 + 3 * TRAIN["trip_distance"] + TRAIN["PULocationID"] % 5 + RNG.normal(0, 1, N)
# Zones seen and unseen in training, a missing zone, distance and time: what the service passes.
SCORED = {
    "pickup_datetime": np.array(["2021-02-01T08:10", "NaT", "2021-02-06T23:59", "2021-02-02"], "M8[us]"),
    "PULocationID": np.array([3.0, 200.0, np.nan, 7.0]),
    "DOLocationID": np.array([4.0, 5.0, 6.0, 265.0]),
    "trip_distance": np.array([1.5, np.nan, 0.0, 12.25]),
}
FEATURES = {
    "course": ["zone_pair"],
    "zones": ["PULocationID", "DOLocationID"],
    "time": ["zone_pair", "pickup_hour", "pickup_weekday"],
}
MODELS = {
    "linear": {"estimator": "sklearn.linear_model.LinearRegression"},
    "no intercept": {"estimator": "sklearn.linear_model.LinearRegression", "fit_intercept": False},
    "ridge": {"estimator": "sklearn.linear_model.Ridge", "alpha": 1.0},
    "lasso": {"estimator": "sklearn.linear_model.Lasso", "alpha": 0.001, "max_iter": 5000},
    "gram_ridge": {"estimator": "trip_duration.linear.GramRidge", "alpha": 0.1},
}


def fitted(categorical: list[str], model: dict, encoding: str = "onehot") -> tuple:
    features = dict(name="f", categorical=categorical, numeric=["trip_distance"], encoding=encoding, seed=0)
    pipeline = build_model(features, {"name": "m", **model})
    columns = input_columns(features)
    fit(pipeline, TRAIN[columns], TRAIN["duration"].to_numpy())
    return pipeline, columns


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("features", FEATURES)
def test_a_linear_model_scores_exactly_as_its_predict(features: str, model: str) -> None:
    pipeline, columns = fitted(FEATURES[features], MODELS[model])
    scorer = linear_scorer(pipeline)
    assert scorer is not None
    # The same sums in the same order: equal floats (a fused multiply-add, on CPUs whose compilers
    # use one in scipy's sparse product, may move the last bit).
    trips = {column: SCORED[column] for column in columns}
    np.testing.assert_allclose(scorer(trips), pipeline.predict(pd.DataFrame(trips)), rtol=0, atol=1e-9)
    train = {column: TRAIN[column].to_numpy() for column in columns}
    np.testing.assert_allclose(scorer(train), pipeline.predict(TRAIN[columns]), rtol=0, atol=1e-9)


def test_other_models_have_no_scorer() -> None:
    hgb = {"estimator": "sklearn.ensemble.HistGradientBoostingRegressor", "max_iter": 5, "random_state": 0}
    assert linear_scorer(fitted(["zone_pair"], hgb, encoding="target")[0]) is None
    assert linear_scorer(fitted(["zone_pair"], MODELS["ridge"], encoding="target")[0]) is None
    assert linear_scorer(object()) is None
