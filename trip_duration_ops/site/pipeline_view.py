"""The pipeline as the site shows it: dvc.yaml's stages and DAG, their params, and its plots."""

import json
from html import escape
from typing import Any

from trip_duration_ops.site.gitdata import Blobs
from trip_duration_ops.site.runs import declared, load_yaml, parse

BOX_W, BOX_H, GAP_X, GAP_Y = 150, 40, 60, 24


def resolve(text: str, paths: dict[str, str]) -> str:
    """`${paths.model}` -> models/trip-duration.joblib, as DVC resolves dvc.yaml's vars."""
    for key, value in paths.items():
        text = text.replace(f"${{paths.{key}}}", str(value))
    return text


def entries(items: list[Any] | None) -> list[str]:
    """dvc.yaml deps/outs/params/metrics: names, whether written as strings or one-key mappings."""
    return [item if isinstance(item, str) else next(iter(item)) for item in items or []]


def stages(pipeline: dict[str, Any], paths: dict[str, str], params: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, stage in (pipeline.get("stages") or {}).items():
        outs = [*entries(stage.get("outs")), *entries(stage.get("metrics")), *entries(stage.get("plots"))]
        sections = entries(stage.get("params"))
        found.append(
            {
                "name": name,
                "cmd": resolve(" ".join(str(stage.get("cmd", "")).split()), paths),
                "deps": [resolve(dep, paths) for dep in entries(stage.get("deps"))],
                "outs": [resolve(out, paths) for out in outs],
                "params": {section: params.get(section) for section in sections},
            }
        )
    return found


def edges(found: list[dict[str, Any]], sources: dict[str, str]) -> list[tuple[str, str]]:
    """(from, to) for each output one stage writes (or a .dvc file tracks) that another reads."""
    writers = {out: stage["name"] for stage in found for out in stage["outs"]} | sources
    pairs = {(writers[dep], stage["name"]) for stage in found for dep in stage["deps"] if dep in writers}
    return sorted(pair for pair in pairs if pair[0] != pair[1])


def dag_svg(nodes: list[str], links: list[tuple[str, str]]) -> str:
    """The DAG drawn left to right in layers (a node one layer after its furthest input)."""
    layer = dict.fromkeys(nodes, 0)
    for _ in nodes:  # longest path: at most one pass per node
        for source, target in links:
            layer[target] = max(layer[target], layer[source] + 1)
    rows: dict[int, list[str]] = {}
    for node in nodes:
        rows.setdefault(layer[node], []).append(node)
    where = {
        node: (x * (BOX_W + GAP_X) + 10, y * (BOX_H + GAP_Y) + 10)
        for x, column in rows.items()
        for y, node in enumerate(column)
    }
    width = (max(rows) + 1) * (BOX_W + GAP_X)
    height = max(map(len, rows.values())) * (BOX_H + GAP_Y) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="pipeline DAG">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        'orient="auto"><path d="M0,0L10,5L0,10z"/></marker></defs>',
    ]
    for source, target in links:
        (x1, y1), (x2, y2) = where[source], where[target]
        parts.append(
            f'<line x1="{x1 + BOX_W}" y1="{y1 + BOX_H / 2}" x2="{x2}" y2="{y2 + BOX_H / 2}" '
            'marker-end="url(#arrow)"/>'
        )
    for node, (x, y) in where.items():
        parts.append(
            f'<g class="node"><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + BOX_H / 2 + 5}">{escape(node)}</text></g>'
        )
    return "\n".join([*parts, "</svg>"])


def plot_definitions(pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    """dvc.yaml's top-level plots, each as a title, a template, x, and (file, y column) series."""
    found = []
    for entry in pipeline.get("plots") or []:
        key, spec = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        spec = spec or {}
        ys = spec.get("y")
        if isinstance(ys, dict):
            series = [
                (file, column)
                for file, columns in ys.items()
                for column in (columns if isinstance(columns, list) else [columns])
            ]
        else:
            series = [(key, ys)]
        found.append(
            {
                "title": spec.get("title", key),
                "template": spec.get("template", "linear"),
                "x": spec.get("x"),
                "x_label": spec.get("x_label", spec.get("x")),
                "y_label": spec.get("y_label", ys if isinstance(ys, str) else ""),
                "series": series,
            }
        )
    return found


def describe(blobs: Blobs, rev: str) -> dict[str, Any]:
    """Stages, DAG, plots and metrics of the pipeline committed at `rev`."""
    found = declared(blobs, rev)
    pipeline, paths = found["pipeline"], found["paths"]
    params = parse(blobs.read(rev, "params.yaml"), load_yaml) or {}
    described = stages(pipeline, paths, params)
    sources = {}
    for stage in described:
        for dep in stage["deps"]:
            if blobs.read(rev, f"{dep}.dvc") is not None:
                sources[dep] = f"{dep}.dvc"
    nodes = [*sorted(set(sources.values())), *(stage["name"] for stage in described)]
    metrics = parse(blobs.read(rev, paths.get("metrics", "reports/metrics.json")), json.loads) or {}
    return {
        "stages": described,
        "dag": dag_svg(nodes, edges(described, sources)),
        "plots": plot_definitions(pipeline),
        "metrics": metrics,
    }
