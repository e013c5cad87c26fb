"""Publishing, end to end: the whole GitOps loop for real.

The loop runs real git, DVC and GTO in throwaway folders: a bare "origin", a local-folder DVC
remote, merges to main, `python -m stages.publish --push`, and a consumer that fetches by stage.
The version and promotion rules and the model card are unit tests now: tests/unit/test_publish.py.
"""

import hashlib
import math
import subprocess
from pathlib import Path

import joblib
import pandas as pd
import yaml
from conftest import make_project, sh

ARTIFACT = "trip-duration"
NOT_COMMITTED = "dvc.lock: workspace differs from HEAD: run dvc repro, commit, then publish"


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
