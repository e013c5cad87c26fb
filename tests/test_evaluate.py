"""Metrics and plot tables, checked against values worked out by hand."""

import numpy as np
import pandas as pd

from stages.evaluate import metrics, plot_tables


def test_metrics_are_exact_on_a_tiny_case() -> None:
    scores = metrics(
        train_duration=np.array([1.0, 3.0]),
        train_predicted=np.array([2.0, 2.0]),
        duration=np.array([2.0, 4.0, 6.0]),
        predicted=np.array([2.0, 4.0, 9.0]),
    )
    # errors 0, 0, 3: rmse sqrt(3), mae 1, r2 1 - 9/8
    assert scores == {
        "rmse": 1.7321,
        "mae": 1.0,
        "r2": -0.125,
        "train_rmse": 1.0,
        "train_rows": 2,
        "val_rows": 3,
    }


def test_plot_tables_bucket_errors_by_trip_length_and_hour() -> None:
    val = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime(["2021-02-01 08:00", "2021-02-01 08:30", "2021-02-01 17:00"]),
            "duration": [4.0, 12.0, 50.0],
        }
    )
    tables = plot_tables(val, np.array([5.0, 10.0, 50.0]), plot_points=2, residual_bin=1.0, seed=0)
    assert len(tables["predicted_vs_actual"]) == 2
    assert tables["residuals"].to_dict("list") == {"residual": [-2.0, 0.0, 1.0], "trips": [1, 1, 1]}
    assert tables["error_by_duration"].to_dict("list") == {
        "duration": ["0-5 min", "10-15 min", "45-60 min"],
        "rmse": [1.0, 2.0, 0.0],
        "trips": [1, 1, 1],
    }
    assert tables["error_by_hour"].to_dict("list") == {
        "hour": [8, 17],
        "rmse": [1.5811, 0.0],
        "trips": [2, 1],
    }
