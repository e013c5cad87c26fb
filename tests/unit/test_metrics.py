"""trip_duration.metrics: exact values on arrays small enough to work out by hand."""

import math

import numpy as np
import pytest

from trip_duration import metrics

ACTUAL = [2.0, 4.0, 6.0]
PREDICTED = [2.0, 4.0, 9.0]  # errors 0, 0, 3 (predicted - actual)


def test_each_metric_on_a_tiny_case() -> None:
    assert metrics.rmse(ACTUAL, PREDICTED) == math.sqrt(3)
    assert metrics.mae(ACTUAL, PREDICTED) == 1.0
    assert metrics.mean_error(ACTUAL, PREDICTED) == 1.0
    # 1 - residual / total = 1 - 9 / 8
    assert metrics.r2(ACTUAL, PREDICTED) == -0.125


def test_errors_are_predicted_minus_actual() -> None:
    assert metrics.mean_error([10.0, 10.0], [7.0, 9.0]) == -2.0  # predicts shorter trips: negative
    assert metrics.mae([10.0, 10.0], [7.0, 9.0]) == 2.0
    assert metrics.rmse([10.0, 10.0], [7.0, 9.0]) == math.sqrt(5)


def test_perfect_predictions() -> None:
    assert metrics.scores(ACTUAL, ACTUAL) == {"rmse": 0.0, "mae": 0.0, "r2": 1.0, "mean_error": 0.0}


def test_r2_is_zero_when_every_actual_value_is_the_same() -> None:
    assert metrics.r2([5.0, 5.0, 5.0], [4.0, 5.0, 7.0]) == 0.0
    assert metrics.r2([5.0, 5.0], [5.0, 5.0]) == 0.0


def test_scores_are_rounded_to_four_digits_by_default() -> None:
    assert metrics.scores(ACTUAL, PREDICTED) == {"rmse": 1.7321, "mae": 1.0, "r2": -0.125, "mean_error": 1.0}
    assert metrics.scores(ACTUAL, PREDICTED, digits=2) == {
        "rmse": 1.73,
        "mae": 1.0,
        "r2": -0.12,  # round half to even: -0.125 -> -0.12
        "mean_error": 1.0,
    }
    assert list(metrics.scores(ACTUAL, PREDICTED)) == ["rmse", "mae", "r2", "mean_error"]


@pytest.mark.parametrize(
    "convert", [list, np.array, lambda values: np.array(values, np.float32), lambda values: tuple(values)]
)
def test_any_array_like_gives_python_floats(convert) -> None:
    for metric in (metrics.rmse, metrics.mae, metrics.r2, metrics.mean_error):
        value = metric(convert(ACTUAL), convert(PREDICTED))
        assert type(value) is float
    assert metrics.mae(np.array([1, 2], np.int16), np.array([2, 4], np.int16)) == 1.5
