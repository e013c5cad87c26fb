"""Monitoring's decision and record on hand-made numbers; its quality shares on a few TLC rows."""

import json
from pathlib import Path

import pytest
from conftest import at, write_month

from trip_duration.drift import drift_columns
from trip_duration.monitoring import (
    decide,
    history_csv,
    history_row,
    later_months,
    quality,
    record,
    rmse_increase_pct,
)
from trip_duration.stattests import is_drifted
from trip_duration.tlc import read_trips

THRESHOLDS = {
    "max_rmse_increase_pct": 15.0,
    "max_drifted_share": 0.5,
    "max_prediction_drift": 0.1,
    "min_trips": 1000,
}


def test_nothing_crossed_is_no_reason() -> None:
    assert decide(1000, 15.0, 0.4999, 0.1, THRESHOLDS) == []


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((5000, 15.01, 0.0, 0.0), {"name": "max_rmse_increase_pct", "value": 15.01, "threshold": 15.0}),
        ((5000, 0.0, 0.5, 0.0), {"name": "max_drifted_share", "value": 0.5, "threshold": 0.5}),
        ((5000, 0.0, 0.0, 0.1001), {"name": "max_prediction_drift", "value": 0.1001, "threshold": 0.1}),
    ],
)
def test_each_threshold_crossed_is_its_reason(args: tuple, reason: dict) -> None:
    assert decide(*args, THRESHOLDS) == [reason]


def test_every_threshold_crossed_lists_every_reason_in_order() -> None:
    assert [reason["name"] for reason in decide(5000, 40.0, 1.0, 0.5, THRESHOLDS)] == [
        "max_rmse_increase_pct",
        "max_drifted_share",
        "max_prediction_drift",
    ]


def test_too_few_trips_is_a_data_problem_and_the_model_is_not_judged() -> None:
    assert decide(999, 40.0, 1.0, 0.5, THRESHOLDS) == [{"name": "min_trips", "value": 999, "threshold": 1000}]


def test_rmse_increase_is_in_percent_of_the_validation_rmse() -> None:
    assert rmse_increase_pct(9.0, 7.5) == 20.0
    assert rmse_increase_pct(6.0, 7.5) == -20.0


@pytest.mark.parametrize(
    ("method", "score", "drifted"),
    [
        ("Wasserstein distance (normed)", 0.1, True),
        ("Jensen-Shannon distance", 0.0999, False),
        ("K-S p_value", 0.0499, True),
        ("K-S p_value", 0.05, True),  # K-S alone drifts at its threshold (Evidently's ks_stattest)
        ("chi-square p_value", 0.05, False),
        ("Z-test p_value", 0.0499, True),
    ],
)
def test_distances_drift_at_the_threshold_and_p_values_below_it_or_at_it_for_k_s(
    method: str, score: float, drifted: bool
) -> None:
    threshold = 0.05 if "p_value" in method else 0.1
    assert is_drifted(method, score, threshold) is drifted


def test_drift_is_tested_on_the_inputs_the_features_use() -> None:
    assert drift_columns(["zone_pair"], ["trip_distance"]) == (
        ["DOLocationID", "PULocationID"],
        ["trip_distance"],
    )
    assert drift_columns(["zone_pair", "pickup_hour", "pickup_weekday"], []) == (
        ["DOLocationID", "PULocationID", "pickup_hour", "pickup_weekday"],
        [],
    )


def test_quality_shares_count_raw_rows_outside_each_bound(tmp_path: Path) -> None:
    rows = [
        (at(5), 10, 1, 265, 2.0),  # fine
        (at(5), 0.5, 0, 10, 0.0),  # too short, zone 0, distance 0
        (at(5), 61, 10, 266, 201.0),  # too long, zone 266, distance > 200
        (at(31, 23, month=12, year=2020), 10, 10, 10, 200.0),  # previous month, distance 200 is kept
    ]
    raw = read_trips(write_month(tmp_path / "green_tripdata_2021-01.parquet", rows))
    assert quality(raw, "2021-01", 1, 60) == {
        "raw_rows": 4,
        "zone_unknown": 0.5,
        "distance_missing": 0.0,
        "distance_out_of_range": 0.5,
        "duration_out_of_bounds": 0.5,
        "outside_month": 0.25,
    }


def test_record_keys_come_in_reading_order_and_alert_follows_the_reasons() -> None:
    reasons = [{"name": "max_prediction_drift", "value": 0.2, "threshold": 0.1}]
    found = record({"name": "m", "version": "v1"}, "2021-03", {"rmse": 7.0}, {"rmse": 8.0}, {}, {}, reasons)
    assert list(found) == ["model", "month", "reference", "metrics", "drift", "quality", "alert", "reasons"]
    assert found["alert"] is True
    assert record({}, "2021-03", {}, {}, {}, {}, [])["alert"] is False
    assert json.loads(json.dumps(found)) == found


DATA = {"taxi": "green", "val_months": ["2021-02"]}


def test_later_months_are_the_data_months_after_the_validation_window(tmp_path: Path) -> None:
    for name in (
        "green_tripdata_2021-01",
        "green_tripdata_2021-02",
        "green_tripdata_2021-04",
        "yellow_tripdata_2021-03",
    ):
        (tmp_path / f"{name}.parquet").touch()
    (tmp_path / "green_tripdata_2021-05.csv").touch()
    assert later_months("later", DATA, tmp_path) == ["2021-04"]
    assert later_months("later", {**DATA, "val_months": ["2021-04"]}, tmp_path) == []
    assert later_months(["2022-02", "2021-03"], DATA, tmp_path) == ["2021-03", "2022-02"]


def test_the_history_is_one_row_a_month_in_month_order() -> None:
    def found(month: str, rmse: float, alert: bool) -> dict:
        return {
            "model": {"name": "trip-duration", "version": "v0.1.0"},
            "month": month,
            "metrics": {"rows": 1200, "rmse": rmse, "rmse_threshold": 8.9225},
            "drift": {"drifted_share": 0.3333, "prediction": {"score": 0.0206}},
            "alert": alert,
        }

    rows = [history_row(found("2021-04", 9.1, True)), history_row(found("2021-03", 7.7207, False))]
    assert history_csv(rows) == (
        "month,model,rows,rmse,rmse_threshold,drifted_share,prediction_drift,alert\n"
        "2021-03,v0.1.0,1200,7.7207,8.9225,0.3333,0.0206,false\n"
        "2021-04,v0.1.0,1200,9.1,8.9225,0.3333,0.0206,true\n"
    )
    assert history_csv([]) == "month,model,rows,rmse,rmse_threshold,drifted_share,prediction_drift,alert\n"
