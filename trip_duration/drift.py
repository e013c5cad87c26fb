"""Drift of the model's inputs and of its prediction, month against reference.

The tests are Evidently 0.7's defaults (trip_duration.stattests), computed with scipy: with more
than 1,000 reference rows, Wasserstein distance (normed) for numbers and Jensen-Shannon distance for
categories, both drifted at a score >= 0.1; on fewer rows, p-values of K-S for numbers and of
chi-square for categories (a z-test for two values), drifted below 0.05 (K-S: at or below). A
numeric column of five values or fewer is tested as categories. Both sides are sampled to the same
seeded size first: a distance barely depends on the sample size, a p-value shrinks with it.
Evidently itself only draws the HTML report of `trip-duration monitor` (trip_duration_ops.drift_report,
`pip install -e '.[monitor]'`); the records and the backtest stage need no Evidently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trip_duration import features, stattests

if TYPE_CHECKING:  # pandas is imported where a frame is built: the backtest stage without months skips it
    import pandas as pd

PREDICTION = "prediction"
DIGITS = 4


def drift_columns(categorical: list[str], numeric: list[str]) -> tuple[list[str], list[str]]:
    """(categorical, numeric) raw or derived inputs to test for drift, for the model's features."""
    tested = set()
    for feature in categorical:
        tested |= {"PULocationID", "DOLocationID"} if feature == "zone_pair" else {feature}
    return sorted(tested), sorted(numeric)


def drift_frame(trips: pd.DataFrame, columns: list[str], predicted: np.ndarray) -> pd.DataFrame:
    """The tested columns (pickup hour and weekday derived from the pickup time) and the prediction."""
    import pandas as pd

    frame = pd.DataFrame(index=range(len(trips)))
    for column in columns:
        if column in features.DERIVE and column in ("pickup_hour", "pickup_weekday"):
            frame[column] = features.DERIVE[column](trips).ravel()
        else:
            frame[column] = trips[column].to_numpy()
    frame["duration"] = trips["duration"].to_numpy()
    frame[PREDICTION] = predicted
    return frame


def sample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """`size` rows drawn without replacement (in their order), or all rows when there are fewer."""
    if len(frame) <= size:
        return frame.reset_index(drop=True)
    rows = np.sort(np.random.default_rng(seed).choice(len(frame), size, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


def drift_tests(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str], numeric: list[str]
) -> dict[str, stattests.DriftTest]:
    """Each input's and the prediction's drift test, scores unrounded."""
    kinds = {column: stattests.CATEGORICAL for column in categorical}
    kinds |= {column: stattests.NUMERIC for column in [*numeric, PREDICTION]}
    tests = {}
    for column, kind in kinds.items():
        try:
            tests[column] = stattests.drift_test(
                reference[column].to_numpy(), current[column].to_numpy(), kind
            )
        except ValueError as error:
            raise ValueError(f"drift of {column}: {error}") from None
    return tests


def drift_scores(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str], numeric: list[str]
) -> dict[str, Any]:
    """The record's drift: each input's and the prediction's test, and the share of drifted inputs."""
    tests = drift_tests(reference, current, categorical, numeric)
    inputs = [*categorical, *numeric]
    drifted = sum(tests[column].drifted for column in inputs)
    return {
        "reference_rows": len(reference),
        "current_rows": len(current),
        "drifted_share": round(drifted / len(inputs), DIGITS),
        "prediction": _verdict(tests[PREDICTION]),
        "inputs": {column: _verdict(tests[column]) for column in inputs},
    }


def _verdict(test: stattests.DriftTest) -> dict[str, Any]:
    return {
        "method": test.method,
        "score": round(test.score, DIGITS),
        "threshold": test.threshold,
        "drifted": test.drifted,
    }
