"""Publishing: the version rule and the promotion rule exactly, then the whole GitOps loop for real.

The loop runs real git, DVC and GTO in throwaway folders: a bare "origin", a local-folder DVC
remote, merges to main, `python -m stages.publish --push`, and a consumer that fetches by stage.
"""

import hashlib
import math
import subprocess
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from conftest import ROOT, make_project, sh

from stages.publish import (
    Decision,
    bump_kind,
    changed_stages,
    data_months,
    model_card,
    model_lineage,
    next_version,
    should_promote,
)

ARTIFACT = "trip-duration"
NOT_COMMITTED = "dvc.lock: workspace differs from HEAD: run dvc repro, commit, then publish"


def stage(deps: list[str], outs: list[str], params: dict | None = None, md5: str = "a") -> dict:
    """A dvc.lock stage entry with one md5 for every dependency."""
    entry = {"cmd": "python -m x", "deps": [{"path": dep, "md5": md5} for dep in deps]}
    return {**entry, "params": {"params.yaml": params or {}}, "outs": [{"path": out} for out in outs]}


LOCK = {
    "prepare": stage(["data", "stages/prepare.py"], ["prepared/train.parquet", "prepared/val.parquet"]),
    "featurize": stage(["prepared/train.parquet"], ["features/vocabulary.json"]),
    "train": stage(
        ["features/vocabulary.json", "prepared/train.parquet", "prepared/val.parquet"],
        ["models/trip-duration.joblib", "predictions/val.parquet", "predictions/train.json"],
    ),
    "evaluate": stage(["predictions/val.parquet", "predictions/train.json"], ["reports/plots"]),
}


@pytest.mark.parametrize(
    ("previous", "bump", "expected"),
    [(None, "minor", "v0.1.0"), (None, "patch", "v0.1.0"), ("v0.1.0", "patch", "v0.1.1"),
     ("v0.1.9", "minor", "v0.2.0"), ("v1.2.3", "minor", "v1.3.0"), ("v1.9.9", "patch", "v1.9.10")],
)  # fmt: skip
def test_next_version(previous: str | None, bump: str, expected: str) -> None:
    assert next_version(previous, bump) == expected


@pytest.mark.parametrize(("previous", "bump"), [("1.2.3", "patch"), ("v1.2", "minor"), ("v1.2.3", "major")])
def test_next_version_rejects_what_it_cannot_bump(previous: str, bump: str) -> None:
    with pytest.raises(ValueError):
        next_version(previous, bump)


def test_model_lineage_follows_dependencies_up_from_the_model() -> None:
    assert model_lineage(LOCK, "models/trip-duration.joblib") == ("train", {"prepare", "featurize"})
    assert model_lineage(LOCK, "prepared/val.parquet") == ("prepare", set())
    with pytest.raises(ValueError, match=r"no stage writes models/other\.joblib"):
        model_lineage(LOCK, "models/other.joblib")


def test_the_projects_own_lock_gives_train_and_its_upstream_stages() -> None:
    stages = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    model = yaml.safe_load((ROOT / "dvc.yaml").read_text())["artifacts"][ARTIFACT]["path"]
    assert model_lineage(stages, model) == ("train", {"prepare", "featurize"})


def _changed(stage_name: str, **change: object) -> set[str]:
    head = {**LOCK, stage_name: {**LOCK[stage_name], **change}}
    return changed_stages(LOCK, head)


def test_changed_stages_compares_command_dependencies_and_params_not_outputs() -> None:
    assert changed_stages(LOCK, LOCK) == set()
    assert _changed("prepare", deps=[{"path": "data", "md5": "b"}]) == {"prepare"}
    assert _changed("train", params={"params.yaml": {"model": {"alpha": 2.0}}}) == {"train"}
    assert _changed("evaluate", cmd="python -m y") == {"evaluate"}
    assert _changed("train", outs=[{"path": "models/trip-duration.joblib", "md5": "c"}]) == set()
    assert changed_stages(LOCK, {**LOCK, "report": stage([], ["x"])}) == {"report"}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [({"prepare"}, "minor"), ({"featurize", "train", "evaluate"}, "minor"), ({"train"}, "patch"),
     ({"train", "evaluate"}, "patch"), ({"evaluate"}, None), (set(), None)],
)  # fmt: skip
def test_bump_kind(changed: set[str], expected: str | None) -> None:
    assert bump_kind(changed, "train", {"prepare", "featurize"}) == expected


@pytest.mark.parametrize(
    ("challenger", "champion", "tolerance", "expected"),
    [(7.0, None, 0.0, True), (7.5, 7.5, 0.0, True), (7.5001, 7.5, 0.0, False),
     (7.5001, 7.5, 0.001, True), (7.6, 7.5, 0.05, False), (6.0, 7.5, 0.0, True)],
)  # fmt: skip
def test_should_promote(challenger: float, champion: float | None, tolerance: float, expected: bool) -> None:
    assert should_promote(challenger, champion, tolerance) is expected


def test_data_months_come_from_meta_files() -> None:
    files = {"green_tripdata_2021-02.parquet": "x", "green_tripdata_2021-01.parquet": "y"}
    assert data_months({"outs": [], "meta": {"files": files}}) == ["2021-01", "2021-02"]
    assert data_months({"outs": []}) == []


def test_model_card_states_the_decision_and_the_numbers() -> None:
    params = {"data": {"train_months": ["2021-01"], "val_months": ["2021-02"]}, "model": {"alpha": 1.0}}
    kept = Decision("prod", 7.91234, "v0.1.1", 7.6, 0.0, promoted=False)
    card = model_card(
        ARTIFACT, "v0.1.2", "abc123", "ORIGIN", "patch", {"rmse": 7.9123}, params, ["2021-01"], kept
    )
    lines = card.splitlines()
    assert lines[0] == "# trip-duration v0.1.2"
    assert "- stage: not promoted: `prod` stays on v0.1.1" in lines
    assert "| challenger | v0.1.2 | 7.9123 |" in lines and "| champion (`prod`) | v0.1.1 | 7.6000 |" in lines
    assert "- training months: 2021-01" in lines and "- months in data.dvc: 2021-01" in lines
    assert "dvc artifacts get ORIGIN trip-duration --rev v0.1.2 -o model.joblib" in lines
    first = Decision("prod", 7.7587, None, None, 0.0, promoted=True)
    card = model_card(ARTIFACT, "v0.1.0", "abc", ".", "first version", {}, {}, [], first)
    assert "- stage: promoted to `prod` (first in it)" in card and "champion (" not in card


# The loop, end to end


def publish(project: Path, card: Path, check: bool = True) -> subprocess.CompletedProcess:
    args = ["--val", "prepared/val.parquet", "--metrics", "reports/metrics.json", "--card", str(card)]
    return sh("python", "stages.publish", *args, "--push", cwd=project, check=check)


def tags(repo: Path) -> set[str]:
    return set(sh("git", "tag", "--list", cwd=repo).stdout.split())


def in_prod(project: Path) -> str:
    return sh("python", "gto.cli", "show", f"{ARTIFACT}#prod", "--version", cwd=project).stdout.strip()


def rmse(project: Path) -> float:
    return yaml.safe_load((project / "reports/metrics.json").read_text())["rmse"]


def merge_model(project: Path, branch: str, model: dict) -> None:
    """On a branch: change the model section, reproduce, commit; merge into main and push main."""
    sh("git", "checkout", "-q", "-b", branch, cwd=project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({**params, "model": model}, sort_keys=False))
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", f"model: {model['name']}", cwd=project)
    sh("git", "checkout", "-q", "main", cwd=project)
    sh("git", "merge", "-q", "--no-ff", "-m", f"Merge {branch}", branch, cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)


def test_publish_registers_promotes_only_better_models_and_consumers_fetch_prod(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", ["2021-01", "2021-02"])
    origin, remote, card = tmp_path / "origin.git", tmp_path / "dvc-remote", tmp_path / "model-card.md"
    sh("python", "stages.fetch", "2021-01", "2021-02", cwd=project)  # records meta.files in data.dvc
    # Absolute: consumers read the remote from .dvc/config at the tagged commit, from anywhere.
    sh("dvc", "remote", "modify", "local", "url", str(remote), cwd=project)
    sh("dvc", "add", "-q", "data", cwd=project)
    # dvc artifacts get clones the default branch: the bare HEAD must name a branch that exists.
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=project)
    sh("dvc", "repro", cwd=project)
    refused = publish(project, card, check=False)  # the new model is not committed yet
    assert (refused.returncode, refused.stderr) == (1, f"error: {NOT_COMMITTED}\n")
    assert tags(project) == set() and not card.exists()
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)

    out = publish(project, card).stdout
    assert f"{ARTIFACT}@v0.1.0 registered (first version)" in out
    assert tags(origin) == tags(project) == {f"{ARTIFACT}@v0.1.0", f"{ARTIFACT}#prod#1"}
    assert in_prod(project) == "v0.1.0"
    assert "- stage: promoted to `prod` (first in it)" in card.read_text()
    assert "- months in data.dvc: 2021-01, 2021-02" in card.read_text()
    linear = rmse(project)

    out = publish(project, card).stdout  # same commit: nothing new
    assert "already registered" in out and "v0.1.0 already in prod" in out
    assert tags(origin) == tags(project) == {f"{ARTIFACT}@v0.1.0", f"{ARTIFACT}#prod#1"}

    # alpha 0.5 beats plain least squares on the rare zone pairs (7.599 < 7.7587); alpha 2.0 would not
    merge_model(project, "ridge", {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 0.5})
    ridge, ridge_md5 = rmse(project), hashlib.md5((project / "models/trip-duration.joblib").read_bytes())
    assert ridge < linear
    out = publish(project, card).stdout
    assert f"{ARTIFACT}@v0.1.1 registered (patch: train changed since v0.1.0)" in out
    assert in_prod(project) == "v0.1.1"
    assert tags(origin) == tags(project) == {f"{ARTIFACT}@v0.1.0", f"{ARTIFACT}#prod#1", f"{ARTIFACT}@v0.1.1",
                                             f"{ARTIFACT}#prod#2"}  # fmt: skip

    lasso = {"name": "lasso", "estimator": "sklearn.linear_model.Lasso", "alpha": 1.0}
    merge_model(project, "lasso", lasso)
    assert rmse(project) > ridge
    out = publish(project, card).stdout
    assert f"{ARTIFACT}@v0.1.2 registered" in out and "prod stays on v0.1.1" in out
    assert in_prod(project) == "v0.1.1"
    assert f"{ARTIFACT}@v0.1.2" in tags(origin) and f"{ARTIFACT}#prod#3" not in tags(origin)
    assert "- stage: not promoted: `prod` stays on v0.1.1" in card.read_text()

    consumer = tmp_path / "consumer"
    consumer.mkdir()
    sh(
        "dvc",
        "artifacts",
        "get",
        str(origin),
        ARTIFACT,
        "--stage",
        "prod",
        "-o",
        "model.joblib",
        cwd=consumer,
    )
    assert hashlib.md5((consumer / "model.joblib").read_bytes()).digest() == ridge_md5.digest()
    model = joblib.load(consumer / "model.joblib")
    trips = pd.DataFrame({"pickup_datetime": [pd.Timestamp("2021-02-01 08:00")], "PULocationID": [74],
                          "DOLocationID": [75], "trip_distance": [1.2]})  # fmt: skip
    minutes = model.predict(trips)
    assert minutes.shape == (1,) and math.isfinite(minutes[0]) and 0 < minutes[0] < 60
