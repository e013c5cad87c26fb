"""The whole pipeline through the real `dvc` and `git` on the course months, in throwaway copies."""

import csv
import hashlib
import io
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import copy_of, sh

MODEL = Path("models/trip-duration.joblib")
FEB = "data/green_tripdata_2021-02.parquet"
STAGES = ("prepare", "train", "evaluate")
COURSE_RMSE = 7.7587


@pytest.fixture
def project(reproduced: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project."""
    return copy_of(reproduced, tmp_path / "project")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def metrics(project: Path) -> dict:
    return json.loads((project / "reports/metrics.json").read_text())


def set_params(project: Path, section: str, **values: object) -> None:
    """Edit a section of params.yaml by hand: set the keys given, drop those given as None."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    changed = {**params[section], **values}
    params[section] = {key: value for key, value in changed.items() if value is not None}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def set_model(project: Path, **values: object) -> None:
    set_params(project, "model", **values)


def ran(out: str) -> list[str]:
    """Stages that ran, in order, from DVC's output."""
    return [stage for line in out.splitlines() for stage in STAGES if line == f"Running stage '{stage}':"]


def test_repro_gives_the_course_result_and_is_deterministic(project: Path) -> None:
    found = metrics(project)
    assert found["rmse"] == pytest.approx(COURSE_RMSE, abs=0.0005)
    assert (found["train_rows"], found["val_rows"], found["features"]) == (73_908, 61_921, 13_221)
    lock, model = (project / "dvc.lock").read_text(), md5(project / MODEL)
    for output in ("prepared", "models", "predictions", "reports"):
        shutil.rmtree(project / output)
    out = sh("dvc", "repro", "--force", cwd=project).stdout
    assert ran(out) == ["prepare", "train", "evaluate"]
    assert (project / "dvc.lock").read_text() == lock
    assert md5(project / MODEL) == model
    assert metrics(project) == found
    assert sh("dvc", "status", "-q", cwd=project, check=False).returncode == 0


def test_a_model_change_reruns_train_and_evaluate_only(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"] = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 2.0}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh("dvc", "repro", cwd=project).stdout
    assert ran(out) == ["train", "evaluate"]
    assert "Stage 'prepare' didn't change, skipping" in out.splitlines()
    assert metrics(project)["rmse"] == 7.8679  # worse than the course model: the report test relies on it


def exp_rows(project: Path) -> list[dict[str, str]]:
    shown = sh("dvc", "exp", "show", "--csv", "--no-pager", cwd=project).stdout
    return list(csv.DictReader(io.StringIO(shown)))


def test_exp_run_swaps_the_model_group_and_exp_show_lists_both_runs(project: Path) -> None:
    out = sh("dvc", "exp", "run", "-S", "model=ridge", "-S", "model.alpha=0.5", cwd=project).stdout
    assert ran(out) == ["train", "evaluate"]
    shown = [
        (
            row["typ"],
            row["rev"] if row["typ"] == "baseline" else "exp",
            row["model.name"],
            row["model.alpha"],
            row["rmse"],
        )
        for row in exp_rows(project)
    ]
    # the workspace (applied), main (the course model) and the one experiment on it
    assert shown == [
        ("baseline", "workspace", "ridge", "0.5", "7.5991"),
        ("baseline", "main", "linear", "", "7.7587"),
        ("branch_base", "exp", "ridge", "0.5", "7.5991"),
    ]


def test_queued_sweep_runs_every_model(project: Path) -> None:
    sh("dvc", "exp", "run", "--queue", "-S", "model=lasso,ridge", cwd=project)
    try:
        sh("dvc", "queue", "start", cwd=project)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = sh("dvc", "queue", "status", cwd=project).stdout
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(2)  # each `dvc queue status` costs a second of CPU that the runs need
    finally:
        sh("dvc", "queue", "stop", "--kill", cwd=project, check=False)
    states = [line.split()[-1] for line in status.splitlines()[1:] if line.strip() and "Worker" not in line]
    assert states == ["Success", "Success"], status
    runs = {row["model.name"]: row["rmse"] for row in exp_rows(project) if row["State"] == "Success"}
    assert runs == {"lasso": "9.2334", "ridge": "7.7037"}


def test_a_model_seen_before_is_restored_from_the_run_cache(project: Path) -> None:
    linear = md5(project / MODEL)
    first = sh("dvc", "exp", "run", "-S", "model=ridge", cwd=project).stdout
    assert ran(first) == ["train", "evaluate"]
    assert md5(project / MODEL) != linear
    again = sh("dvc", "exp", "run", "-S", "model=linear", cwd=project).stdout
    lines = again.splitlines()
    assert "Stage 'train' is cached - skipping run, checking out outputs" in lines
    assert ran(again) == ["evaluate"]  # its outputs are not cached (metrics, plots): it runs again
    assert md5(project / MODEL) == linear
    assert metrics(project)["rmse"] == COURSE_RMSE


def damage_month(project: Path, damage: str) -> str:
    """Break February in data/; return the problem the stage must report."""
    month = project / FEB
    if damage == "truncate":
        month.write_bytes(month.read_bytes()[:5000])
        with pytest.raises(pa.ArrowInvalid) as raised:  # Arrow's own words end the line
            pq.ParquetFile(month)
        return f"is not a readable parquet file ({raised.value})"
    pq.write_table(pq.read_table(month).drop_columns(["trip_distance"]), month)
    return "lacks column trip_distance"


def fails_in_one_line_and_checkout_restores(project: Path, error: str) -> None:
    model, lock = md5(project / MODEL), (project / "dvc.lock").read_text()
    done = sh("dvc", "repro", cwd=project, check=False)
    assert done.returncode != 0
    assert [line for line in done.stderr.splitlines() if line.startswith("error: ")] == [error]
    assert "Traceback" not in done.stderr + done.stdout
    assert (project / "dvc.lock").read_text() == lock
    sh("dvc", "checkout", cwd=project)
    assert md5(project / MODEL) == model


@pytest.mark.parametrize("damage", ["truncate", "drop_column"])
def test_bad_month_fails_in_one_line_and_leaves_the_model_alone(project: Path, damage: str) -> None:
    problem = damage_month(project, damage)
    fails_in_one_line_and_checkout_restores(project, f"error: {FEB}: {problem}")


def test_bad_model_parameter_fails_in_one_line_and_leaves_the_model_alone(project: Path) -> None:
    set_model(project, positive=True)  # LinearRegression(positive=True) takes no sparse input
    fails_in_one_line_and_checkout_restores(
        project,
        "error: params.yaml: features.encoding: onehot is sparse, LinearRegression needs dense input;"
        " set features.encoding=target",
    )


def test_a_mistyped_param_fails_in_one_line_naming_file_and_key(project: Path) -> None:
    set_params(project, "data", min_minutes="1")
    fails_in_one_line_and_checkout_restores(
        project, "error: params.yaml: data.min_minutes: Input should be a valid number, not '1'"
    )


def test_a_stage_missing_a_param_exits_in_one_line_and_writes_nothing(project: Path) -> None:
    outputs = [MODEL, Path("predictions/val.parquet"), Path("predictions/train.json")]
    before = [md5(project / path) for path in outputs]
    set_params(project, "training", seed=None)
    done = sh(
        "python", "stages.train", "--train", "prepared/train.parquet", "--val", "prepared/val.parquet",
        "--model", str(outputs[0]), "--predictions", str(outputs[1]), "--scores", str(outputs[2]),
        cwd=project, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        "error: params.yaml: training.seed: missing\n",
    )
    assert [md5(project / path) for path in outputs] == before
