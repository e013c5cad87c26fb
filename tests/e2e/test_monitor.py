"""`trip-duration monitor` on real months, with the model of a throwaway project's `dvc repro`."""

import csv
import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, copy_of, sh

from trip_duration import metrics
from trip_duration.model import load_model
from trip_duration.params import read_section
from trip_duration_ops.score import month_trips

MODEL = "models/trip-duration.joblib"


@pytest.fixture(scope="module")
def project(reproduced: Path, tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Path:
    """The reproduced course project with 2021-03 and 2021-04 in data/, and a 2021-06 whose
    trips are 2021-04's moved two months on with durations 50% longer."""
    project = copy_of(reproduced, tmp_path_factory.mktemp("monitor") / "project")
    for month in ("2021-03", "2021-04"):
        shutil.copy2(mirror / f"green_tripdata_{month}.parquet", project / "data")
    april = pq.read_table(mirror / "green_tripdata_2021-04.parquet")
    pickup, dropoff = april["lpep_pickup_datetime"], april["lpep_dropoff_datetime"]
    later = pc.add(pickup, pa.scalar(timedelta(days=61)))  # April 1..30 -> June 1..30
    trip = pc.cast(pc.subtract(dropoff, pickup), pa.int64())  # in the file's time unit
    longer = pc.add(later, pc.cast(pc.divide(pc.multiply(trip, 3), 2), pa.duration(pickup.type.unit)))
    june = april.set_column(
        april.schema.get_field_index("lpep_pickup_datetime"), "lpep_pickup_datetime", later
    )
    june = june.set_column(
        june.schema.get_field_index("lpep_dropoff_datetime"), "lpep_dropoff_datetime", longer
    )
    pq.write_table(june, project / "data" / "green_tripdata_2021-06.parquet")
    return project


def monitor(project: Path, *months: str):
    return sh("trip-duration", "monitor", "--months", *months, "--model", MODEL, cwd=project, check=False)


def test_real_months_are_recorded_with_the_rmse_scored_by_hand(project: Path) -> None:
    done = monitor(project, "2021-03", "2021-04")
    assert (done.returncode, done.stderr) == (0, "")
    assert len(done.stdout.splitlines()) == 2
    model = load_model(project / MODEL)
    data = read_section(project / "params.yaml", "data").model_dump()
    for month in ("2021-03", "2021-04"):
        found = json.loads((project / "monitoring" / f"{month}.json").read_text())
        trips = month_trips(project / "data", month, data).to_pandas()
        expected = metrics.rmse(trips["duration"], np.asarray(model.predict(trips)))
        assert found["metrics"]["rmse"] == round(expected, 4)
        assert found["metrics"]["rows"] == len(trips)
        assert found["reference"] == {"months": ["2021-02"], "rows": 61921, "rmse": 7.7587}
        assert (found["alert"], found["reasons"]) == (False, [])
        assert set(found["drift"]["inputs"]) == {"PULocationID", "DOLocationID", "trip_distance"}
        assert (project / "reports" / "monitoring" / f"{month}.html").stat().st_size > 100_000


def test_longer_durations_raise_the_rmse_alert(project: Path) -> None:
    done = monitor(project, "2021-06")
    assert done.returncode == 1, done.stderr
    found = json.loads((project / "monitoring" / "2021-06.json").read_text())
    assert found["alert"] is True
    assert [reason["name"] for reason in found["reasons"]] == ["max_rmse_increase_pct"]
    assert found["reasons"][0]["value"] > found["reasons"][0]["threshold"] == 15.0
    assert "ALERT max_rmse_increase_pct" in done.stdout


def test_a_missing_month_is_one_error_line_and_the_other_month_is_still_recorded(project: Path) -> None:
    shutil.rmtree(project / "monitoring", ignore_errors=True)
    done = monitor(project, "2021-07", "2021-03")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: data/green_tripdata_2021-07.parquet: is missing (fetch it: trip-duration fetch YYYY-MM)"
    ]
    assert sorted(path.name for path in (project / "monitoring").iterdir()) == ["2021-03.json", "history.csv"]


def test_the_history_has_a_row_per_recorded_month_and_dvc_plots_draws_it(project: Path) -> None:
    assert monitor(project, "2021-03", "2021-04").returncode == 0
    with (project / "monitoring" / "history.csv").open() as history:
        rows = list(csv.DictReader(history))
    records = [json.loads((project / "monitoring" / f"{row['month']}.json").read_text()) for row in rows]
    assert [row["month"] for row in rows] == ["2021-03", "2021-04"]
    assert [float(row["rmse"]) for row in rows] == [found["metrics"]["rmse"] for found in records]
    assert {row["rmse_threshold"] for row in rows} == {str(round(7.7587 * 1.15, 4))}
    shown = json.loads(sh("dvc", "plots", "show", "--json", cwd=project).stdout)
    drawn = next(entries for name, entries in shown["data"].items() if name.startswith("Monitoring"))
    values = drawn[0]["content"]["data"]["values"]
    assert sorted({(value["month"], value["field"]) for value in values}) == [
        (month, field) for month in ("2021-03", "2021-04") for field in ("rmse", "rmse_threshold")
    ]
    assert "errors" not in shown


def test_the_monitor_stage_backtests_the_later_months_as_the_command_monitors_them(project: Path) -> None:
    """2021-03, 2021-04 and the shifted 2021-06 are in data/ after the validation window 2021-02."""
    assert monitor(project, "2021-03", "2021-04", "2021-06").returncode == 1
    done = sh("dvc", "repro", "monitor", cwd=project)
    assert "monitor: 3 months after the validation window, 1 alerting" in done.stdout
    with (project / "reports" / "backtest.csv").open() as backtest:
        rows = list(csv.DictReader(backtest))
    assert [row["month"] for row in rows] == ["2021-03", "2021-04", "2021-06"]
    for row in rows:
        found = json.loads((project / "monitoring" / f"{row['month']}.json").read_text())
        assert float(row["rmse"]) == found["metrics"]["rmse"]
        assert float(row["drifted_share"]) == found["drift"]["drifted_share"]
        assert row["alert"] == str(found["alert"]).lower()
    assert sh("dvc", "status", "monitor", cwd=project).stdout.strip() == "Data and pipelines are up to date."


def test_drift_verdicts_by_sample_size_as_the_docs_report_them(project: Path, mirror: Path) -> None:
    """`python -m bench.drift_sample`, as docs/monitoring.md prints it, on fewer sizes and seeds."""
    months = project.parent / "drift-months"
    months.mkdir()
    for month in ("2021-02", "2021-03", "2021-05", "2022-01"):
        (months / f"green_tripdata_{month}.parquet").symlink_to(mirror / f"green_tripdata_{month}.parquet")
    assert "`python -m bench.drift_sample`" in (ROOT / "docs" / "monitoring.md").read_text()
    options = ["--data-dir", str(months), "--sizes", "1000", "50000", "--seeds", "2"]
    done = sh("python", "bench.drift_sample", *options, cwd=project)
    lines = done.stdout.splitlines()
    assert lines[0] == "reference ['2021-02']: 61,921 trips; 2 seeds per size"
    header = "| month | sample | DOLocationID | PULocationID | trip_distance | prediction |"
    rows = {tuple(cells[:2]): cells[2:] for cells in (line.strip("| ").split(" | ") for line in lines[4:])}
    assert lines[2] == header and len(rows) == 6
    # Few rows: chi-square p-values call the zones drifted even on a month that has not drifted.
    assert all(cell.startswith("chi-square p_value") for cell in rows["2021-03", "1,000"][:2])
    assert all(cell.endswith("drifted 2/2") for cell in rows["2021-03", "1,000"][:2])
    assert all(cell.endswith("drifted 0/2") for cell in rows["2021-03", "50,000"])
    assert rows["2022-01", "50,000"][3].startswith("Wasserstein 0.29")
    drifted = rows["2022-01", "50,000"]
    assert all(cell.endswith("drifted 2/2") for cell in (*drifted[:2], drifted[3]))
