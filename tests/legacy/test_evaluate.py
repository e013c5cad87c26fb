"""Metrics and plot tables, checked against values worked out by hand."""

import numpy as np

from stages.evaluate import metrics, plot_tables, to_csv


def test_metrics_are_exact_on_a_tiny_case() -> None:
    scores = metrics(duration=np.array([2.0, 4.0, 6.0]), predicted=np.array([2.0, 4.0, 9.0]))
    # errors 0, 0, 3: rmse sqrt(3), mae 1, r2 1 - 9/8
    assert scores == {"rmse": 1.7321, "mae": 1.0, "r2": -0.125, "val_rows": 3}


def test_plot_tables_bucket_errors_by_trip_length_and_hour() -> None:
    pickup = np.array(["2021-02-01T08:00", "2021-02-01T08:30", "2021-02-01T17:00"], dtype="datetime64[us]")
    tables = plot_tables(
        pickup,
        np.array([5.0, 12.0, 50.0]),
        np.array([6.0, 10.0, 50.0]),
        plot_points=2,
        residual_bin=1.0,
        seed=0,
    )
    assert len(tables["predicted_vs_actual"]["actual"]) == 2
    assert tables["residuals"] == {"residual": [-2.0, 0.0, 1.0], "trips": [1, 1, 1]}
    # 5.0 minutes falls in (0, 5]: buckets are closed on the right
    assert tables["error_by_duration"] == {
        "duration": ["0-5 min", "10-15 min", "45-60 min"],
        "rmse": [1.0, 2.0, 0.0],
        "trips": [1, 1, 1],
    }
    assert tables["error_by_hour"] == {"hour": [8, 17], "rmse": [1.5811, 0.0], "trips": [2, 1]}


def test_to_csv_writes_a_header_and_one_line_per_row() -> None:
    assert to_csv({"hour": [8, 17], "rmse": [1.5, 0.0]}) == "hour,rmse\n8,1.5\n17,0.0\n"
