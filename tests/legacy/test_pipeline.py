"""The whole pipeline through the real `dvc` and `git`, in throwaway copies of the project."""

import csv
import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_project, sh

MODEL = Path("models/trip-duration.joblib")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with the course months, after one `dvc repro`, committed."""
    project = make_project(tmp_path_factory.mktemp("reproduced") / "project", ["2021-01", "2021-02"])
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    return project


@pytest.fixture
def project(reproduced: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project (git history and DVC cache included)."""
    copy = tmp_path / "project"
    shutil.copytree(reproduced, copy, symlinks=True)
    sh("dvc", "remote", "modify", "local", "url", str(tmp_path / "remote"), cwd=copy)
    sh("git", "commit", "-qam", "own remote", cwd=copy)
    return copy


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_repro_gives_the_course_result_and_is_deterministic(project: Path) -> None:
    metrics = json.loads((project / "reports/metrics.json").read_text())
    assert metrics["rmse"] == pytest.approx(7.7587, abs=0.0005)
    assert (metrics["train_rows"], metrics["val_rows"]) == (73_908, 61_921)
    lock = (project / "dvc.lock").read_text()
    for output in ("prepared", "features", "models", "predictions", "reports"):
        shutil.rmtree(project / output)
    sh("dvc", "repro", "--force", cwd=project)
    assert (project / "dvc.lock").read_text() == lock
    assert sh("dvc", "status", "-q", cwd=project, check=False).returncode == 0


def test_a_model_change_reruns_train_and_evaluate_only(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"] = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 2.0}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh("dvc", "repro", cwd=project).stdout
    ran = {
        stage for stage in ("prepare", "featurize", "train", "evaluate") if f"Running stage '{stage}'" in out
    }
    assert ran == {"train", "evaluate"}
    assert json.loads((project / "reports/metrics.json").read_text())["rmse"] != pytest.approx(
        7.7587, abs=1e-4
    )


def _exp_rows(project: Path) -> list[dict[str, str]]:
    shown = sh("dvc", "exp", "show", "--csv", "--no-pager", cwd=project).stdout
    return list(csv.DictReader(io.StringIO(shown)))


def test_exp_run_swaps_the_model_group_and_exp_show_lists_both_runs(project: Path) -> None:
    sh("dvc", "exp", "run", "-S", "model=ridge", "-S", "model.alpha=0.5", cwd=project)
    rows = {(row["model.name"], row["model.alpha"]): row for row in _exp_rows(project)}
    assert ("linear", "") in rows and ("ridge", "0.5") in rows
    assert float(rows[("linear", "")]["rmse"]) == pytest.approx(7.7587, abs=0.0005)
    assert float(rows[("ridge", "0.5")]["rmse"]) != float(rows[("linear", "")]["rmse"])


def test_queued_sweep_runs_every_model(project: Path) -> None:
    sh("dvc", "exp", "run", "--queue", "-S", "model=lasso,ridge", cwd=project)
    sh("dvc", "queue", "start", cwd=project)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = sh("dvc", "queue", "status", cwd=project).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    sh("dvc", "queue", "stop", "--kill", cwd=project, check=False)
    names = {row["model.name"] for row in _exp_rows(project) if row["rmse"]}
    assert {"linear", "lasso", "ridge"} <= names, status


@pytest.mark.parametrize("damage", ["truncate", "drop_column"])
def test_bad_month_fails_in_one_line_and_leaves_the_model_alone(project: Path, damage: str) -> None:
    month = project / "data/green_tripdata_2021-02.parquet"
    if damage == "truncate":
        month.write_bytes(month.read_bytes()[:5000])
        problem = "is not a readable parquet file"
    else:
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(month).drop_columns(["trip_distance"]), month)
        problem = "lacks column trip_distance"
    model, lock = md5(project / MODEL), (project / "dvc.lock").read_text()
    done = sh("dvc", "repro", cwd=project, check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: data/green_tripdata_2021-02.parquet: {problem}"] or (
        len(errors) == 1 and errors[0].startswith(f"error: data/green_tripdata_2021-02.parquet: {problem}")
    )
    assert md5(project / MODEL) == model
    assert (project / "dvc.lock").read_text() == lock


def test_bad_model_parameter_fails_in_one_line_and_leaves_the_model_alone(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"]["positive"] = True  # LinearRegression(positive=True) takes no sparse input
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    model, lock = md5(project / MODEL), (project / "dvc.lock").read_text()
    done = sh("dvc", "repro", cwd=project, check=False)
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: params.yaml: model: LinearRegression needs dense input; set features.encoding=target"
    ]
    assert md5(project / MODEL) == model
    assert (project / "dvc.lock").read_text() == lock
