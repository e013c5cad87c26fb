"""The pull-request report's plots: DVC's own vega-lite specs, one image per plot, drawn offline.

`dvc plots diff --json` gives one spec per plot holding both revisions, told apart by colour
(the `rev` field), as `dvc plots diff` draws them: each becomes one PNG with the revisions
labelled (`main`, `PR`), so a change shows within one picture.
"""

import copy
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PR = "workspace"  # DVC's name for the checked-out PR in its diffs
Images = list[tuple[str, str]]  # per plot: title, image (relative to the report)


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


def relabel(spec: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    """DVC's spec of several revisions with each revision renamed (`{"workspace": "PR"}`) in its rows
    and colour legend; revisions not in `labels` keep their names. The input is left alone."""
    spec = copy.deepcopy(spec)
    spec["data"]["values"] = [
        {**row, "rev": labels.get(row["rev"], row["rev"])} if "rev" in row else row
        for row in spec["data"]["values"]
    ]
    for encoding, _ in encodings(spec):
        color = encoding.get("color")
        scale = color.get("scale") if isinstance(color, dict) else None
        if isinstance(scale, dict) and isinstance(scale.get("domain"), list):
            scale["domain"] = [labels.get(rev, rev) for rev in scale["domain"]]
    return spec


def bars_from_zero(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with every bar's quantitative axis starting at 0: a bar from elsewhere misleads."""
    spec = copy.deepcopy(spec)
    for encoding, mark in encodings(spec):
        if (mark if isinstance(mark, str) else (mark or {}).get("type")) != "bar":
            continue
        for axis in (encoding.get(channel) for channel in ("x", "y")):
            if isinstance(axis, dict) and axis.get("type") == "quantitative":
                axis.setdefault("scale", {})["zero"] = True
    return spec


def start_renderer() -> None:
    """Start vl_convert's engine, a whole browser engine that takes seconds, e.g. while DVC works."""
    import vl_convert

    vl_convert.vegalite_to_svg({"mark": "point"})


def render_plots(plots: dict[str, Any], base: str, images: Path, report_dir: Path) -> Images:
    """Draw each plot of `dvc plots diff --json` once, `base` and the PR in it; (title, image) each."""
    import vl_convert

    images.mkdir(parents=True, exist_ok=True)
    drawn = []
    for path, entries in plots.get("data", {}).items():
        vega = next((entry for entry in entries if entry.get("type") == "vega"), None)
        if vega is None:
            continue
        stem = re.sub(r"[^A-Za-z0-9_]+", "-", str(Path(path).with_suffix(""))).strip("-")
        image = images / f"{stem}.png"
        spec = bars_from_zero(relabel(vega["content"], {PR: "PR"}))
        image.write_bytes(vl_convert.vegalite_to_png(spec))
        title = vega["content"].get("title", path)
        drawn.append(
            (
                title.get("text", path) if isinstance(title, dict) else title,
                Path(os.path.relpath(image, report_dir)).as_posix(),
            )
        )
    return drawn
