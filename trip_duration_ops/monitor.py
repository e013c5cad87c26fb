"""Monitoring: does the model still hold on each new month? Scored against the month's real durations.

    trip-duration monitor --months 2021-03 2021-04 --model models/trip-duration.joblib
    trip-duration monitor --months 2023-04 --stage prod      # or --version v0.1.1

For each month (read from --data-dir, cleaned as `prepare` cleans) the model is compared with its
reference, its own validation window (`data.val_months` of params.yaml at the model's commit for a
registered version, of --params for --model): performance on the actual durations (rmse, mae, mean
error, r2, rows), drift of each input and of the prediction (Evidently's tests, computed with scipy
by trip_duration.drift, on seeded samples), and the shares of bad raw rows. The thresholds of
params.yaml's `monitor` section (conf/monitor/default.yaml) decide the alert. Writes
monitoring/YYYY-MM.json and rebuilds monitoring/history.csv from every record there (commit both:
`dvc plots show` draws the history), and Evidently's report reports/monitoring/YYYY-MM.html (not
committed; Evidently is the `monitor` extra). With params.yaml's `compute: dask`, each month is
judged by a task on a Dask cluster (trip_duration.month_tasks) and its report drawn here from the
samples the task returns: the same files. Expected output:
    monitor: 2021-03, 80,372 trips, rmse 7.7207 (-0.49%), 0/3 inputs drifted, prediction drift 0.0206: ok

Exit status: 0 every month ok; 1 at least one month alerts; 2 bad input (a month missing,
unreadable, lacking a column or keeping no trips: one `error: <file>: <problem>` line and no
record for it, the other months still recorded; or a bad model, reference or argument).
Bad input wins over an alert.
"""

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trip_duration import monitoring
from trip_duration.errors import InputError
from trip_duration.files import atomic_path, write_text
from trip_duration.month_tasks import MonthTasks, month_tasks
from trip_duration.params import read_compute, read_params, read_section
from trip_duration.trips import cleaning, read_window
from trip_duration_ops import registry
from trip_duration_ops.drift_report import evidently_report

if TYPE_CHECKING:
    import pandas as pd

OK, ALERT, BAD_INPUT = 0, 1, 2
HISTORY = "history.csv"  # beside the records: what dvc.yaml's monitoring plot draws


def watch_of(
    params_path: str | Path, repo: str | Path, version: str | None, stage: str | None, model_path: Path | None
) -> monitoring.Watch:
    """The model, its name and version, the params it was trained and validated with, the thresholds.

    The model is a registered `version`, the one in `stage`, or the file `model_path` (one of the three).
    """
    thresholds = read_section(params_path, "monitor").model_dump()
    model, name, version, rev = registry.load_model_from(repo, version, stage, model_path)
    # A registered model is judged by the params it was trained with: params.yaml at its commit.
    params = read_params(params_path) if rev is None else registry.params_at(repo, rev)
    data, features = (params.section(section).model_dump() for section in ("data", "features"))
    return monitoring.Watch(model, {"name": name, "version": version}, data, features, thresholds)


def scored_months(
    model: Any, data: dict[str, Any], data_dir: Path, months: list[str]
) -> tuple["pd.DataFrame", np.ndarray]:
    """The months' trips, read from data_dir and cleaned as `data` says, and the model's predictions."""
    trips = read_window(data_dir, data["taxi"], months, **cleaning(data)).to_pandas()
    return trips, np.asarray(model.predict(trips), np.float64)


def reference_of(watch: monitoring.Watch, data_dir: Path) -> monitoring.Reference:
    """The model's validation window, read from data_dir and scored again."""
    return monitoring.reference(
        watch, *scored_months(watch.model, watch.data, data_dir, watch.data["val_months"])
    )


def write_history(out: Path) -> None:
    """monitoring/history.csv from every record in `out`: the month-by-month view `dvc plots` draws."""
    records = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.glob("????-??.json"))]
    write_text(out / HISTORY, monitoring.history_csv([monitoring.history_row(found) for found in records]))


def summary_line(record: dict[str, Any]) -> str:
    metric, found = record["metrics"], record["drift"]
    drifted = sum(test["drifted"] for test in found["inputs"].values())
    verdict = ", ".join(f"{r['name']} {r['value']} (threshold {r['threshold']})" for r in record["reasons"])
    return (
        f"monitor: {record['month']}, {metric['rows']:,} trips, rmse {metric['rmse']:.4f} "
        f"({metric['rmse_increase_pct']:+.2f}%), {drifted}/{len(found['inputs'])} inputs drifted, "
        f"prediction drift {found['prediction']['score']:.4f}: {'ALERT ' + verdict if verdict else 'ok'}"
    )


def record_month(
    watch: monitoring.Watch,
    reference: monitoring.Reference,
    data_dir: Path,
    month: str,
    out: Path,
    reports: Path,
    then: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Judge one month here, let `then` add to its record (retrain's decision), write both files, say it."""
    return write_record(
        watch, reference, *monitoring.judge(watch, reference, data_dir, month), out, reports, then
    )


def write_record(
    watch: monitoring.Watch,
    reference: monitoring.Reference,
    record: dict[str, Any],
    current: "pd.DataFrame",
    out: Path,
    reports: Path,
    then: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """A month's record and its Evidently report of `current` (its drift sample) against the
    reference's, after `then` adds to the record; says it."""
    if then is not None:
        then(record)
    month = record["month"]
    snapshot = evidently_report(
        reference.frame, current, *watch.columns, watch.thresholds["max_drifted_share"]
    )
    write_text(out / f"{month}.json", json.dumps(record, indent=2) + "\n")
    with atomic_path(reports / f"{month}.html") as tmp:
        snapshot.save_html(str(tmp))
    print(summary_line(record))
    return record


def monitor(
    watch: monitoring.Watch, data_dir: Path, months: list[str], out: Path, reports: Path, judged: MonthTasks
) -> int:
    """Record every month that can be read, each judged as `judged` runs it; the exit status."""
    reference = reference_of(watch, data_dir)
    status, recorded = OK, False
    taxi = watch.data["taxi"]
    for outcome in judged(monitoring.judge, months, data_dir, taxi, watch=watch, reference_=reference):
        try:
            record, current = outcome()
            write_record(watch, reference, record, current, out, reports)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            status = BAD_INPUT
            continue
        recorded = True
        if record["alert"] and status == OK:
            status = ALERT
    if recorded:
        write_history(out)
    return status


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration monitor", description=__doc__.splitlines()[0])
    parser.add_argument("--months", nargs="+", required=True, help="YYYY-MM ...")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", help="a registry stage, e.g. prod")
    which.add_argument("--version", help="a registered version, e.g. v0.1.1")
    which.add_argument("--model", type=Path, help="a model file (its params: --params)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--out", type=Path, default=Path("monitoring"), help="records, one JSON a month")
    parser.add_argument("--reports", type=Path, default=Path("reports/monitoring"), help="HTML reports")
    parser.add_argument(
        "--params", default="params.yaml", help="its `monitor` section holds the thresholds, `compute` where"
    )
    parser.add_argument("--repo", default=".", help="where the registry is (default: .)")
    args = parser.parse_args(argv)
    try:
        with ExitStack() as stack:  # the cluster first: unreachable, nothing is read
            judged = month_tasks(read_compute(args.params), stack, args.params, "monitor")
            watch = watch_of(args.params, args.repo, args.version, args.stage, args.model)
            status = monitor(watch, args.data_dir, args.months, args.out, args.reports, judged)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        status = BAD_INPUT
    sys.exit(status)


if __name__ == "__main__":
    main()
