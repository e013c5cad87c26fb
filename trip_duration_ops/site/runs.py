"""Experiments as the site shows them: one run per commit of main that changed the model or its
data, per open branch that carries a model (pull requests, `retrain/*`), per pushed `dvc exp`.

A run's params, metrics and plots are the files committed at its commit (params.yaml,
reports/metrics.json, the CSVs dvc.yaml plots), exactly what `dvc metrics show` reads there.
"""

import csv
import functools
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trip_duration_ops import conf_diff
from trip_duration_ops.catalog import out_md5, pipeline_paths
from trip_duration_ops.site.gitdata import Blobs, Commit, commits, merged, refs

SCORES = ("rmse", "mae", "r2")  # the metrics every table shows


@dataclass
class Run:
    key: str  # unique and safe in a file name: the run's data file is runs/<key>.js
    kind: str  # "main", "branch" or "experiment"
    label: str  # what a reader calls it: a short sha on main, else the branch or experiment name
    commit: Commit
    params: dict[str, Any]
    metrics: dict[str, Any]
    model_md5: str | None
    data_md5: str | None
    version: str | None = None
    stages: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """What the experiments table and the compare view know of the run (plots apart)."""
        return {
            "key": self.key,
            "kind": self.kind,
            "label": self.label,
            "commit": self.commit.sha,
            "time": self.commit.time,
            "subject": self.commit.subject,
            "version": self.version,
            "params": self.params,
            "metrics": self.metrics,
            "model_md5": self.model_md5,
            "data_md5": self.data_md5,
        }


def flatten(node: Any) -> dict[str, Any]:
    """Nested params as dotted keys: {"model": {"alpha": 1}} -> {"model.alpha": 1}; lists as text."""
    return {
        key: ", ".join(map(str, value)) if isinstance(value, list) else value
        for key, value in conf_diff.flatten(node).items()
    }


@functools.lru_cache(maxsize=4096)
def parse(text: str | None, load: Any) -> Any:
    """A committed file parsed; None where it is missing or unreadable (a commit before it existed).

    Cached by content: most commits carry the same dvc.yaml and params.yaml as the one before.
    Callers must not change what it returns."""
    if text is None:
        return None
    try:
        return load(text)
    except ValueError:  # json and yaml errors both derive from it
        return None


def load_yaml(text: str) -> Any:
    """YAML through libyaml where PyYAML has it: the pure-Python parser dominates a long history."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def declared(blobs: Blobs, rev: str) -> dict[str, Any]:
    """dvc.yaml at `rev` parsed (empty where missing), with its declared paths under `paths`."""
    pipeline = parse(blobs.read(rev, "dvc.yaml"), load_yaml) or {}
    try:
        paths = pipeline_paths(pipeline)
    except Exception:  # an early commit without `vars: - paths:`
        paths = {}
    return {"pipeline": pipeline, "paths": paths}


def run_at(blobs: Blobs, commit: Commit, kind: str, label: str, key: str) -> Run | None:
    """The run a commit records; None for a commit with no dvc.lock (nothing was reproduced)."""
    lock = parse(blobs.read(commit.sha, "dvc.lock"), load_yaml)
    if not isinstance(lock, dict):
        return None
    paths = declared(blobs, commit.sha)["paths"]
    metrics = parse(blobs.read(commit.sha, paths.get("metrics", "reports/metrics.json")), json.loads)
    params = parse(blobs.read(commit.sha, "params.yaml"), load_yaml)
    data = parse(blobs.read(commit.sha, f"{paths.get('data', 'data')}.dvc"), load_yaml) or {}
    data_md5 = next((out.get("md5") for out in data.get("outs") or []), None)
    return Run(
        key=key,
        kind=kind,
        label=label,
        commit=commit,
        params=flatten(params) if isinstance(params, dict) else {},
        metrics=metrics if isinstance(metrics, dict) else {},
        model_md5=out_md5(lock, paths.get("model", "")),
        data_md5=data_md5,
    )


def main_runs(blobs: Blobs, repo: Path, branch: str) -> list[Run]:
    """Each commit of `branch` (first parents, oldest first) whose model or data differ from the
    commit before it."""
    found: list[Run] = []
    last: tuple[str | None, str | None] = (None, None)
    for commit in commits(repo, branch):
        run = run_at(blobs, commit, "main", commit.sha[:8], commit.sha[:10])
        if run is None or (run.model_md5, run.data_md5) == last:
            continue
        last = (run.model_md5, run.data_md5)
        found.append(run)
    return found


def branch_name(ref: str) -> str:
    for prefix in ("refs/heads/", "refs/remotes/origin/", "refs/remotes/"):
        if ref.startswith(prefix):
            return ref.removeprefix(prefix)
    return ref


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def side_runs(blobs: Blobs, repo: Path, branch: str, main_models: set[str | None]) -> list[Run]:
    """Open branches (not merged into `branch`) and pushed experiments whose model main never had."""
    found, seen = [], set()
    tips = refs(repo, "refs/heads", "refs/remotes", "refs/exps")
    for ref, sha in sorted(tips.items()):
        name = branch_name(ref)
        experiment = ref.startswith("refs/exps/")
        if experiment:
            name = ref.rsplit("/", 1)[-1]
        if name in (branch, "HEAD") or sha in seen or merged(repo, sha, branch):
            continue
        seen.add(sha)
        tip = commits(repo, sha, limit=1)[0]
        kind = "experiment" if experiment else "branch"
        run = run_at(blobs, tip, kind, name, f"{kind[:3]}-{safe(name)}")
        if run is not None and run.model_md5 not in main_models:
            found.append(run)
    return found


def differing(runs: list[Run]) -> list[str]:
    """Params whose value is not the same in every run (the only ones worth a column)."""
    keys = sorted({key for run in runs for key in run.params})
    return [key for key in keys if len({json.dumps(run.params.get(key)) for run in runs}) > 1]


def plot_rows(text: str | None) -> list[dict[str, Any]]:
    """A committed plot file (CSV or JSON rows) as rows with numbers where they parse."""
    if text is None:
        return []
    if text.lstrip().startswith(("[", "{")):
        rows = parse(text, json.loads)
        return rows if isinstance(rows, list) else []
    return [{key: number(value) for key, value in row.items()} for row in csv.DictReader(io.StringIO(text))]


def number(value: str) -> Any:
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
