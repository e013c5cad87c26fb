"""Monitoring as the site shows it: main's monthly records, and what each retrain became."""

import json
import re
from pathlib import Path
from typing import Any

from trip_duration_ops.catalog import out_md5
from trip_duration_ops.site.gitdata import Blobs, merged, refs
from trip_duration_ops.site.runs import declared, load_yaml, parse

RECORD = re.compile(r"^\d{4}-\d{2}\.json$")


def records(blobs: Blobs, rev: str, folder: str = "monitoring") -> list[dict[str, Any]]:
    """Every monitoring/YYYY-MM.json committed at `rev`, by month."""
    found = [
        parse(blobs.read(rev, f"{folder}/{name}"), json.loads)
        for name in blobs.names(rev, folder)
        if RECORD.match(name)
    ]
    return sorted((record for record in found if isinstance(record, dict)), key=lambda r: r.get("month", ""))


def retrain_outcome(
    repo: Path, blobs: Blobs, record: dict[str, Any], branch: str, models: dict[str, Any]
) -> dict[str, str] | None:
    """The retrain a record decided, by its branch `retrain/<month>`: open, or in `branch` (its model
    is the model of a commit there, as after a squash merge, with the version registered there).

    `models`: model md5 -> the run of the first commit of `branch` with that model. Its subject names
    the pull request where GitHub merged one (`... (#12)`)."""
    decision = record.get("decision") or {}
    if not decision.get("retrain"):
        return None
    name = f"retrain/{record['month']}"
    tips = refs(repo, f"refs/heads/{name}", f"refs/remotes/origin/{name}")
    if not tips:
        return {"branch": name, "state": "no branch in this clone (closed, or not pushed)"}
    tip = next(iter(tips.values()))
    model = out_md5(
        parse(blobs.read(tip, "dvc.lock"), load_yaml), declared(blobs, tip)["paths"].get("model", "")
    )
    if model in models:
        run = models[model]
        registered = f", registered as {run.version}" if run.version else ""
        where = f"{run.commit.sha[:8]} ({run.commit.subject})"
        return {"branch": name, "state": f"merged into {branch} at {where}{registered}"}
    if merged(repo, tip, branch):
        return {"branch": name, "state": f"merged into {branch}"}
    return {"branch": name, "state": "open: not merged (its gate failed, or it awaits review)"}
