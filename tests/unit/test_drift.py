"""The drift tests on a few hand-made values: which test a column gets, its score, and the
pipeline's drift path importing no Evidently. Against Evidently itself: tests/e2e/test_drift_evidently.py."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, env

from trip_duration import stattests
from trip_duration.drift import drift_scores
from trip_duration.stattests import (
    CATEGORICAL,
    CHI_SQUARE,
    JENSEN_SHANNON,
    KS,
    NUMERIC,
    WASSERSTEIN,
    Z,
    choose,
    drift_test,
    observed,
)


@pytest.mark.parametrize(
    ("rows", "distinct", "kind", "method"),
    [
        (1000, 6, NUMERIC, KS),
        (1001, 6, NUMERIC, WASSERSTEIN),
        (1000, 5, NUMERIC, CHI_SQUARE),
        (1001, 5, NUMERIC, JENSEN_SHANNON),
        (1000, 2, NUMERIC, Z),
        (1001, 2, NUMERIC, JENSEN_SHANNON),
        (1000, 3, CATEGORICAL, CHI_SQUARE),
        (1000, 2, CATEGORICAL, Z),
        (1001, 300, CATEGORICAL, JENSEN_SHANNON),
        (1001, 1, CATEGORICAL, JENSEN_SHANNON),
    ],
)
def test_the_test_follows_the_reference_size_the_kind_and_the_distinct_values(
    rows: int, distinct: int, kind: str, method: str
) -> None:
    assert choose(rows, distinct, kind) == method


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="column kind 'text' is neither 'numeric' nor 'categorical'"):
        choose(10, 3, "text")


def test_missing_and_infinite_values_are_left_out() -> None:
    assert observed(np.array([1.0, np.nan, np.inf, -np.inf, 2.0])).tolist() == [1.0, 2.0]
    assert observed(np.array([None, "a", float("nan"), "b"], object)).tolist() == ["a", "b"]
    assert observed(np.array([3, 1])).tolist() == [3, 1]


def test_a_side_with_nothing_to_test_is_an_error() -> None:
    with pytest.raises(ValueError, match="the current side holds no value to test"):
        drift_test(np.array([1.0, 2.0]), np.array([np.nan]), NUMERIC)


def test_wasserstein_is_normed_by_the_reference_std_floored_at_a_thousandth() -> None:
    rows = np.arange(1001.0)
    found = drift_test(rows, rows + 0.1 * rows.std(), NUMERIC)
    assert found.method == WASSERSTEIN
    assert found.score == pytest.approx(0.1, abs=1e-12)
    assert stattests.wasserstein_normed(np.array([0.0, 2.0]), np.array([1.0, 3.0])) == 1.0
    constant = np.full(4, 5.0)
    assert stattests.wasserstein_normed(constant, constant + 0.0005) == pytest.approx(0.5)


def test_jensen_shannon_takes_the_natural_log_and_leaves_zeros_alone() -> None:
    disjoint = stattests.jensen_shannon(np.array([1, 0]), np.array([0, 1]))
    assert disjoint == pytest.approx(math.sqrt(math.log(2)))
    reference = np.repeat([1, 2], 600)
    found = drift_test(reference, reference, CATEGORICAL)
    assert (found.method, found.score, found.drifted) == (JENSEN_SHANNON, 0.0, False)


def test_chi_square_scales_the_reference_counts_to_the_current_size() -> None:
    found = drift_test(np.repeat([1, 2, 3], 4), np.array([1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]), CATEGORICAL)
    # expected 4, 4, 4 against 2, 4, 6: chi-square 2 on 2 degrees of freedom
    assert found == (CHI_SQUARE, pytest.approx(math.exp(-1)), 0.05, False)


def test_a_value_the_reference_lacks_gives_chi_square_p_value_zero_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = drift_test(np.array([1, 2, 3]), np.array([1, 2, 4]), CATEGORICAL)
    assert found == (CHI_SQUARE, 0.0, 0.05, True)


def test_the_z_test_compares_the_shares_of_the_larger_value() -> None:
    found = drift_test(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 1]), CATEGORICAL)
    z = (0.5 - 1.0) / math.sqrt(0.75 * 0.25 * (1 / 4 + 1 / 4))
    assert found == (Z, pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=1e-12), 0.05, False)
    assert drift_test(np.array([7, 7]), np.array([7]), NUMERIC) == (Z, 1.0, 0.05, False)


def test_k_s_on_two_samples_that_do_not_overlap() -> None:
    found = drift_test(np.arange(1.0, 7.0), np.arange(11.0, 17.0), NUMERIC)
    assert found == (KS, pytest.approx(2 / math.comb(12, 6)), 0.05, True)


def test_drift_scores_record_each_test_rounded_and_the_share_of_drifted_inputs() -> None:
    reference = pd.DataFrame(
        {"PULocationID": [1, 2, 3, 4], "trip_distance": [1.0, 2.0, 3.0, 4.0], "prediction": [5.0] * 4}
    )
    current = reference.assign(PULocationID=[5, 6, 7, 8])
    assert drift_scores(reference, current, ["PULocationID"], ["trip_distance"]) == {
        "reference_rows": 4,
        "current_rows": 4,
        "drifted_share": 0.5,
        "prediction": {"method": Z, "score": 1.0, "threshold": 0.05, "drifted": False},
        "inputs": {
            "PULocationID": {"method": CHI_SQUARE, "score": 0.0, "threshold": 0.05, "drifted": True},
            "trip_distance": {"method": CHI_SQUARE, "score": 1.0, "threshold": 0.05, "drifted": False},
        },
    }


def test_drift_scores_name_the_column_that_cannot_be_tested() -> None:
    frame = pd.DataFrame({"trip_distance": [1.0, 2.0], "prediction": [np.nan, np.inf]})
    with pytest.raises(ValueError, match=r"^drift of prediction: the reference side holds no value"):
        drift_scores(frame, frame, [], ["trip_distance"])


NO_EVIDENTLY = """
import sys
import pandas as pd
import stages.monitor
from trip_duration import drift
frame = pd.DataFrame({"PULocationID": range(1200), "trip_distance": range(1200), "prediction": range(1200)})
drift.drift_scores(frame, frame, ["PULocationID"], ["trip_distance"])
print(sorted(name for name in sys.modules if name.split(".")[0] == "evidently"))
"""


def test_the_pipelines_drift_path_imports_no_evidently() -> None:
    done = subprocess.run(
        [sys.executable, "-c", NO_EVIDENTLY], cwd=ROOT, env=env(), capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"
