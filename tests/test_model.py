"""The feature pipeline, the regressor factory and the one-file model they make together."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from stages.features import UNKNOWN, derive, make_featurizer
from stages.featurize import featurize
from stages.matrix import load_matrix, save_matrix
from stages.train import make_regressor, train

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


def test_derive_codes_zone_pairs_hours_and_weekdays() -> None:
    derived = derive(TRIPS, ["zone_pair", "pickup_hour", "pickup_weekday", "trip_distance"])
    assert derived["zone_pair"].tolist() == [74075, 74041, 41074]
    assert derived["pickup_hour"].tolist() == [8, 17, 23]
    assert derived["pickup_weekday"].tolist() == [0, 1, 5]
    assert derived["trip_distance"].tolist() == [1.5, 2.0, 3.0]


def test_missing_zone_becomes_the_unknown_code() -> None:
    trips = pd.DataFrame({"PULocationID": [74.0, np.nan], "DOLocationID": [75.0, 41.0]})
    assert derive(trips, ["zone_pair", "PULocationID"]).to_dict("list") == {
        "zone_pair": [74075, UNKNOWN],
        "PULocationID": [74, UNKNOWN],
    }


def test_onehot_gives_one_column_per_training_pair_plus_distance() -> None:
    _, matrix, columns = featurize(TRIPS, encoding="onehot", **COURSE)
    assert sp.issparse(matrix) and matrix.shape == (3, 4)
    assert columns == [
        "category__zone_pair_41074",
        "category__zone_pair_74041",
        "category__zone_pair_74075",
        "number__trip_distance",
    ]
    assert matrix.toarray().tolist() == [[0, 0, 1, 1.5], [0, 1, 0, 2.0], [1, 0, 0, 3.0]]


def test_encoders_are_fitted_on_training_rows_only() -> None:
    featurizer, _, _ = featurize(TRIPS.iloc[:2], encoding="onehot", **COURSE)
    unseen = featurizer.transform(TRIPS.iloc[2:])
    assert unseen.toarray().tolist() == [[0, 0, 3.0]]


def test_unknown_feature_or_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature"):
        make_featurizer(["zone"], [], "onehot", 0)
    with pytest.raises(ValueError, match="unknown encoding"):
        make_featurizer(["zone_pair"], [], "ordinal", 0)


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
    featurizer, matrix, _ = featurize(trips, encoding=encoding, **features)
    return train(featurizer, matrix, trips["duration"], make_regressor(**model))


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


def test_sparse_matrix_into_a_dense_only_regressor_says_what_to_set() -> None:
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


@pytest.mark.parametrize("dense", [False, True])
def test_matrix_round_trips_with_column_names(tmp_path, dense: bool) -> None:
    matrix = sp.csr_matrix(np.array([[0.0, 1.5], [2.0, 0.0]]))
    matrix = matrix.toarray() if dense else matrix
    save_matrix(tmp_path / "m", matrix, ["a", "b"])
    loaded, columns = load_matrix(tmp_path / "m")
    assert columns == ["a", "b"]
    assert sp.issparse(loaded) is not dense
    np.testing.assert_array_equal(loaded if dense else loaded.toarray(), np.array([[0.0, 1.5], [2.0, 0.0]]))
