"""The GitOps loop for real: git, DVC and GTO in throwaway folders, published by `trip-duration publish`.

One parent folder holds, side by side as on a developer's machine: the project, a bare `origin.git`,
and the project's default DVC remote, the relative `../../nyc-taxi-duration-dvc-remote` of
.dvc/config. Merges to main are published with `trip-duration publish --push` (paths from dvc.yaml);
consumers fetch with `trip-duration get` by version (the model card's line) and by stage.
"""

import dataclasses
import hashlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml
from conftest import ROOT, make_project, sh

from trip_duration.errors import InputError
from trip_duration_ops.registry import download, locate

ARTIFACT = "trip-duration"
MODEL = Path("models/trip-duration.joblib")
CARD = Path("reports/model-card.md")
REMOTE = "nyc-taxi-duration-dvc-remote"
NOT_COMMITTED = "dvc.lock: workspace differs from HEAD: run dvc repro, commit, then publish"
RIDGE = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 0.5}
LASSO = {"name": "lasso", "estimator": "sklearn.linear_model.Lasso", "alpha": 1.0}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def tags(repo: Path) -> set[str]:
    return set(sh("git", "tag", "--list", cwd=repo).stdout.split())


def in_prod(project: Path) -> str:
    return sh("gto", "show", f"{ARTIFACT}#prod", "--version", cwd=project).stdout.strip()


def rmse(project: Path) -> float:
    return json.loads((project / "reports/metrics.json").read_text())["rmse"]


def publish(project: Path, check: bool = True):
    return sh("trip-duration", "publish", "--push", cwd=project, check=check)


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


@dataclasses.dataclass(frozen=True)
class Step:
    """One `trip-duration publish --push`: what it printed and what it left."""

    out: str
    origin_tags: set[str]
    project_tags: set[str]
    prod: str
    card: str


@dataclasses.dataclass
class Loop:
    """What the loop did, step by step, for the tests to check."""

    parent: Path
    project: Path
    origin: Path
    refused: subprocess.CompletedProcess | None = None
    refused_left_tags: set[str] | None = None
    refused_left_card: bool | None = None
    steps: dict[str, Step] = dataclasses.field(default_factory=dict)
    rmse: dict[str, float] = dataclasses.field(default_factory=dict)
    md5: dict[str, str] = dataclasses.field(default_factory=dict)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Loop:
    """Baseline published twice, a better ridge merged and published, a worse lasso merged and published,
    then a month added outside the windows and published."""
    parent = tmp_path_factory.mktemp("gitops")
    project = make_project(parent / "project", ["2021-01", "2021-02"])
    done = Loop(parent, project, parent / "origin.git")
    # The project's own .dvc/config (its relative remote) and .gitignore (the model card is not committed).
    shutil.copy2(ROOT / ".dvc/config", project / ".dvc/config")
    shutil.copy2(ROOT / ".gitignore", project / ".gitignore")
    sh("trip-duration", "fetch", "2021-01", "2021-02", cwd=project)  # records meta.files in data.dvc
    sh("dvc", "add", "-q", "data", cwd=project)
    # dvc reads the default branch of a bare origin: its HEAD must name a branch that exists.
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(done.origin), cwd=parent)
    sh("git", "remote", "add", "origin", str(done.origin), cwd=project)
    sh("dvc", "repro", cwd=project)
    done.refused = publish(project, check=False)  # the new model is not committed yet
    done.refused_left_tags, done.refused_left_card = (
        tags(done.origin) | tags(project),
        (project / CARD).exists(),
    )
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)

    steps = (("linear", None), ("again", None), ("ridge", RIDGE), ("lasso", LASSO), ("month", None))
    for name, model in steps:
        if model is not None:
            merge_model(project, name, model)
        if name == "month":  # a month after the windows: prepare runs again, the model stays the same
            sh("trip-duration", "fetch", "2021-03", cwd=project)
            sh("dvc", "add", "-q", "data", cwd=project)
            sh("dvc", "repro", cwd=project)
            sh("git", "add", "-A", cwd=project)
            sh("git", "commit", "-qm", "data: 2021-03", cwd=project)
            sh("git", "push", "-q", "origin", "main", cwd=project)
        done.rmse[name], done.md5[name] = rmse(project), md5(project / MODEL)
        out = publish(project).stdout
        card = (project / CARD).read_text()
        done.steps[name] = Step(out, tags(done.origin), tags(project), in_prod(project), card)
    return done


def test_the_default_remote_is_relative_and_beside_the_project(loop: Loop) -> None:
    config = (loop.project / ".dvc/config").read_text()
    assert config == (ROOT / ".dvc/config").read_text()
    assert f"    url = ../../{REMOTE}" in config.splitlines()
    assert sorted(path.name for path in loop.parent.iterdir()) == [REMOTE, "origin.git", "project"]
    for model in loop.md5.values():  # every published model reached it
        assert (loop.parent / REMOTE / "files/md5" / model[:2] / model[2:]).is_file()


def test_an_uncommitted_model_is_refused(loop: Loop) -> None:
    refused = loop.refused
    assert (refused.returncode, refused.stdout, refused.stderr) == (1, "", f"error: {NOT_COMMITTED}\n")
    assert (loop.refused_left_tags, loop.refused_left_card) == (set(), False)


def test_the_first_version_goes_to_prod(loop: Loop) -> None:
    step = loop.steps["linear"]
    assert step.out.splitlines() == [
        f"publish: {ARTIFACT}@v0.1.0 registered (first version)",
        f"publish: prod: v0.1.0 (val rmse {loop.rmse['linear']:.4f}, no champion)",
    ]
    assert step.origin_tags == step.project_tags == {f"{ARTIFACT}@v0.1.0", f"{ARTIFACT}#prod#1"}
    assert step.prod == "v0.1.0"
    lines = step.card.splitlines()
    assert lines[0] == f"# {ARTIFACT} v0.1.0"
    assert "- stage: promoted to `prod` (first in it)" in lines
    assert "- months in data.dvc: 2021-01, 2021-02" in lines


def test_a_second_publish_of_the_same_commit_adds_nothing(loop: Loop) -> None:
    step = loop.steps["again"]
    assert step.out.splitlines() == [
        f"publish: {ARTIFACT}@v0.1.0 already registered (registered earlier)",
        "publish: v0.1.0 already in prod",
    ]
    assert step.origin_tags == step.project_tags == loop.steps["linear"].origin_tags
    assert step.prod == "v0.1.0"
    assert "- stage: already in `prod`" in step.card.splitlines()


def test_a_better_model_is_a_patch_and_is_promoted(loop: Loop) -> None:
    step, ridge, linear = loop.steps["ridge"], loop.rmse["ridge"], loop.rmse["linear"]
    assert (linear, ridge) == (7.7587, 7.5991)  # alpha 0.5 beats plain least squares on rare zone pairs
    assert step.out.splitlines() == [
        f"publish: {ARTIFACT}@v0.1.1 registered (patch: train changed since v0.1.0)",
        f"publish: prod: v0.1.1 (val rmse {ridge:.4f} <= {linear:.4f} of v0.1.0)",
    ]
    added = {f"{ARTIFACT}@v0.1.1", f"{ARTIFACT}#prod#2"}
    assert step.origin_tags == step.project_tags == loop.steps["linear"].origin_tags | added
    assert step.prod == "v0.1.1"
    assert "- stage: promoted to `prod` (replaces v0.1.0)" in step.card.splitlines()


def test_a_worse_model_is_registered_but_not_promoted(loop: Loop) -> None:
    step, lasso, ridge = loop.steps["lasso"], loop.rmse["lasso"], loop.rmse["ridge"]
    assert lasso > ridge
    assert step.out.splitlines() == [
        f"publish: {ARTIFACT}@v0.1.2 registered (patch: train changed since v0.1.1)",
        f"publish: prod stays on v0.1.1 (val rmse {lasso:.4f} > {ridge:.4f})",
    ]
    assert step.origin_tags == step.project_tags == loop.steps["ridge"].origin_tags | {f"{ARTIFACT}@v0.1.2"}
    assert step.prod == "v0.1.1"
    lines = step.card.splitlines()
    assert "- stage: not promoted: `prod` stays on v0.1.1" in lines
    assert f"| challenger | v0.1.2 | {lasso:.4f} |" in lines
    assert f"| champion (`prod`) | v0.1.1 | {ridge:.4f} |" in lines


def test_a_month_that_leaves_the_model_unchanged_is_no_new_version(loop: Loop) -> None:
    step = loop.steps["month"]
    assert loop.md5["month"] == loop.md5["lasso"]
    assert step.out.splitlines() == [
        f"publish: {ARTIFACT}@v0.1.2 already registered (model unchanged since v0.1.2 (same md5))",
        f"publish: prod stays on v0.1.1 (val rmse {loop.rmse['lasso']:.4f} > {loop.rmse['ridge']:.4f})",
    ]
    assert step.origin_tags == loop.steps["lasso"].origin_tags and step.prod == "v0.1.1"


def predicted_minutes(model_file: Path) -> float:
    model = joblib.load(model_file)
    trips = pd.DataFrame({"pickup_datetime": [pd.Timestamp("2021-02-01 08:00")], "PULocationID": [74],
                          "DOLocationID": [75], "trip_distance": [1.2]})  # fmt: skip
    minutes = model.predict(trips)
    assert minutes.shape == (1,)
    return float(minutes[0])


def card_command(card: str) -> list[str]:
    """The one `trip-duration get ...` line of a model card, split as a shell would."""
    lines = [line for line in card.splitlines() if line.startswith("trip-duration get ")]
    assert len(lines) == 1, card
    return shlex.split(lines[0])


def test_the_model_cards_command_downloads_that_version(loop: Loop, tmp_path: Path) -> None:
    command = card_command(loop.steps["ridge"].card)
    out = f"{ARTIFACT}.joblib"
    assert command == ["trip-duration", "get", "--repo", str(loop.origin), "--version", "v0.1.1", "-o", out]
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    done = sh(*command, cwd=consumer)
    assert done.stdout == f"get: {ARTIFACT} v0.1.1 -> {out}, md5 ok\n"
    assert md5(consumer / out) == loop.md5["ridge"]
    minutes = predicted_minutes(consumer / out)
    assert math.isfinite(minutes) and 0 < minutes < 60


def test_a_fresh_clone_gets_the_model_in_prod(loop: Loop) -> None:
    clone = loop.parent / "clone"  # beside origin, so the relative remote resolves as for the project
    sh("git", "clone", "-q", str(loop.origin), str(clone), cwd=loop.parent)
    try:
        done = sh("trip-duration", "get", "--stage", "prod", "-o", f"{ARTIFACT}.joblib", cwd=clone)
        assert done.stdout == f"get: {ARTIFACT} v0.1.1 (prod) -> {ARTIFACT}.joblib, md5 ok\n"
        assert md5(clone / f"{ARTIFACT}.joblib") == loop.md5["ridge"]
        minutes = predicted_minutes(clone / f"{ARTIFACT}.joblib")
        assert math.isfinite(minutes) and 0 < minutes < 60
    finally:
        shutil.rmtree(clone)


def test_a_download_whose_bytes_differ_from_the_record_is_refused(
    loop: Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(loop.parent)  # in-process DVC: away from this repository
    located = locate(loop.origin, version="v0.1.1")
    assert (located.version, located.path, located.md5) == ("v0.1.1", str(MODEL), loop.md5["ridge"])
    tampered = dataclasses.replace(located, md5="0" * 32)
    out = tmp_path / "model.joblib"
    with pytest.raises(InputError) as raised:
        download(tampered, loop.origin, out)
    assert (raised.value.path, raised.value.problem) == (
        str(out),
        f"md5 {loop.md5['ridge']} differs from {'0' * 32} recorded for v0.1.1; not saved",
    )
    assert list(tmp_path.iterdir()) == []


# A stand-in for GitHub's CLI: logs each call (and the notes it is given), knows the releases it made.
GH = """#!{python}
import json, os, pathlib, sys
state = pathlib.Path(os.environ["GH_STUB_DIR"])
args = sys.argv[1:]
entry = {{"argv": args}}
if "--notes-file" in args:
    entry["notes"] = pathlib.Path(args[args.index("--notes-file") + 1]).read_text()
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps(entry) + "\\n")
created = state / "created"
made = created.read_text().split() if created.exists() else []
if args[:2] == ["release", "view"]:
    sys.exit(0 if args[2] in made else 1)
if args[:2] == ["release", "create"]:
    created.write_text("\\n".join([*made, args[2]]))
    sys.exit(0)
sys.exit(2)
"""


def test_release_creates_one_release_per_version_at_head_once(
    loop: Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "gh").write_text(GH.format(python=sys.executable))
    (stub / "gh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{stub}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("GH_STUB_DIR", str(tmp_path))
    # HEAD is the month added after lasso: no version there, nothing to release.
    assert sh("git", "tag", "--points-at", "HEAD", cwd=loop.project).stdout == ""
    nothing = sh("trip-duration", "release", cwd=loop.project).stdout
    assert nothing == f"release: no {ARTIFACT} version at HEAD; nothing to release\n"
    assert not (tmp_path / "calls.jsonl").exists()
    # At lasso's merge, with the card its publish wrote: v0.1.2, registered, not promoted.
    sh("git", "checkout", "-q", f"{ARTIFACT}@v0.1.2", cwd=loop.project)
    (loop.project / CARD).write_text(loop.steps["lasso"].card)
    at_head = sh("git", "tag", "--points-at", "HEAD", cwd=loop.project).stdout.split()
    assert at_head == [f"{ARTIFACT}@v0.1.2"]
    tag, card = at_head[0], loop.steps["lasso"].card

    first = sh("trip-duration", "release", cwd=loop.project)
    assert first.stdout == f"release: {tag} created\n"
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls == [
        {"argv": ["release", "view", tag]},
        {
            "argv": ["release", "create", tag, f"{CARD}#Model card", "--verify-tag", "--title", tag,
                     "--notes-file", str(CARD)],
            "notes": card,
        },
    ]  # fmt: skip

    second = sh("trip-duration", "release", cwd=loop.project)
    assert second.stdout == f"release: {tag} exists already\n"
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert calls[2:] == [{"argv": ["release", "view", tag]}]
