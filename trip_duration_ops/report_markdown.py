"""The pull-request report in markdown: the verdict line, then one section each for the metrics, the
later months (backtest), the parameters, the data and the plots, the base and the PR side by side.

Numbers are shown as `dvc metrics diff --md` rounds them, so the report and DVC's own table agree.
"""

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from trip_duration_ops.catalog import meta_files
from trip_duration_ops.gate import Diff, decimal, gate, percent, rmse_of
from trip_duration_ops.report_plots import Images

PRECISION = 5  # digits after the point that `dvc metrics diff --md` keeps
MIN_DECIMALS = 4  # evaluate writes errors with 4 decimals: show them all, trailing zeros too


def number(value: Any, sign: bool = False) -> str:
    """A metric as `dvc metrics diff --md` rounds it, with thousands separators and at least 4 decimals."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    plus = "+" if sign and value > 0 else ""
    if isinstance(value, int):
        return f"{plus}{value:,}"
    whole, _, decimals = f"{round(value, PRECISION) + 0.0:,.{PRECISION}f}".partition(".")  # + 0.0: no -0
    return f"{plus}{whole}.{decimals.rstrip('0').ljust(MIN_DECIMALS, '0')}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table: the header, its rule, then the rows."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def rows(diff: Diff) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, entry) sorted as DVC sorts them; names carry their file when there are several."""
    for path, names in sorted(diff.items()):
        for name, entry in sorted(names.items()):
            yield (name if len(diff) == 1 else f"{path}: {name}"), entry


def verdict(metrics: Diff, base: str, max_rmse_increase_pct: float) -> str:
    """One line: better, worse or unchanged on validation RMSE, and whether the gate passes."""
    old, new = rmse_of(metrics)
    passed = gate(metrics, max_rmse_increase_pct)
    mark = "✅" if passed else "❌"
    outcome = f"{'passes' if passed else 'fails'} the gate (at most {max_rmse_increase_pct:+g}%)."
    if new is None:
        return f"{mark} **No RMSE**: the PR's metrics have no `rmse`; {outcome}"
    if old is None:
        return f"{mark} **First metrics**: validation RMSE {number(new)}, {base} has none; {outcome}"
    if new == old:
        return f"{mark} **Unchanged**: validation RMSE {number(new)}, as on {base}; {outcome}"
    change = percent(old, new)
    hidden = change is not None and not passed and round(change, 2) <= decimal(max_rmse_increase_pct)
    shown = "" if change is None else f" ({change:+.{4 if hidden else 2}f}%)"  # not "fails at +1.00%"
    word = "Better" if new < old else "Worse"
    return (
        f"{mark} **{word}**: validation RMSE {number(old)} → {number(new)}{shown} against {base}; {outcome}"
    )


def metrics_table(metrics: Diff, base: str) -> str:
    """metric | base | PR | change | change %, from `dvc metrics diff --json`."""
    lines = []
    for name, entry in rows(metrics):
        old, new, diff = entry.get("old"), entry.get("new"), entry.get("diff")
        change = percent(old, new)
        pct = "—" if change is None else "0.00%" if change == 0 else f"{change:+.2f}%"
        lines.append([name, number(old), number(new), number(diff, sign=True), pct])
    return table(["metric", base, "PR", "change", "change %"], lines) if lines else "none"


def cell(value: Any) -> str:
    """A parameter value as code, `|` escaped; — where the revision lacks it."""
    if value is None:
        return "—"
    return "`" + (value if isinstance(value, str) else json.dumps(value)).replace("|", "\\|") + "`"


def params_table(params: Diff, base: str) -> str:
    """param | base | PR for each parameter that changed, from `dvc params diff --json`."""
    lines = [[name, cell(entry.get("old")), cell(entry.get("new"))] for name, entry in rows(params)]
    return table(["param", base, "PR"], lines) if lines else "none"


def data_changes(base_dvc: dict[str, Any] | None, pr_dvc: dict[str, Any]) -> str:
    """Files added, removed or changed in a .dvc file's `meta.files` (name -> md5), as a list."""
    old, new = meta_files(base_dvc), meta_files(pr_dvc)
    lines = [f"- added: `{name}`" for name in sorted(set(new) - set(old))]
    lines += [f"- removed: `{name}`" for name in sorted(set(old) - set(new))]
    changed = sorted(name for name in set(old) & set(new) if old[name] != new[name])
    lines += [f"- changed: `{name}` (md5 {old[name][:8]} → {new[name][:8]})" for name in changed]
    outs = [[out.get("md5") for out in (dvc or {}).get("outs") or []] for dvc in (base_dvc, pr_dvc)]
    if not lines and outs[0] != outs[1]:
        return "the data changed, but `meta.files` does not say which files"
    return "\n".join(lines) or "none"


def plots_markdown(images: Images, base: str) -> str:
    """One image a plot, each holding `base` and the PR in colour; paths relative to the report."""
    if not images:
        return "none"
    lines = [f"![{title}: {base} and PR]({path})" for title, path in images]
    return f"Each plot draws {base} and the PR together (the legend's `rev`).\n\n" + "\n".join(lines)


def backtest_rows(text: str | None) -> list[dict[str, str]]:
    """The `monitor` stage's table (one row a month), parsed; empty where there is none."""
    return list(csv.DictReader(io.StringIO(text))) if text else []


def backtest_summary(rows: list[dict[str, str]]) -> list[str]:
    """months, mean of the monthly RMSEs, the worst month, months alerting; — for no rows."""
    if not rows:
        return ["—"] * 4
    rmse = [float(row["rmse"]) for row in rows]
    worst = rows[rmse.index(max(rmse))]
    alerts = sum(row["alert"] == "true" for row in rows)
    span = f"{len(rows)} ({rows[0]['month']}..{rows[-1]['month']})"
    return [
        span,
        number(round(sum(rmse) / len(rmse), 4)),
        f"{number(max(rmse))} ({worst['month']})",
        f"{alerts}",
    ]


def backtest_table(base_rows: list[dict[str, str]], pr_rows: list[dict[str, str]], base: str) -> str:
    """How each side's model does on the months after its validation window, in four lines."""
    if not base_rows and not pr_rows:
        return "none: data/ holds no month after the validation window"
    names = ["months", "mean of monthly RMSE", "worst month's RMSE", "months alerting"]
    summaries = zip(names, backtest_summary(base_rows), backtest_summary(pr_rows), strict=True)
    text = table(["backtest", base, "PR"], [list(line) for line in summaries])
    if base_rows and [row["month"] for row in base_rows] != [row["month"] for row in pr_rows]:
        text += f"\n\nThe months differ from {base}'s: compare month by month in the plot below."
    return text


def comparability(val_path: str, base: str, champion: float | None = None, why_not: str = "") -> str:
    """The warning for a PR that validates on other trips than `base`, and what the gate compares."""
    gate_on = (
        f" The gate compares both models on the PR's trips instead: {base}'s model scores RMSE"
        f" {number(champion)} on them."
        if champion is not None
        else f" The gate compares the metrics as they are: {why_not}."
        if why_not
        else ""
    )
    return (
        f"> [!WARNING]\n> **Not like for like**: the validation trips (`{val_path}`) differ from {base}'s,"
        " so the RMSE change mixes a change of model with a change of trips (months, filters or data)."
        + gate_on
    )


def markdown(
    metrics: Diff,
    params: Diff,
    base_dvc: dict | None,
    pr_dvc: dict,
    plots: str,
    base: str,
    limit: float,
    warning: str = "",
    backtest: str = "",
    same_trips: Diff | None = None,
) -> tuple[str, bool]:
    """The whole report, and whether the gate passes (as its first line says). The verdict and the gate
    take `same_trips` (the base's model on the PR's trips) where given, the metrics table the diff."""
    gated, against = (
        (metrics, base) if same_trips is None else (same_trips, f"{base}'s model on the PR's trips")
    )
    sections = [
        verdict(gated, against, limit),
        *([warning] if warning else []),
        f"## Metrics\n\n{metrics_table(metrics, base)}",
        *([f"## Later months (backtest)\n\n{backtest}"] if backtest else []),
        f"## Parameters that changed\n\n{params_table(params, base)}",
        f"## Data that changed\n\n{data_changes(base_dvc, pr_dvc)}",
        f"## Plots\n\n{plots}",
    ]
    return "\n\n".join(sections) + "\n", gate(gated, limit)
