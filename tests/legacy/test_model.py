"""Derived features, the vocabulary, the encoder, the regressor factory and the one-file model."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction import DictVectorizer

from stages.features import TripEncoder
from stages.featurize import featurize
from stages.train import make_encoder, make_regressor, train
from stages.vocabulary import UNKNOWN, derive, fit_vocabulary, raw_columns

TRIPS = pd.DataFrame(
    {
        "pickup_datetime": pd.to_datetime(["2021-01-04 08:10", "2021-01-05 17:00", "2021-01-09 23:59"]),
        "PULocationID": pd.Series([74, 74, 41], dtype="int16"),
        "DOLocationID": pd.Series([75, 41, 74], dtype="int16"),
        "trip_distance": [1.5, 2.0, 3.0],
        "duration": [8.0, 12.0, 15.0],
    }
)
COURSE = dict(name="course", categorical=["zone_pair"], numeric=["trip_distance"], seed=0)


def columns(trips: pd.DataFrame) -> dict[str, np.ndarray]:
    return {column: trips[column].to_numpy() for column in trips}


def test_derive_codes_zone_pairs_hours_and_weekdays() -> None:
    derived = derive(TRIPS, ["zone_pair", "pickup_hour", "pickup_weekday", "trip_distance"])
    assert derived["zone_pair"].tolist() == [74075, 74041, 41074]
    assert derived["pickup_hour"].tolist() == [8, 17, 23]
    assert derived["pickup_weekday"].tolist() == [0, 1, 5]  # Monday, Tuesday, Saturday
    assert derived["trip_distance"].tolist() == [1.5, 2.0, 3.0]


def test_missing_zone_or_time_becomes_the_unknown_code() -> None:
    trips = {
        "PULocationID": [74.0, np.nan],
        "DOLocationID": [75.0, 41.0],
        "pickup_datetime": np.array(["2021-01-04T08:10", "NaT"], dtype="datetime64[us]"),
    }
    derived = derive(trips, ["zone_pair", "PULocationID", "pickup_hour"])
    assert {k: v.tolist() for k, v in derived.items()} == {
        "zone_pair": [74075, UNKNOWN],
        "PULocationID": [74, UNKNOWN],
        "pickup_hour": [8, UNKNOWN],
    }


def test_vocabulary_is_sorted_categories_and_medians() -> None:
    derived = derive(TRIPS, ["zone_pair", "trip_distance"])
    assert fit_vocabulary(derived, ["zone_pair"], ["trip_distance"]) == {
        "categories": {"zone_pair": [41074, 74041, 74075]},
        "medians": {"trip_distance": 2.0},
    }
    assert raw_columns(["zone_pair", "pickup_hour"]) == ["DOLocationID", "PULocationID", "pickup_datetime"]


def test_onehot_matches_the_course_dictvectorizer_exactly() -> None:
    spec = featurize(columns(TRIPS), encoding="onehot", **COURSE)
    matrix = make_encoder(spec).fit_transform(TRIPS)
    records = [{"PU_DO": f"{pu}_{do}", "trip_distance": d} for pu, do, d in TRIPS.iloc[:, 1:4].to_numpy()]
    course = DictVectorizer().fit_transform(records)
    assert sp.issparse(matrix) and matrix.shape == course.shape == (3, 4)
    assert matrix.toarray().tolist() == [[0, 0, 1, 1.5], [0, 1, 0, 2.0], [1, 0, 0, 3.0]]
    np.testing.assert_array_equal(matrix.toarray(), course.toarray())


def test_encoder_learns_from_training_rows_only_and_ignores_unseen_zones() -> None:
    encoder = TripEncoder(["zone_pair"], ["trip_distance"]).fit(TRIPS.iloc[:2])
    assert encoder.get_feature_names_out().tolist() == ["zone_pair=74041", "zone_pair=74075", "trip_distance"]
    unseen = pd.DataFrame(
        {"PULocationID": [41, 264, None], "DOLocationID": [74, 3, 75], "trip_distance": [3.0, 1.0, None]}
    )
    assert encoder.transform(unseen).toarray().tolist() == [[0, 0, 3.0], [0, 0, 1.0], [0, 0, 1.75]]


def test_unknown_feature_or_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature"):
        featurize(columns(TRIPS), name="x", categorical=["zone"], numeric=[], encoding="onehot", seed=0)
    with pytest.raises(ValueError, match="unknown encoding"):
        featurize(columns(TRIPS), name="x", categorical=["zone_pair"], numeric=[], encoding="ordinal", seed=0)


def _fit(encoding: str, model: dict, features: dict = COURSE) -> object:
    rng = np.random.default_rng(0)
    n = 400
    trips = pd.DataFrame(
        {
            "pickup_datetime": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 30 * 24, n), "h"),
            "PULocationID": rng.integers(1, 6, n).astype("int16"),
            "DOLocationID": rng.integers(1, 6, n).astype("int16"),
            "trip_distance": rng.uniform(0.5, 10, n),
        }
    )
    trips["duration"] = 3 * trips["trip_distance"] + trips["PULocationID"] + rng.normal(0, 0.1, n)
    spec = featurize(columns(trips), encoding=encoding, **features)
    model, scores = train(trips, make_encoder(spec), make_regressor(**model))
    assert scores["train_rows"] == n and scores["train_rmse"] < 5
    return model


LINEAR = dict(name="linear", estimator="sklearn.linear_model.LinearRegression")
HGB = dict(
    name="hgb", estimator="sklearn.ensemble.HistGradientBoostingRegressor", max_iter=20, random_state=0
)


@pytest.mark.parametrize(("encoding", "model"), [("onehot", LINEAR), ("target", HGB), ("target", LINEAR)])
def test_model_predicts_minutes_from_raw_columns_even_for_unseen_zones_and_missing_distance(
    encoding: str, model: dict
) -> None:
    fitted = _fit(encoding, model)
    raw = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime(["2021-02-01 09:00"] * 3),
            "PULocationID": [2, 264, 3],
            "DOLocationID": [3, 265, 4],
            "trip_distance": [2.0, 1.0, np.nan],
        }
    )
    predicted = fitted.predict(raw)
    assert predicted.shape == (3,) and np.isfinite(predicted).all()
    if model is LINEAR and encoding == "onehot":
        assert predicted[0] == pytest.approx(3 * 2.0 + 2, abs=0.2)


def test_time_features_feed_the_model() -> None:
    features = dict(COURSE, categorical=["zone_pair", "pickup_hour", "pickup_weekday"])
    fitted = _fit("onehot", LINEAR, features)
    assert fitted.named_steps["regressor"].n_features_in_ > 25


def test_sparse_features_into_a_dense_only_regressor_says_what_to_set() -> None:
    with pytest.raises(ValueError, match=r"needs dense input; set features\.encoding=target"):
        _fit("onehot", HGB)


def test_regressor_factory_rejects_bad_names_and_keys() -> None:
    with pytest.raises(ValueError, match="cannot import estimator"):
        make_regressor(name="x", estimator="sklearn.linear_model.Nope")
    with pytest.raises(ValueError, match="alpha"):
        make_regressor(name="linear", estimator="sklearn.linear_model.LinearRegression", alpha=1.0)
    with pytest.raises(ValueError, match="is not a regressor"):
        make_regressor(name="x", estimator="sklearn.linear_model.LogisticRegression")
    ridge = make_regressor(name="ridge", estimator="sklearn.linear_model.Ridge", alpha=0.5)
    assert ridge.get_params()["alpha"] == 0.5
