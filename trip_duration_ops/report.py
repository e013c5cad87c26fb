"""Pull-request report: markdown from DVC's own diffs against the base branch, with a gate on RMSE.

Run after `dvc repro` on the PR's head; exits 1 when RMSE got worse than params.yaml's `report` allows:

    trip-duration report [--base main] [--out report.md] [--images reports/pr-images]

The first line is the verdict, for example
    ❌ **Worse**: validation RMSE 7.7587 → 7.8679 (+1.41%) against main; fails the gate (at most +1%).
then the metrics, the parameters and data files that changed, and the plots, main and the PR in each.
"""

import argparse
import copy
import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any, cast

import yaml

from trip_duration import metrics as scores
from trip_duration.errors import InputError, run
from trip_duration.files import read_yaml, write_text
from trip_duration.params import Report, read_section
from trip_duration_ops.catalog import meta_files, out_md5, pipeline_paths
from trip_duration_ops.report_plots import Images, render_plots

Diff = dict[str, dict[str, dict[str, Any]]]  # `dvc metrics/params diff --json`: file -> name -> old, new
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


def decimal(value: float) -> Decimal:
    """The number as written (7.7587, not 7.75869999...): a change of exactly 1% is then 1."""
    return Decimal(repr(value))


def percent(old: Any, new: Any) -> Decimal | None:
    """Change from old to new in %; None unless both are numbers and old is not 0."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new)) or old == 0:
        return None
    return (decimal(new) - decimal(old)) / abs(decimal(old)) * 100


def rmse_of(metrics: Diff) -> tuple[Any, Any]:
    """(base, PR) validation RMSE from the first metrics file that has `rmse`; None where absent."""
    found = next((names["rmse"] for names in metrics.values() if "rmse" in names), {})
    return found.get("old"), found.get("new")


def gate(metrics: Diff, max_rmse_increase_pct: float) -> bool:
    """RMSE rose by at most `max_rmse_increase_pct` %; a first PR (no RMSE at base) passes."""
    old, new = rmse_of(metrics)
    if new is None or old is None:
        return new is not None
    change = percent(old, new)
    return new <= old if change is None else change <= decimal(max_rmse_increase_pct)


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


def on_same_trips(metrics: Diff, champion_rmse: float) -> Diff:
    """The diff with the base's RMSE replaced by the base's model scored on the PR's validation trips."""
    found = copy.deepcopy(metrics)
    for names in found.values():
        if "rmse" in names:
            names["rmse"]["old"] = champion_rmse
            break
    return found


def champion_rmse(base: str, model_path: str, val_path: str) -> tuple[float | None, str]:
    """The base's model (from the DVC cache or remote) on the PR's validation trips, or why not."""
    import dvc.api
    import joblib
    import pandas as pd
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(model_path, rev=base, mode="rb") as file:
            model = joblib.load(file)
    except (DvcException, OSError) as error:
        return None, f"{base}'s model could not be read ({type(error).__name__}: {error})"
    val = pd.read_parquet(val_path)
    return round(scores.rmse(val["duration"], model.predict(val)), 4), ""


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def rows(diff: Diff) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, entry) sorted as DVC sorts them; names carry their file when there are several."""
    for path, names in sorted(diff.items()):
        for name, entry in sorted(names.items()):
            yield (name if len(diff) == 1 else f"{path}: {name}"), entry


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


def like_for_like(base_lock: dict[str, Any] | None, pr_lock: dict[str, Any], val_path: str) -> bool:
    """The PR validates on the trips `base` validated on (or `base` has none to compare with)."""
    old = out_md5(base_lock, val_path)
    return old is None or old == out_md5(pr_lock, val_path)


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


def report(
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
    """The whole markdown report, and whether the gate passes. The verdict and the gate take
    `same_trips` (the base's model on the PR's trips) where given, the metrics table the diff."""
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


def start_diffs(base: str) -> list[tuple[list[str], Popen]]:
    """Start `dvc metrics|params|plots diff BASE --json` side by side: each DVC takes seconds to start."""
    commands = [["metrics", "diff", base, "--all"], ["params", "diff", base], ["plots", "diff", base]]
    command = [sys.executable, "-m", "dvc"]
    return [
        (args, Popen([*command, *args, "--json"], stdout=PIPE, stderr=PIPE, text=True)) for args in commands
    ]


def diff_results(started: list[tuple[list[str], Popen]]) -> list[dict[str, Any]]:
    """What each started command printed, parsed; a failure as one line."""
    outputs = [process.communicate() for _, process in started]
    for (args, process), (out, err) in zip(started, outputs, strict=True):
        if process.returncode:
            lines = (err or out).strip().splitlines() or [f"exit code {process.returncode}"]
            raise InputError(f"dvc {' '.join(args)}", lines[-1])
    return [json.loads(out or "{}") for out, _ in outputs]


def text_at(base: str, path: Path) -> str | None:
    """A file as committed at `base`; None where it did not exist."""
    done = subprocess.run(["git", "show", f"{base}:./{path.as_posix()}"], capture_output=True, text=True)
    return None if done.returncode else done.stdout


def yaml_at(base: str, path: Path) -> dict[str, Any] | None:
    """A YAML file as committed at `base`; None where it did not exist."""
    text = text_at(base, path)
    return None if text is None else yaml.safe_load(text) or {}


def paths_named(names: list[str], dvc_yaml: str = "dvc.yaml") -> list[str]:
    """Paths from dvc.yaml's vars in the order named, e.g. the validation trips' (`val`)."""
    paths = pipeline_paths(read_yaml(dvc_yaml), dvc_yaml)
    missing = [name for name in names if name not in paths]
    if missing:
        raise InputError(dvc_yaml, f"vars.paths has no '{missing[0]}'")
    return [paths[name] for name in names]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration report", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--out", type=Path, default=Path("report.md"), help="output: markdown report")
    parser.add_argument("--images", type=Path, default=Path("reports/pr-images"), help="output: plot images")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-dvc", type=Path, default=Path("data.dvc"), help="whose meta.files to compare")
    args = parser.parse_args(argv)

    limit = cast(Report, read_section(args.params, "report")).max_rmse_increase_pct
    pr_dvc = read_yaml(args.data_dvc)
    command = ["git", "rev-parse", "--verify", "--quiet", f"{args.base}^{{commit}}"]
    if subprocess.run(command, capture_output=True).returncode:
        raise InputError(args.base, "unknown git revision (a CI checkout needs it fetched: fetch-depth: 0)")
    started = start_diffs(args.base)
    import vl_convert  # a whole browser engine, started (seconds) while DVC works

    vl_convert.vegalite_to_svg({"mark": "point"})
    metrics, params, plots = diff_results(started)
    images = render_plots(plots, args.base, args.images, args.out.parent)
    base_dvc = yaml_at(args.base, args.data_dvc)
    val, model, backtest_csv = paths_named(["val", "model", "backtest"])
    warning, same_trips = "", None
    if not like_for_like(yaml_at(args.base, Path("dvc.lock")), read_yaml("dvc.lock"), val):
        champion, why_not = champion_rmse(args.base, model, val)
        warning = comparability(val, args.base, champion, why_not)
        if champion is not None:  # champion and challenger on the same trips, as publish compares them
            same_trips = on_same_trips(metrics, champion)
    backtest = Path(backtest_csv)
    pr_backtest = backtest.read_text(encoding="utf-8") if backtest.is_file() else None
    aging = backtest_table(backtest_rows(text_at(args.base, backtest)), backtest_rows(pr_backtest), args.base)
    plots_md = plots_markdown(images, args.base)
    text, passed = report(
        metrics, params, base_dvc, pr_dvc, plots_md, args.base, limit, warning, aging, same_trips
    )
    write_text(args.out, text)
    print(f"{text.splitlines()[0]}\nwrote {args.out}")
    if not passed:
        sys.exit(1)


if __name__ == "__main__":
    run(main)
