"""Evidently 0.7's default drift test for one column, with numpy and scipy only.

Evidently's `ValueDrift(column=...)`, with no method or threshold given, picks the test from the
column's kind, the reference's size and the number of distinct values on both sides
(`_get_default_stattest` in evidently/legacy/calculations/stattests/registry.py), after dropping
missing and infinite values from each side (`get_one_column_drift` in
evidently/legacy/calculations/data_drift.py):

    reference rows   numeric, > 5 values    numeric, 3..5    categorical, > 2    2 values or fewer
    <= 1000          K-S                    chi-square       chi-square          z-test
    > 1000           Wasserstein (normed)   Jensen-Shannon   Jensen-Shannon      Jensen-Shannon

Each test below follows its module in evidently/legacy/calculations/stattests/
(wasserstein_distance_norm, jensenshannon with utils.get_binned_data, ks_stattest,
chisquare_stattest, z_stattest): the same scipy function on the same values, the same threshold and
the same comparison. A distance drifts at or above 0.1, K-S's p-value at or below 0.05, chi-square's
and the z-test's below 0.05.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

# scipy.stats is imported inside the tests, when a column is tested: it is slow to import, and the
# backtest stage with no month to judge never tests one.
NUMERIC, CATEGORICAL = "numeric", "categorical"
SMALL = 1000  # reference rows up to which Evidently tests p-values rather than distances
FEW_VALUES = 5  # distinct values up to which a numeric column is tested as categories

# Evidently's display names, which the records keep as `method`
WASSERSTEIN = "Wasserstein distance (normed)"
JENSEN_SHANNON = "Jensen-Shannon distance"
KS = "K-S p_value"
CHI_SQUARE = "chi-square p_value"
Z = "Z-test p_value"
THRESHOLDS = {WASSERSTEIN: 0.1, JENSEN_SHANNON: 0.1, KS: 0.05, CHI_SQUARE: 0.05, Z: 0.05}


class DriftTest(NamedTuple):
    method: str
    score: float
    threshold: float
    drifted: bool


def is_drifted(method: str, score: float, threshold: float) -> bool:
    """Evidently's verdict: distances at or above the threshold; K-S at or below; chi-square, z below."""
    if method == KS:
        return score <= threshold
    if method in (CHI_SQUARE, Z):
        return score < threshold
    return score >= threshold


def observed(values: np.ndarray) -> np.ndarray:
    """The values a test sees: missing and infinite ones dropped."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return values[np.isfinite(values)]
    if values.dtype.kind == "O":
        kept = [not (v is None or (isinstance(v, float) and not math.isfinite(v))) for v in values]
        return values[np.asarray(kept, bool)]
    return values


def choose(reference_rows: int, distinct: int, kind: str) -> str:
    """The test Evidently picks for a column of `kind` with `distinct` values on both sides together."""
    if kind not in (NUMERIC, CATEGORICAL):
        raise ValueError(f"column kind {kind!r} is neither {NUMERIC!r} nor {CATEGORICAL!r}")
    if reference_rows <= SMALL:
        if kind == NUMERIC and distinct > FEW_VALUES:
            return KS
        return CHI_SQUARE if distinct > 2 else Z
    return WASSERSTEIN if kind == NUMERIC and distinct > FEW_VALUES else JENSEN_SHANNON


def counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How often each value of either side occurs on each side, values in sorted order."""
    _, codes = np.unique(np.concatenate([reference, current]), return_inverse=True)
    size = int(codes.max()) + 1
    return (
        np.bincount(codes[: len(reference)], minlength=size),
        np.bincount(codes[len(reference) :], minlength=size),
    )


def wasserstein_normed(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein distance over the reference's standard deviation (population), floored at 0.001."""
    from scipy import stats

    norm = max(float(np.std(reference)), 0.001)
    return float(stats.wasserstein_distance(reference, current) / norm)


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log) of the two sides' value shares, with no smoothing of zeros.

    Evidently's numeric branch (a Sturges histogram when the reference has more than 20 values) is
    never reached here: it tests a numeric column with Jensen-Shannon only at 5 values or fewer.
    """
    from scipy.spatial import distance

    shares = reference_counts / reference_counts.sum(), current_counts / current_counts.sum()
    return float(distance.jensenshannon(*shares))


def ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """The two-sided two-sample Kolmogorov-Smirnov test's p-value."""
    from scipy import stats

    return float(stats.ks_2samp(reference, current).pvalue)


def chi_square_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Pearson's chi-square p-value of the current counts against the reference's, scaled to the
    current size (a value the reference lacks expects 0: p-value 0)."""
    from scipy import stats

    expected = reference_counts * (current_counts.sum() / reference_counts.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(current_counts, expected).pvalue)


def z_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Two-sided z-test of two proportions: the share of rows not holding the smallest value."""
    from scipy import stats

    if len(reference_counts) == 1:  # one value, the same on both sides
        return 1.0
    n1, n2 = int(reference_counts.sum()), int(current_counts.sum())
    p1 = float(n1 - reference_counts[0]) / n1
    p2 = float(n2 - current_counts[0]) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


def drift_test(reference: np.ndarray, current: np.ndarray, kind: str) -> DriftTest:
    """Evidently's default drift test of one column, reference against current; ValueError when a
    side holds no value to test."""
    reference, current = observed(reference), observed(current)
    for side, values in (("reference", reference), ("current", current)):
        if not len(values):
            raise ValueError(f"the {side} side holds no value to test (all missing or infinite)")
    ref_counts, cur_counts = counts(reference, current)
    method = choose(len(reference), len(ref_counts), kind)
    if method == WASSERSTEIN:
        score = wasserstein_normed(reference, current)
    elif method == KS:
        score = ks_p_value(reference, current)
    elif method == JENSEN_SHANNON:
        score = jensen_shannon(ref_counts, cur_counts)
    elif method == CHI_SQUARE:
        score = chi_square_p_value(ref_counts, cur_counts)
    else:
        score = z_p_value(ref_counts, cur_counts)
    threshold = THRESHOLDS[method]
    return DriftTest(method, score, threshold, is_drifted(method, score, threshold))
