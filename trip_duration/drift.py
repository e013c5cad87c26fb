"""Drift of the model's inputs and of its prediction, month against reference, with Evidently 0.7.

Evidently picks the test by column kind and size: with more than 1,000 rows, Wasserstein distance
(normed) for numbers and Jensen-Shannon distance for categories, both drifted at a score >= 0.1;
on fewer rows, K-S or chi-square p-values, drifted below 0.05. Both sides are sampled to the same
seeded size first: a distance barely depends on the sample size, a p-value shrinks with it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from trip_duration import features

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


def _verdict(method: str, score: float, threshold: float) -> dict[str, Any]:
    drifted = score < threshold if "p_value" in method else score >= threshold
    return {"method": method, "score": round(score, DIGITS), "threshold": threshold, "drifted": drifted}


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    categorical: list[str],
    numeric: list[str],
    drift_share: float,
    presets: bool = True,
) -> tuple[dict[str, Any], Any]:
    """Each input's and the prediction's drift test, the share of drifted inputs, and the report.

    `presets` adds Evidently's data-drift and regression presets, which only the HTML report shows:
    without them the same tests run with the same scores, several times faster (the backtest stage).
    """
    os.environ.setdefault("DO_NOT_TRACK", "1")  # before evidently is imported: no telemetry
    from evidently import DataDefinition, Dataset, Regression, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset, RegressionPreset

    inputs = [*categorical, *numeric]
    definition = DataDefinition(
        numerical_columns=[*numeric, "duration", PREDICTION],
        categorical_columns=categorical,
        regression=[Regression(target="duration", prediction=PREDICTION)],
    )
    if presets:
        metrics = [
            DataDriftPreset(columns=inputs, drift_share=drift_share),
            ValueDrift(column=PREDICTION),
            RegressionPreset(),
        ]
    else:
        metrics = [ValueDrift(column=column) for column in [*inputs, PREDICTION]]
    snapshot = Report(metrics).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    tests = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            tests[config["column"]] = _verdict(config["method"], float(metric["value"]), config["threshold"])
    drifted = sum(tests[column]["drifted"] for column in inputs)
    found = {
        "reference_rows": len(reference),
        "current_rows": len(current),
        "drifted_share": round(drifted / len(inputs), DIGITS),
        "prediction": tests[PREDICTION],
        "inputs": {column: tests[column] for column in inputs},
    }
    return found, snapshot
