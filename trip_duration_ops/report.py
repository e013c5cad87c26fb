"""Pull-request report: markdown from DVC's own diffs against the base branch, with a gate on RMSE.

Run after `dvc repro` on the PR's head; exits 1 when RMSE got worse than params.yaml's `report` allows:

    trip-duration report [--base main] [--out report.md] [--images reports/pr-images]

The first line is the verdict, for example
    ❌ **Worse**: validation RMSE 7.7587 → 7.8679 (+1.41%) against main; fails the gate (at most +1%).
then the metrics, the parameters and data files that changed, and the plots, main and the PR in each.
`report()` runs the steps: DVC's diffs (`report_dvc`), the plots (`report_plots`), the gate (`gate`)
and the markdown (`report_markdown`).
"""

import argparse
import sys
from pathlib import Path
from typing import cast

from trip_duration.errors import InputError, run
from trip_duration.files import read_yaml, write_text
from trip_duration.params import Report, read_section
from trip_duration_ops.catalog import paths_named
from trip_duration_ops.gate import Diff, like_for_like, on_same_trips
from trip_duration_ops.gitops import rev, text_at, yaml_at
from trip_duration_ops.report_dvc import champion_rmse, diff_results, start_diffs
from trip_duration_ops.report_markdown import (
    backtest_rows,
    backtest_table,
    comparability,
    markdown,
    plots_markdown,
)
from trip_duration_ops.report_plots import render_plots, start_renderer


def trips_compared(base: str, metrics: Diff, model_path: str, val_path: str) -> tuple[str, Diff | None]:
    """Where the PR validates on other trips than `base`: the warning, and the diff the gate takes
    instead (`base`'s model scored on the PR's trips, as publish compares them) when it can be scored."""
    if like_for_like(yaml_at(base, Path("dvc.lock")), read_yaml("dvc.lock"), val_path):
        return "", None
    champion, why_not = champion_rmse(base, model_path, val_path)
    warning = comparability(val_path, base, champion, why_not)
    return warning, None if champion is None else on_same_trips(metrics, champion)


def backtest_section(base: str, backtest: Path) -> str:
    """The backtest table: `base`'s as committed there, the PR's as the workspace holds it."""
    pr_backtest = backtest.read_text(encoding="utf-8") if backtest.is_file() else None
    return backtest_table(backtest_rows(text_at(base, backtest)), backtest_rows(pr_backtest), base)


def report(base: str, out: Path, images: Path, params: str, data_dvc: Path) -> bool:
    """Write the report of the workspace against `base` to `out`, its plots under `images`; whether
    the gate passes."""
    limit = cast(Report, read_section(params, "report")).max_rmse_increase_pct
    pr_dvc = read_yaml(data_dvc)
    if rev(f"{base}^{{commit}}") is None:
        raise InputError(base, "unknown git revision (a CI checkout needs it fetched: fetch-depth: 0)")
    started = start_diffs(base)
    start_renderer()  # while DVC works
    metrics, changed_params, plots = diff_results(started)
    drawn = render_plots(plots, base, images, out.parent)
    base_dvc = yaml_at(base, data_dvc)
    val, model, backtest_csv = paths_named(["val", "model", "backtest"])
    warning, same_trips = trips_compared(base, metrics, model, val)
    backtest = backtest_section(base, Path(backtest_csv))
    plots_md = plots_markdown(drawn, base)
    text, passed = markdown(
        metrics, changed_params, base_dvc, pr_dvc, plots_md, base, limit, warning, backtest, same_trips
    )
    write_text(out, text)
    print(f"{text.splitlines()[0]}\nwrote {out}")
    return passed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration report", description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare with")
    parser.add_argument("--out", type=Path, default=Path("report.md"), help="output: markdown report")
    parser.add_argument("--images", type=Path, default=Path("reports/pr-images"), help="output: plot images")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-dvc", type=Path, default=Path("data.dvc"), help="whose meta.files to compare")
    args = parser.parse_args(argv)
    if not report(args.base, args.out, args.images, args.params, args.data_dvc):
        sys.exit(1)


if __name__ == "__main__":
    run(main)
