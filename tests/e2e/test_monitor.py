"""`trip-duration monitor` on real months, with the model of a throwaway project's `dvc repro`."""

import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import reproduced_project, sh

from trip_duration import metrics
from trip_duration.model import load_model
from trip_duration.params import read_section
from trip_duration_ops.score import month_trips

MODEL = "models/trip-duration.joblib"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, mirror: Path) -> Path:
    """The reproduced course project with 2021-03 and 2021-04 in data/, and a 2021-06 whose
    trips are 2021-04's moved two months on with durations 50% longer."""
    project = reproduced_project(tmp_path_factory.mktemp("monitor") / "project")
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
    data = read_section(project / "params.yaml", "data")
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
    assert sorted(path.name for path in (project / "monitoring").iterdir()) == ["2021-03.json"]
