"""The pipeline's drift tests (scipy) against Evidently's own, on real months and on every branch.

Evidently's side is what the `monitor` stage used to run: one `ValueDrift` per column, method and
threshold left to Evidently, its verdicts from its tests (`include_tests=True`). The months are
sampled as the pipeline samples them (monitor.drift_sample rows, monitor.seed).
"""

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT

from trip_duration import drift, monitoring, stattests
from trip_duration.model import build_model, fit, input_columns
from trip_duration.trips import cleaning, read_window
from trip_duration_ops.drift_report import evidently_report

TOLERANCE = 1e-6
# The default model's inputs, and the pickup hour and weekday: categories that every month holds,
# so that chi-square on a small sample gives p-values other than 0.
FEATURES = {"categorical": ["zone_pair", "pickup_hour", "pickup_weekday"], "numeric": ["trip_distance"]}


def evidently_tests(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str], numeric: list[str]
) -> dict[str, tuple[str, float, float, bool]]:
    """Column -> Evidently's (method, score, threshold, drifted) of `ValueDrift(column=...)`."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(
        numerical_columns=[*numeric, drift.PREDICTION], categorical_columns=categorical
    )
    columns = [*categorical, *numeric, drift.PREDICTION]
    snapshot = Report([ValueDrift(column=column) for column in columns], include_tests=True).run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )
    result = snapshot.dict()
    failed = {test["name"] for test in result["tests"] if test["status"] == "FAIL"}
    found = {}
    for metric in result["metrics"]:
        column, config = metric["config"]["column"], metric["config"]
        drifted = f"Value Drift for column {column}" in failed
        found[column] = (config["method"], float(metric["value"]), config["threshold"], drifted)
    return found


def assert_same_tests(
    reference: pd.DataFrame, current: pd.DataFrame, categorical: list[str], numeric: list[str]
) -> dict[str, stattests.DriftTest]:
    """Each column's test as Evidently runs it: the same method, threshold and verdict, the score
    within TOLERANCE. Returns the scipy tests."""
    expected = evidently_tests(reference, current, categorical, numeric)
    found = drift.drift_tests(reference, current, categorical, numeric)
    assert list(found) == list(expected)
    for column, (method, score, threshold, drifted) in expected.items():
        test = found[column]
        assert (column, test.method, test.threshold, test.drifted) == (column, method, threshold, drifted)
        assert abs(test.score - score) <= TOLERANCE, (column, test.score, score)
    return found


@pytest.fixture(scope="module")
def pipeline(mirror: Path) -> tuple[monitoring.Watch, monitoring.Reference]:
    """The default model trained in-process on 2021-01, and its reference: 2021-02, sampled."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    data = {key: value for key, value in params["data"].items() if key != "name"}
    train, val = (
        read_window(mirror, data["taxi"], data[months], **cleaning(data)).to_pandas()
        for months in ("train_months", "val_months")
    )
    model = build_model(params["features"], params["model"])
    fit(model, train[input_columns(params["features"])], train["duration"].to_numpy())
    features = {**params["features"], **FEATURES}
    watch = monitoring.Watch(model, {"name": "test", "version": "test"}, data, features, params["monitor"])
    return watch, monitoring.reference(watch, val, np.asarray(model.predict(val), np.float64))


@pytest.mark.parametrize("month", ["2021-03", "2022-06"])
def test_the_months_drift_is_evidentlys_on_the_pipelines_samples(
    pipeline: tuple[monitoring.Watch, monitoring.Reference], mirror: Path, month: str
) -> None:
    watch, reference = pipeline
    record, current = monitoring.judge(watch, reference, mirror, month)
    assert len(current) == len(reference.frame) == watch.thresholds["drift_sample"]
    found = assert_same_tests(reference.frame, current, *watch.columns)
    assert {test.method for test in found.values()} == {
        stattests.JENSEN_SHANNON,
        stattests.WASSERSTEIN,
    }
    recorded = {**record["drift"]["inputs"], drift.PREDICTION: record["drift"]["prediction"]}
    assert recorded == {
        column: {"method": test.method, "score": round(test.score, 4), "threshold": test.threshold}
        | {"drifted": test.drifted}
        for column, test in found.items()
    }


def test_the_html_reports_drift_scores_are_the_records(
    pipeline: tuple[monitoring.Watch, monitoring.Reference], mirror: Path
) -> None:
    """The report of `trip-duration monitor` (Evidently's presets) shows the record's scores."""
    watch, reference = pipeline
    record, current = monitoring.judge(watch, reference, mirror, "2022-06")
    snapshot = evidently_report(reference.frame, current, *watch.columns, 0.5)
    shown = {
        metric["config"]["column"]: (metric["config"]["method"], round(float(metric["value"]), 4))
        for metric in snapshot.dict()["metrics"]
        if metric["config"]["type"].endswith(":ValueDrift")
    }
    recorded = {**record["drift"]["inputs"], drift.PREDICTION: record["drift"]["prediction"]}
    assert shown == {column: (test["method"], test["score"]) for column, test in recorded.items()}


@pytest.mark.parametrize(("month", "seed"), [("2021-03", 1), ("2022-06", 2)])
def test_small_samples_get_evidentlys_p_values_and_verdicts(
    pipeline: tuple[monitoring.Watch, monitoring.Reference], mirror: Path, month: str, seed: int
) -> None:
    watch, reference = pipeline
    _, current = monitoring.judge(watch, reference, mirror, month)
    small = [drift.sample(frame, 500, seed) for frame in (reference.frame, current)]
    found = assert_same_tests(*small, *watch.columns)
    assert {test.method for test in found.values()} == {stattests.CHI_SQUARE, stattests.KS}
    assert any(0 < test.score < 1 for test in found.values() if test.method == stattests.CHI_SQUARE)


def branches(rows: int, shift: float, seed: int) -> pd.DataFrame:
    """Columns that reach every test and every special case of Evidently's choice."""
    rng = np.random.default_rng(seed)
    spread = rng.normal(10 + shift, 3, rows)
    spread[:3] = [np.nan, np.inf, -np.inf]  # left out by both
    return pd.DataFrame(
        {
            "two_numbers": rng.choice([0.0, 1.0], rows, p=[0.6 - shift / 10, 0.4 + shift / 10]),
            "few_numbers": rng.choice([1, 2, 3, 4], rows),
            "spread": spread,
            "flat": np.full(rows, 5.0) if shift == 0 else 5.0 + rng.uniform(0, 0.01, rows),
            "two_kinds": rng.choice(["card", "cash"], rows, p=[0.5 + shift / 10, 0.5 - shift / 10]),
            "zone": rng.choice(np.arange(1, 30 + int(shift * 10)), rows),
            "one_kind": np.full(rows, "green", object),
            drift.PREDICTION: rng.gamma(2 + shift, 6, rows),
        }
    )


@pytest.mark.parametrize("rows", [300, 1000, 1001, 3000])
def test_every_branch_of_evidentlys_choice(rows: int) -> None:
    categorical, numeric = ["two_kinds", "zone", "one_kind"], ["two_numbers", "few_numbers", "spread", "flat"]
    found = assert_same_tests(branches(rows, 0, 1), branches(rows + 7, 0.5, 2), categorical, numeric)
    small = rows <= stattests.SMALL
    methods: dict[str, Any] = {
        "two_numbers": stattests.Z if small else stattests.JENSEN_SHANNON,
        "few_numbers": stattests.CHI_SQUARE if small else stattests.JENSEN_SHANNON,
        # three values left out: 1,001 rows keep 998 (Evidently counts the reference after cleaning)
        "spread": stattests.KS if rows - 3 <= stattests.SMALL else stattests.WASSERSTEIN,
        "flat": stattests.KS if small else stattests.WASSERSTEIN,
        "two_kinds": stattests.Z if small else stattests.JENSEN_SHANNON,
        "zone": stattests.CHI_SQUARE if small else stattests.JENSEN_SHANNON,
        "one_kind": stattests.Z if small else stattests.JENSEN_SHANNON,
        drift.PREDICTION: stattests.KS if small else stattests.WASSERSTEIN,
    }
    assert {column: test.method for column, test in found.items()} == methods
