"""GramRidge and the streaming fit: exact ridge, batch by batch, the model a fit on all rows gives."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from stages.train import batches, fit_in_memory
from trip_duration.linear import GramRidge
from trip_duration.model import build_model, fit, fit_batches, imputer, input_columns, streams

RNG = np.random.default_rng(7)
COURSE = dict(name="course", categorical=["zone_pair"], numeric=["trip_distance"], encoding="onehot", seed=0)
GRAM = dict(name="gram", estimator="trip_duration.linear.GramRidge", alpha=0.1)
LINEAR = dict(name="linear", estimator="sklearn.linear_model.LinearRegression")


def one_hot_data(rows: int = 3000) -> tuple[sp.csr_matrix, np.ndarray]:
    """One-hot codes of 40 categories (rare ones too) and a skewed numeric column, as the trips have."""
    codes = np.minimum(RNG.geometric(0.08, rows), 40) - 1
    distance = RNG.lognormal(1, 1, rows)
    matrix = sp.hstack(
        [sp.csr_matrix((np.ones(rows), (np.arange(rows), codes)), (rows, 40)), distance[:, None]]
    )
    duration = 5 + 2 * distance + codes % 7 + RNG.normal(0, 2, rows)
    return matrix.tocsr(), duration


@pytest.mark.parametrize("intercept", [True, False])
def test_gram_ridge_is_the_exact_ridge_minimiser(intercept: bool) -> None:
    matrix, duration = one_hot_data()
    ours = GramRidge(alpha=0.1, fit_intercept=intercept).fit(matrix, duration)
    exact = Ridge(alpha=0.1, solver="cholesky", fit_intercept=intercept).fit(matrix.toarray(), duration)
    assert np.abs(ours.coef_ - exact.coef_).max() < 1e-9
    assert ours.intercept_ == pytest.approx(exact.intercept_, abs=1e-9)
    residual = duration - exact.predict(matrix.toarray())
    assert ours.train_rmse_ == pytest.approx(np.sqrt(np.mean(residual**2)), rel=1e-9)


def test_partial_fit_over_batches_gives_the_fit_on_all_rows() -> None:
    matrix, duration = one_hot_data()
    whole = GramRidge().fit(matrix, duration)
    batched = GramRidge()
    for start in range(0, len(duration), 700):
        batched.partial_fit(matrix[start : start + 700], duration[start : start + 700])
    assert np.abs(batched.predict(matrix) - whole.predict(matrix)).max() < 1e-9
    assert batched.n_samples_seen_ == len(duration)


def test_merged_statistics_of_parts_give_the_fit_on_all_rows() -> None:
    """What a cluster does: each part's statistics apart, added in a tree, solved once."""
    matrix, duration = one_hot_data()
    whole = GramRidge().fit(matrix, duration)
    parts = [GramRidge().partial_fit(matrix[s : s + 700], duration[s : s + 700]) for s in range(0, 3000, 700)]
    left = GramRidge().merge(parts[0]).merge(parts[1])
    right = GramRidge().merge(parts[2]).merge(parts[3]).merge(parts[4])
    merged = GramRidge().merge(left).merge(right).merge(GramRidge()).solve()  # an empty part adds nothing
    assert merged.n_samples_seen_ == len(duration) and merged.n_features_in_ == matrix.shape[1]
    assert np.abs(merged.coef_ - whole.coef_).max() < 1e-9
    assert merged.train_rmse_ == pytest.approx(whole.train_rmse_, rel=1e-9)
    assert parts[0].n_samples_seen_ == 700  # merging copies: the parts are left as they were
    with pytest.raises(ValueError, match="41 features, not 40"):
        GramRidge().partial_fit(matrix[:, :40], duration).merge(parts[0])


# scikit-learn's contract (clone, get_params, fit on lists, sparse input, n_features_in_, ...), as
# constructed by default: every check passes, so none is listed as an expected failure. About 2 s.
@parametrize_with_checks([GramRidge()])
def test_gram_ridge_keeps_the_scikit_learn_estimator_contract(estimator: GramRidge, check) -> None:
    check(estimator)


def test_alpha_must_be_positive() -> None:
    matrix, duration = one_hot_data(50)
    with pytest.raises(ValueError, match="alpha must be a number > 0, got 0"):
        GramRidge(alpha=0).fit(matrix, duration)


def trips_file(path, rows: int = 5000) -> pd.DataFrame:
    """Prepared trips in row groups of 1,000, categories and missing distances spread across them."""
    trips = pd.DataFrame(
        {
            "pickup_datetime": pd.Timestamp("2021-01-01") + pd.to_timedelta(RNG.integers(0, 2e6, rows), "s"),
            "PULocationID": RNG.integers(1, 30, rows).astype("int16"),
            "DOLocationID": RNG.integers(1, 30, rows).astype("int16"),
            "trip_distance": np.where(RNG.random(rows) < 0.02, np.nan, RNG.lognormal(1, 1, rows)),
            "duration": RNG.uniform(1, 60, rows),
        }
    )
    pq.write_table(pa.Table.from_pandas(trips, preserve_index=False), path, row_group_size=1000)
    return trips


def test_the_streaming_fit_gives_the_model_of_the_fit_on_all_rows(tmp_path) -> None:
    trips = trips_file(tmp_path / "train.parquet")
    columns = input_columns(COURSE)
    whole, streamed = build_model(COURSE, GRAM), build_model(COURSE, GRAM)
    assert streams(streamed) and not streams(build_model(COURSE, LINEAR))
    assert not streams(build_model({**COURSE, "encoding": "target"}, GRAM))
    expected = fit(whole, trips[columns], trips["duration"].to_numpy())
    # Small batches: each one misses categories, and the median is the window's, not a batch's.
    scores = fit_batches(streamed, lambda: batches(str(tmp_path / "train.parquet"), columns, rows=700))
    assert scores["train_rows"] == expected["train_rows"] == len(trips)
    assert scores["features"] == expected["features"]
    assert scores["train_rmse"] == pytest.approx(expected["train_rmse"], rel=1e-9)
    median = imputer(streamed[0], "trip_distance").statistics_[0]
    assert median == imputer(whole[0], "trip_distance").statistics_[0]
    assert np.abs(streamed.predict(trips[columns]) - whole.predict(trips[columns])).max() < 1e-9


def test_a_model_that_cannot_stream_takes_a_seeded_sample_past_max_rows(tmp_path) -> None:
    trips_file(tmp_path / "train.parquet")
    columns = input_columns(COURSE)
    whole = fit_in_memory(build_model(COURSE, LINEAR), str(tmp_path / "train.parquet"), columns, 5000, 0)
    assert whole["train_rows"] == 5000 and "train_sampled_from" not in whole
    sampled = [
        fit_in_memory(build_model(COURSE, LINEAR), str(tmp_path / "train.parquet"), columns, 2000, 0)
        for _ in range(2)
    ]
    assert sampled[0] == sampled[1]  # seeded
    assert sampled[0]["train_sampled_from"] == 5000
    assert 1800 < sampled[0]["train_rows"] < 2200
