"""The registry as the site shows it: GTO's versions and stage history, with what each commit records."""

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from trip_duration.tlc import months_in
from trip_duration_ops.catalog import meta_files, out_md5
from trip_duration_ops.registry import reading
from trip_duration_ops.site.gitdata import Blobs
from trip_duration_ops.site.runs import declared, flatten, load_yaml, parse


@dataclass
class Version:
    version: str
    commit: str
    created_at: str
    author: str
    message: str
    stages: list[str]  # the stages it is in now, as `gto show` says
    metrics: dict[str, Any]
    params: dict[str, Any]
    model_md5: str | None
    windows: dict[str, list[tuple[str, str | None]]]  # train/val -> [(month, md5 of its file)]
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (param, before, after)
    backtest: list[dict[str, Any]] = field(default_factory=list)


def iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def windows(params: dict[str, Any], data_dvc: dict[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    """The training and validation months with the md5 data.dvc records for each month's file."""
    data = params.get("data") or {}
    by_month: dict[str, str] = {}
    for name, md5 in meta_files(data_dvc).items():
        if name.startswith(f"{data.get('taxi', '')}_"):
            by_month.update(dict.fromkeys(months_in([name]), md5))
    return {
        key.removesuffix("_months"): [(str(month), by_month.get(str(month))) for month in data.get(key) or []]
        for key in ("train_months", "val_months")
    }


def changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    keys = sorted(set(before) | set(after))
    return [(key, before.get(key), after.get(key)) for key in keys if before.get(key) != after.get(key)]


def versions(repo: Path, blobs: Blobs, artifact: str, backtest_rows: Any) -> list[Version]:
    """Every registered version, oldest first, with its commit's record."""
    from gto.api import show
    from gto.exceptions import ArtifactNotFound

    with reading(repo, f"gto show {artifact}"):
        try:
            shown = show(str(repo), artifact)
        except ArtifactNotFound:  # nothing registered yet
            shown = []
    found: list[Version] = []
    for entry in sorted(shown, key=lambda entry: (entry["created_at"], entry["version"])):
        sha = entry["commit_hexsha"]
        paths = declared(blobs, sha)["paths"]
        lock = parse(blobs.read(sha, "dvc.lock"), load_yaml)
        params = parse(blobs.read(sha, "params.yaml"), load_yaml) or {}
        data_dvc = parse(blobs.read(sha, f"{paths.get('data', 'data')}.dvc"), load_yaml) or {}
        metrics = parse(blobs.read(sha, paths.get("metrics", "reports/metrics.json")), load_yaml)
        found.append(
            Version(
                version=entry["version"],
                commit=sha,
                created_at=iso(entry["created_at"]),
                author=entry["author"],
                message=entry["message"],
                stages=sorted(stage["stage"] for stage in entry["stages"]),
                metrics=metrics if isinstance(metrics, dict) else {},
                params=flatten(params),
                model_md5=out_md5(lock, paths.get("model", "")),
                windows=windows(params, data_dvc),
                backtest=backtest_rows(sha, paths.get("backtest", "reports/backtest.csv")),
            )
        )
    for previous, version in itertools.pairwise(found):
        version.changes = changes(previous.params, version.params)
    return found


def events(repo: Path, artifact: str) -> list[dict[str, Any]]:
    """Registrations, assignments and the rest, oldest first, as `gto history` lists them."""
    from gto.api import history

    with reading(repo, f"gto history {artifact}"):
        found = history(str(repo), artifact, ascending=True)
    return [{**event, "timestamp": iso(event["timestamp"])} for event in found]


def stage_spans(found: list[dict[str, Any]], now: str) -> list[dict[str, str]]:
    """Which version held each stage from when to when: one span per assignment, ended by the next."""
    spans: list[dict[str, str]] = []
    for event in found:
        if event["event"] not in ("assignment", "unassignment"):
            continue
        current = next((s for s in reversed(spans) if s["stage"] == event["stage"] and not s["end"]), None)
        if current is not None:
            current["end"] = event["timestamp"]
        if event["event"] == "assignment":
            spans.append(
                {
                    "stage": event["stage"],
                    "version": event["version"],
                    "start": event["timestamp"],
                    "end": "",
                    "why": event["message"],
                }
            )
    return [{**span, "end": span["end"] or now, "open": "yes" if not span["end"] else ""} for span in spans]


def held(found: list[dict[str, Any]], all_versions: list[Version], stage: str = "prod") -> dict[str, str]:
    """Versions registered but never assigned to `stage`: what the stage stayed on, with both RMSEs."""
    assigned = {e["version"] for e in found if e["event"] == "assignment" and e["stage"] == stage}
    rmse = {v.version: v.metrics.get("rmse") for v in all_versions}
    notes, holder = {}, None
    for event in found:
        if event["event"] == "assignment" and event["stage"] == stage:
            holder = event["version"]
        elif event["event"] == "registration" and event["version"] not in assigned:
            version = event["version"]
            notes[version] = (
                f"not in {stage}: {stage} stayed on {holder} (val rmse {rmse.get(version)}"
                f" against {rmse.get(holder)} on their own validation months)"
                if holder
                else f"not in {stage}"
            )
    return notes
