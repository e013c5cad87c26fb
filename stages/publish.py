"""Publish the model after a merge to main: register its next version, push it, promote it if no worse.

    python -m stages.publish --val prepared/val.parquet --metrics reports/metrics.json \
        --card reports/model-card.md [--push] [--tolerance 0.0]

Run from the repository root, in a clone with full history and tags, on a committed and reproduced
pipeline (`dvc status` clean). Steps:
1. `dvc push`: the model and its data reach the DVC remote before any tag names them;
2. `gto register`: tag HEAD `trip-duration@vX.Y.Z`, unless a version already points at HEAD;
3. champion/challenger: score the version GTO shows in `prod` and HEAD's model on HEAD's validation
   trips; `gto assign --stage prod` when challenger RMSE <= champion RMSE + tolerance (no prod: promote);
4. write the model card; with --push, fetch tags from origin first and push the artifact's tags last.
A second run on the same commit registers and assigns nothing: it finds the version at HEAD.

Version rule, from what each stage ran with in dvc.lock (command, md5 of every dependency, params)
at the previous version and at HEAD:
- first version: v0.1.0;
- minor when a stage upstream of the model changed (`prepare`, `featurize`): other data in data.dvc,
  months, cleaning or feature params or code, i.e. the model sees different inputs;
- patch when only the stage that writes the model changed (`train`): estimator, hyperparameters, code;
- no new version when neither changed (docs, tests, `evaluate`): HEAD's model is the previous version's.

Expected output (a better model, then a worse one):
    publish: trip-duration@v0.1.1 registered (patch: train changed since v0.1.0)
    publish: prod: v0.1.1 (val rmse 7.5991 <= 7.7587 of v0.1.0)
    publish: trip-duration@v0.1.2 registered (patch: train changed since v0.1.1)
    publish: prod stays on v0.1.1 (val rmse 12.2126 > 7.5991)
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import yaml
from sklearn.metrics import root_mean_squared_error

from stages.atomic import atomic_path
from stages.errors import InputError, run
from stages.fetch import meta_files
from stages.section import read_yaml

FIRST_VERSION = "v0.1.0"
SEMVER = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")
MONTH = re.compile(r"\d{4}-\d{2}")


@dataclass(frozen=True)
class Decision:
    """The champion/challenger comparison; `champion` is the version in the stage before this run."""

    stage: str
    challenger_rmse: float
    champion: str | None
    champion_rmse: float | None
    tolerance: float
    promoted: bool


def semver(version: str) -> tuple[int, int, int]:
    if not (match := SEMVER.match(version)):
        raise ValueError(f"'{version}' is not a version like v1.2.3")
    major, minor, patch = map(int, match.groups())
    return major, minor, patch


def next_version(previous: str | None, bump: str) -> str:
    """The version after `previous` for a "minor" or "patch" bump; v0.1.0 when there is none."""
    if previous is None:
        return FIRST_VERSION
    major, minor, patch = semver(previous)
    if bump == "minor":
        return f"v{major}.{minor + 1}.0"
    if bump == "patch":
        return f"v{major}.{minor}.{patch + 1}"
    raise ValueError(f"unknown bump '{bump}'; expected minor or patch")


def model_lineage(stages: dict[str, Any], model_path: str) -> tuple[str, set[str]]:
    """The dvc.lock stage that writes `model_path` and every stage upstream of it."""
    writers = {out["path"]: name for name, stage in stages.items() for out in stage.get("outs", [])}
    if model_path not in writers:
        raise ValueError(f"no stage writes {model_path}")
    upstream: set[str] = set()
    todo = [writers[model_path]]
    while todo:
        for dep in stages[todo.pop()].get("deps", []):
            writer = writers.get(dep["path"])
            if writer is not None and writer not in upstream:
                upstream.add(writer)
                todo.append(writer)
    return writers[model_path], upstream


def changed_stages(previous: dict[str, Any], head: dict[str, Any]) -> set[str]:
    """Stages whose recipe (command, dependencies with their md5, params) differs between two dvc.locks."""

    def recipe(stage: dict[str, Any] | None) -> tuple:
        stage = stage or {}
        return stage.get("cmd"), stage.get("deps"), stage.get("params")

    return {
        name for name in previous.keys() | head.keys() if recipe(previous.get(name)) != recipe(head.get(name))
    }


def bump_kind(changed: Iterable[str], model_stage: str, upstream: set[str]) -> str | None:
    """minor if the model's inputs changed, patch if only its own stage did, None if neither."""
    changed = set(changed)
    if changed & upstream:
        return "minor"
    return "patch" if model_stage in changed else None


def should_promote(challenger_rmse: float, champion_rmse: float | None, tolerance: float = 0.0) -> bool:
    """Promote when there is no champion or the challenger is no worse, within `tolerance` minutes."""
    return champion_rmse is None or challenger_rmse <= champion_rmse + tolerance


def data_months(dvc_file: dict[str, Any]) -> list[str]:
    """Months of the files a .dvc file records in meta.files, e.g. ["2021-01", "2021-02"]."""
    return sorted({month for name in meta_files(dvc_file) for month in MONTH.findall(name)})


def model_card(
    artifact: str,
    version: str,
    commit: str,
    origin: str,
    how: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    months: list[str],
    decision: Decision,
) -> str:
    """The release notes of one version, in markdown."""
    stage, champion = decision.stage, decision.champion
    if champion == version:
        verdict = f"already in `{stage}`"
    elif decision.promoted:
        verdict = f"promoted to `{stage}`" + (f" (replaces {champion})" if champion else " (first in it)")
    else:
        verdict = f"not promoted: `{stage}` stays on {champion}"
    rows = f"| challenger | {version} | {decision.challenger_rmse:.4f} |"
    if champion and champion != version:
        rows += f"\n| champion (`{stage}`) | {champion} | {decision.champion_rmse:.4f} |"
    data = params.get("data", {})
    train, val = (", ".join(map(str, data.get(key, []))) or "?" for key in ("train_months", "val_months"))
    chosen = yaml.safe_dump({key: params[key] for key in ("data", "features", "model") if key in params})
    table = "\n".join(f"| {key} | {value} |" for key, value in metrics.items())
    return f"""# {artifact} {version}

- tag: `{artifact}@{version}` ({how})
- commit: `{commit}`
- stage: {verdict}

## Champion and challenger (validation RMSE, minutes; tolerance {decision.tolerance:g})

| role | version | rmse |
|---|---|---|
{rows}

## Metrics

| metric | value |
|---|---|
{table}

## Data

- training months: {train}
- validation months: {val}
- months in data.dvc: {", ".join(months) or "not recorded"}

## Params

```yaml
{chosen.rstrip()}
```

## Use

```
dvc artifacts get {origin} {artifact} --rev {version} -o model.joblib
```
"""


def command(*args: str) -> str:
    """Run git, dvc or gto (from this Python's environment); its stdout, or one error line on failure."""
    tool = {"dvc": [sys.executable, "-m", "dvc"], "gto": [sys.executable, "-m", "gto.cli"]}.get(args[0])
    done = subprocess.run([*(tool or [args[0]]), *args[1:]], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit code {done.returncode}"]
        raise InputError(" ".join(args[:2]), lines[-1])
    return done.stdout.strip()


def version_tags(artifact: str, *points_at: str) -> list[str]:
    """Registered versions of `artifact` (git tags artifact@vX.Y.Z), lowest first; `points_at` a commit."""
    at = ["--points-at", *points_at] if points_at else []
    versions = [
        tag.split("@", 1)[1] for tag in command("git", "tag", "--list", *at, f"{artifact}@v*").split()
    ]
    return sorted((version for version in versions if SEMVER.match(version)), key=semver)


def lock_stages(rev: str) -> dict[str, Any]:
    shown = subprocess.run(["git", "show", f"{rev}:dvc.lock"], capture_output=True, text=True)
    return (yaml.safe_load(shown.stdout) or {}).get("stages", {}) if shown.returncode == 0 else {}


def choose_version(artifact: str, model_path: str) -> tuple[str, str, bool]:
    """HEAD's version, how it follows from the previous one, and whether it is still to be registered."""
    head_lock = lock_stages("HEAD")
    try:
        model_stage, upstream = model_lineage(head_lock, model_path)
    except ValueError as error:
        raise InputError("dvc.lock", str(error)) from error
    at_head = version_tags(artifact, "HEAD")
    earlier = [v for v in version_tags(artifact) if not at_head or semver(v) < semver(at_head[-1])]
    if not earlier:
        return (at_head or [FIRST_VERSION])[-1], "first version", not at_head
    previous = earlier[-1]
    changed = changed_stages(lock_stages(f"{artifact}@{previous}"), head_lock)
    bump = bump_kind(changed, model_stage, upstream)
    if bump is None:
        return (at_head or [previous])[-1], f"model unchanged since {previous}", False
    stages = ", ".join(sorted(changed & (upstream | {model_stage})))
    how = f"{bump}: {stages} changed since {previous}"
    return (at_head or [next_version(previous, bump)])[-1], how, not at_head


def val_rmse(model_path: str | Path, val: pd.DataFrame) -> float:
    return float(root_mean_squared_error(val["duration"], joblib.load(model_path).predict(val)))


def compare(
    artifact: str, stage: str, version: str, model_path: str, val: pd.DataFrame, tolerance: float
) -> Decision:
    """Score HEAD's model and, unless it is HEAD's version, the one GTO shows in `stage`, on `val`."""
    registry = json.loads(command("gto", "show", "--json") or "{}")
    champion = (registry.get(artifact) or {}).get("stage", {}).get(stage)
    challenger_rmse, champion_rmse = val_rmse(model_path, val), None
    if champion is not None and champion != version:
        with tempfile.TemporaryDirectory() as tmp:
            out = str(Path(tmp) / "champion.joblib")
            command("dvc", "artifacts", "get", ".", artifact, "--rev", champion, "-o", out)
            try:  # a model pickled by older code may not load with this code
                champion_rmse = val_rmse(out, val)
            except Exception as error:
                problem = f"{stage} model {champion} cannot be scored by this code ({error!r})"
                advice = f"; compare by hand, then: gto assign {artifact} --version {version} --stage {stage}"
                raise InputError(f"{artifact}@{champion}", problem + advice) from error
    promoted = champion == version or should_promote(challenger_rmse, champion_rmse, tolerance)
    return Decision(stage, challenger_rmse, champion, champion_rmse, tolerance, promoted)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", required=True, help="validation trips both models are scored on")
    parser.add_argument("--metrics", required=True, help="metrics JSON of HEAD's model")
    parser.add_argument("--card", required=True, help="output: model card (markdown)")
    parser.add_argument("--artifact", default="trip-duration", help="name in dvc.yaml's artifacts")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--tolerance", type=float, default=0.0, help="minutes of RMSE a challenger may lose")
    parser.add_argument("--push", action="store_true", help="fetch tags from origin first, push them last")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-dvc", default="data.dvc")
    args = parser.parse_args(argv)
    artifact, stage = args.artifact, args.stage

    if args.push:
        command("git", "fetch", "--tags", "origin")
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "-q"], capture_output=True)
    if status.returncode or command("git", "status", "--porcelain", "--untracked-files=no"):
        raise InputError("dvc.lock", "workspace differs from HEAD: run dvc repro, commit, then publish")
    model_path = ((read_yaml("dvc.yaml").get("artifacts") or {}).get(artifact) or {}).get("path")
    if model_path is None:
        raise InputError("dvc.yaml", f"declares no artifact '{artifact}' with a path")
    version, how, new = choose_version(artifact, model_path)
    command("dvc", "push", "-q")  # before any tag names the model, so consumers can always fetch it
    decision = compare(artifact, stage, version, model_path, pd.read_parquet(args.val), args.tolerance)
    rmse, champion = f"val rmse {decision.challenger_rmse:.4f}", decision.champion
    if new:
        note = f"{artifact} {version}: {how}; {rmse}"
        command("gto", "register", artifact, "HEAD", "--version", version, "-m", note)
    print(f"publish: {artifact}@{version} {'registered' if new else 'already registered'} ({how})")
    if champion == version:
        print(f"publish: {version} already in {stage}")
    elif decision.promoted:
        versus = f" <= {decision.champion_rmse:.4f} of {champion}" if champion else ", no champion"
        note = f"{stage}: {version} ({rmse}{versus})"
        command("gto", "assign", artifact, "--version", version, "--stage", stage, "-m", note)
        print(f"publish: {note}")
    else:
        print(f"publish: {stage} stays on {champion} ({rmse} > {decision.champion_rmse:.4f})")

    git_origin = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True)
    metrics = json.loads(Path(args.metrics).read_text(encoding="utf-8"))
    commit = command("git", "rev-list", "-n", "1", f"{artifact}@{version}")  # HEAD unless model unchanged
    origin, months = git_origin.stdout.strip() or ".", data_months(read_yaml(args.data_dvc))
    card = model_card(
        artifact, version, commit, origin, how, metrics, read_yaml(args.params), months, decision
    )
    with atomic_path(args.card) as tmp:
        tmp.write_text(card, encoding="utf-8")
    if args.push:  # every tag of the artifact: also those an earlier, failed run left unpushed
        refs = [f"refs/tags/{artifact}{sign}*:refs/tags/{artifact}{sign}*" for sign in "@#"]
        command("git", "push", "-q", "origin", *refs)


if __name__ == "__main__":
    run(main)
