"""stages.evaluate: metrics and plot tables, checked against values worked out by hand."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stages.evaluate import evaluate, main, plot_tables, to_csv
from trip_duration.errors import run

PICKUP = np.array(["2021-02-01T08:00", "2021-02-01T08:30", "2021-02-01T17:00"], dtype="datetime64[us]")
SECTION = dict(plot_points=2000, residual_bin=1.0, seed=42)


def test_metrics_are_exact_on_a_tiny_case() -> None:
    scores, _ = evaluate(PICKUP, np.array([2.0, 4.0, 6.0]), np.array([2.0, 4.0, 9.0]), **SECTION)
    # errors 0, 0, 3: rmse sqrt(3), mae 1, r2 1 - 9/8
    assert scores == {"rmse": 1.7321, "mae": 1.0, "r2": -0.125, "val_rows": 3}


def test_plot_tables_bucket_errors_by_trip_length_and_hour() -> None:
    tables = plot_tables(
        PICKUP,
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
        "duration": ["00-05 min", "10-15 min", "45-60 min"],
        "rmse": [1.0, 2.0, 0.0],
        "trips": [1, 1, 1],
    }
    assert tables["error_by_hour"] == {"hour": [8, 17], "rmse": [1.5811, 0.0], "trips": [2, 1]}


def test_duration_labels_sort_as_text_in_trip_length_order() -> None:
    duration = np.array([70.0, 50.0, 40.0, 25.0, 17.0, 12.0, 7.0, 3.0])  # one trip in each bucket
    pickup = np.full(len(duration), np.datetime64("2021-02-01T08:00", "us"))
    labels = plot_tables(pickup, duration, duration + 1.0, 10, 1.0, 0)["error_by_duration"]["duration"]
    assert labels == [
        "00-05 min",
        "05-10 min",
        "10-15 min",
        "15-20 min",
        "20-30 min",
        "30-45 min",
        "45-60 min",
        "60+ min",
    ]
    assert sorted(labels) == labels


def test_scatter_sample_is_seeded_and_kept_in_trip_order() -> None:
    duration = np.arange(1.0, 21.0)
    pickup = np.full(20, np.datetime64("2021-02-01T08:00", "us"))
    first = plot_tables(pickup, duration, duration + 0.5, 5, 1.0, 7)["predicted_vs_actual"]
    again = plot_tables(pickup, duration, duration + 0.5, 5, 1.0, 7)["predicted_vs_actual"]
    assert first == again
    assert len(first["actual"]) == 5 and first["actual"] == sorted(first["actual"])
    assert first["predicted"] == [actual + 0.5 for actual in first["actual"]]


def test_to_csv_writes_a_header_and_one_line_per_row() -> None:
    assert to_csv({"hour": [8, 17], "rmse": [1.5, 0.0]}) == "hour,rmse\n8,1.5\n17,0.0\n"
    assert to_csv({"duration": ["00-05 min"], "trips": [3]}) == "duration,trips\n00-05 min,3\n"


def _inputs(tmp_path: Path, section: str) -> list[str]:
    predictions, scores, params = tmp_path / "val.parquet", tmp_path / "train.json", tmp_path / "params.yaml"
    table = {
        "pickup_datetime": pa.array(PICKUP),
        "duration": pa.array([5.0, 12.0, 50.0]),
        "predicted": pa.array([6.0, 10.0, 50.0]),
    }
    pq.write_table(pa.table(table), predictions)
    scores.write_text(json.dumps({"train_rmse": 1.234567, "train_rows": 10, "features": 4}))
    params.write_text(section)
    metrics, plots, reference = (
        tmp_path / "out/metrics.json",
        tmp_path / "out/plots",
        tmp_path / "out/ref.json",
    )
    return ["--predictions", str(predictions), "--scores", str(scores), "--params", str(params),
            "--metrics", str(metrics), "--plots", str(plots), "--reference", str(reference)]  # fmt: skip


def test_main_writes_metrics_and_one_csv_per_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _inputs(tmp_path, "evaluate: {name: default, plot_points: 2000, residual_bin: 1.0, seed: 42}\n")
    (tmp_path / "out/plots").mkdir(parents=True)
    (tmp_path / "out/plots/stale.csv").write_text("left from an earlier run\n")
    main(argv)
    metrics = json.loads((tmp_path / "out/metrics.json").read_text())
    assert metrics == {
        "rmse": 1.291,
        "mae": 1.0,
        "r2": 0.9957,
        "train_rmse": 1.2346,
        "train_rows": 10,
        "val_rows": 3,
        "features": 4,
    }
    assert list(metrics) == ["rmse", "mae", "r2", "train_rmse", "train_rows", "val_rows", "features"]
    reference = json.loads((tmp_path / "out/ref.json").read_text())  # numpy's linear quantiles of 6, 10, 50
    assert reference == {
        "predicted_minutes_p10": 6.8,
        "predicted_minutes_median": 10.0,
        "predicted_minutes_p90": 42.0,
    }
    assert sorted(path.name for path in (tmp_path / "out/plots").iterdir()) == [
        "error_by_duration.csv",
        "error_by_hour.csv",
        "predicted_vs_actual.csv",
        "residuals.csv",
    ]
    assert (tmp_path / "out/plots/error_by_duration.csv").read_text() == (
        "duration,rmse,trips\n00-05 min,1.0,1\n10-15 min,2.0,1\n45-60 min,0.0,1\n"
    )
    assert capsys.readouterr().out == (
        "evaluate: rmse 1.291, mae 1.0, r2 0.9957, train_rmse 1.2346, train_rows 10, val_rows 3, features 4\n"
    )


def test_main_rejects_a_misspelt_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = _inputs(tmp_path, "evaluate: {name: default, plot_points: 2000, residual_bin: 1.0, seeds: 42}\n")
    with pytest.raises(SystemExit) as exited:
        run(main, argv)
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'params.yaml'}: evaluate.seed: missing;"
        " evaluate.seeds: unknown key; evaluate takes name, plot_points, residual_bin, seed\n"
    )
    assert not (tmp_path / "out").exists()
