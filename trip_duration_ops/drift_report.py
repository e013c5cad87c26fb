"""Evidently's HTML report of a month's drift and regression, for `trip-duration monitor`.

Only the report needs Evidently (`pip install -e '.[monitor]'`): the month's record takes its drift
tests from trip_duration.drift, the same tests computed with scipy, so the two never disagree.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from trip_duration.drift import PREDICTION

if TYPE_CHECKING:
    import pandas as pd


def evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    categorical: list[str],
    numeric: list[str],
    drift_share: float,
) -> Any:
    """Evidently's snapshot of the data-drift and regression presets and the prediction's drift, for
    its HTML (`.save_html(path)`)."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # before evidently is imported: no telemetry
    from evidently import DataDefinition, Dataset, Regression, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset, RegressionPreset

    definition = DataDefinition(
        numerical_columns=[*numeric, "duration", PREDICTION],
        categorical_columns=categorical,
        regression=[Regression(target="duration", prediction=PREDICTION)],
    )
    metrics = [
        DataDriftPreset(columns=[*categorical, *numeric], drift_share=drift_share),
        ValueDrift(column=PREDICTION),
        RegressionPreset(),
    ]
    return Report(metrics).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
