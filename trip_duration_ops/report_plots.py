"""The pull-request report's plots: DVC's own vega-lite specs, one image per revision, drawn offline.

`dvc plots diff --json` gives one spec per plot holding both revisions; each is narrowed to one
revision on axes that span both, so the base's and the PR's images compare side by side.
"""

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PR = "workspace"  # DVC's name for the checked-out PR in its diffs
Images = list[tuple[str, str | None, str | None]]  # per plot: title, base image, PR image


def encodings(node: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every (encoding, mark) in a vega-lite spec, layers included."""
    if isinstance(node, list):
        for item in node:
            yield from encodings(item)
    elif isinstance(node, dict):
        if isinstance(node.get("encoding"), dict):
            yield node["encoding"], node.get("mark")
        for key, item in node.items():
            if key != "data":
                yield from encodings(item)


def one_revision(spec: dict[str, Any], rev: str, label: str) -> dict[str, Any]:
    """DVC's spec of both revisions narrowed to one, on axes that span both so the images compare."""
    spec = copy.deepcopy(spec)
    values = spec["data"]["values"]
    for encoding, mark in encodings(spec):
        for axis in (encoding.get(channel) for channel in ("x", "y")):
            if not isinstance(axis, dict) or axis.get("type") != "quantitative" or "field" not in axis:
                continue
            numbers = [
                float(row[axis["field"]]) for row in values if row.get(axis["field"]) not in (None, "")
            ]
            scale = axis.setdefault("scale", {})
            bar = (mark if isinstance(mark, str) else (mark or {}).get("type")) == "bar"
            zero = [0] if bar or scale.get("zero", True) else []  # a bar from elsewhere misleads
            if numbers:
                scale.update(domain=[min(*numbers, *zero), max(*numbers, *zero)], nice=True)
    colors = spec.get("encoding", {}).get("color", {}).get("scale", {})
    if rev in colors.get("domain", []) and len(colors.get("range", [])) == len(colors["domain"]):
        colors["range"], colors["domain"] = [colors["range"][colors["domain"].index(rev)]], [label]
    spec["data"]["values"] = [{**row, "rev": label} for row in values if row.get("rev") == rev]
    return spec


def render_plots(plots: dict[str, Any], base: str, images: Path, report_dir: Path) -> Images:
    """Draw each plot of `dvc plots diff --json` once per revision; (title, base image, PR image)."""
    import vl_convert

    images.mkdir(parents=True, exist_ok=True)
    drawn = []
    for path, entries in plots.get("data", {}).items():
        vega = next((entry for entry in entries if entry.get("type") == "vega"), None)
        if vega is None:
            continue
        stem = re.sub(r"[^A-Za-z0-9_]+", "-", str(Path(path).with_suffix(""))).strip("-")
        pair: list[str | None] = []
        for rev, label, side in ((base, base, "base"), (PR, "PR", "pr")):
            image = images / f"{stem}-{side}.png"
            image.unlink(missing_ok=True)  # never show a picture left from an earlier run
            if rev in vega["revisions"]:
                image.write_bytes(vl_convert.vegalite_to_png(one_revision(vega["content"], rev, label)))
            pair.append(Path(os.path.relpath(image, report_dir)).as_posix() if image.is_file() else None)
        title = vega["content"].get("title", path)
        drawn.append((title.get("text", path) if isinstance(title, dict) else title, *pair))
    return drawn
