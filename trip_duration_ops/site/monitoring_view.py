"""Monitoring as the site shows it: main's monthly records, and what each retrain became."""

import json
import re
from pathlib import Path
from typing import Any

from trip_duration_ops.site.gitdata import Blobs, merged, refs
from trip_duration_ops.site.runs import parse

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
    repo: Path, record: dict[str, Any], branch: str, versions_by_commit: dict[str, str], main_shas: list[str]
) -> dict[str, str] | None:
    """The retrain a record decided, by its branch `retrain/<month>`: open, merged (and the version
    main registered after it), or no longer there."""
    decision = record.get("decision") or {}
    if not decision.get("retrain"):
        return None
    name = f"retrain/{record['month']}"
    tips = refs(repo, f"refs/heads/{name}", f"refs/remotes/origin/{name}")
    if not tips:
        return {"branch": name, "state": "no branch in this clone (closed, or not pushed)"}
    tip = next(iter(tips.values()))
    if not merged(repo, tip, branch):
        return {"branch": name, "state": "open: not merged (its gate failed, or it awaits review)"}
    after = next(
        (
            versions_by_commit[sha]
            for sha in main_shas
            if sha in versions_by_commit and merged(repo, tip, sha)
        ),
        None,
    )
    return {"branch": name, "state": f"merged into {branch}" + (f", registered as {after}" if after else "")}
