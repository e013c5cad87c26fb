"""Monitoring: does the model still hold on each new month? Scored against the month's real durations.

    trip-duration monitor --months 2021-03 2021-04 --model models/trip-duration.joblib
    trip-duration monitor --months 2023-04 --stage prod      # or --version v0.1.1

For each month (read from --data-dir, cleaned as `prepare` cleans) the model is compared with its
reference, its own validation window (`data.val_months` of params.yaml at the model's commit for a
registered version, of --params for --model): performance on the actual durations (rmse, mae, mean
error, r2, rows), drift of each input and of the prediction (Evidently, on seeded samples), and the
shares of bad raw rows. The thresholds of params.yaml's `monitor` section
(conf/monitor/default.yaml) decide the alert. Writes monitoring/YYYY-MM.json (commit it) and
reports/monitoring/YYYY-MM.html (not committed). Expected output:
    monitor: 2021-03, 82,287 trips, rmse 8.0932 (+4.31%), 0/3 inputs drifted, prediction drift 0.0451: ok

Exit status: 0 every month ok; 1 at least one month alerts; 2 bad input (a month missing,
unreadable, lacking a column or keeping no trips: one `error: <file>: <problem>` line and no
record for it, the other months still recorded; or a bad model, reference or argument).
Bad input wins over an alert.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trip_duration import metrics, registry
from trip_duration.errors import InputError
from trip_duration.files import atomic_path, read_yaml, write_text
from trip_duration.params import read_section
from trip_duration.tlc import month_file, read_trips
from trip_duration.trips import read_window
from trip_duration_ops import drift, monitor_rules
from trip_duration_ops.score import clean_month

OK, ALERT, BAD_INPUT = 0, 1, 2


def load(args: argparse.Namespace) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """The model, its name and version, and the params it was trained and validated with."""
    model, name, version, rev = registry.load_model_from(args.repo, args.version, args.stage, args.model)
    if rev is None:
        params = read_yaml(args.params)
    else:
        params = yaml.safe_load(registry.read_at(args.repo, "params.yaml", rev)) or {}
    return model, {"name": name, "version": version}, params


def reference_of(model: Any, params: dict[str, Any], data_dir: Path, args: argparse.Namespace) -> tuple:
    """The validation window's summary (months, rows, rmse) and its sampled drift frame."""
    data = params["data"]
    trips = read_window(
        data_dir,
        data["taxi"],
        data["val_months"],
        data["min_minutes"],
        data["max_minutes"],
        data["drop_outside_month"],
    ).to_pandas()
    predicted = np.asarray(model.predict(trips), np.float64)
    summary = {
        "months": list(data["val_months"]),
        "rows": len(trips),
        "rmse": round(metrics.rmse(trips["duration"], predicted), monitor_rules.DIGITS),
    }
    frame = drift.drift_frame(trips, [*args.categorical, *args.numeric], predicted)
    return summary, drift.sample(frame, args.thresholds["drift_sample"], args.thresholds["seed"])


def month_record(
    month: str, model: Any, params: dict[str, Any], reference: tuple, args: argparse.Namespace
) -> tuple[dict[str, Any], Any]:
    """One month's record and its Evidently report; InputError when the month cannot be used."""
    (summary, reference_frame), data, thresholds = reference, params["data"], args.thresholds
    path = month_file(args.data_dir, data["taxi"], month)
    raw = read_trips(path)
    trips = clean_month(raw, path, month, data).to_pandas()
    predicted = np.asarray(model.predict(trips), np.float64)
    performance = {"rows": len(trips), **metrics.scores(trips["duration"], predicted)}
    performance["rmse_increase_pct"] = monitor_rules.rmse_increase_pct(performance["rmse"], summary["rmse"])
    frame = drift.drift_frame(trips, [*args.categorical, *args.numeric], predicted)
    current = drift.sample(frame, thresholds["drift_sample"], thresholds["seed"])
    drifts, snapshot = drift.drift_report(
        reference_frame, current, args.categorical, args.numeric, thresholds["max_drifted_share"]
    )
    reasons = monitor_rules.decide(
        len(trips),
        performance["rmse_increase_pct"],
        drifts["drifted_share"],
        drifts["prediction"]["score"],
        thresholds,
    )
    quality = monitor_rules.quality(raw, month, data["min_minutes"], data["max_minutes"])
    record = monitor_rules.record(args.name, month, summary, performance, drifts, quality, reasons)
    return record, snapshot


def summary_line(record: dict[str, Any]) -> str:
    metric, found = record["metrics"], record["drift"]
    drifted = sum(test["drifted"] for test in found["inputs"].values())
    verdict = ", ".join(f"{r['name']} {r['value']} (threshold {r['threshold']})" for r in record["reasons"])
    return (
        f"monitor: {record['month']}, {metric['rows']:,} trips, rmse {metric['rmse']:.4f} "
        f"({metric['rmse_increase_pct']:+.2f}%), {drifted}/{len(found['inputs'])} inputs drifted, "
        f"prediction drift {found['prediction']['score']:.4f}: {'ALERT ' + verdict if verdict else 'ok'}"
    )


def monitor(args: argparse.Namespace) -> int:
    """Record every month that can be read; the exit status for the whole call."""
    args.thresholds = read_section(args.params, "monitor")
    model, args.name, params = load(args)
    args.categorical, args.numeric = drift.drift_columns(
        params["features"]["categorical"], params["features"]["numeric"]
    )
    reference = reference_of(model, params, args.data_dir, args)
    status = OK
    for month in args.months:
        try:
            record, snapshot = month_record(month, model, params, reference, args)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            status = BAD_INPUT
            continue
        write_text(args.out / f"{month}.json", json.dumps(record, indent=2) + "\n")
        with atomic_path(args.reports / f"{month}.html") as tmp:
            snapshot.save_html(str(tmp))
        print(summary_line(record))
        if record["alert"] and status == OK:
            status = ALERT
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
    parser.add_argument("--params", default="params.yaml", help="its `monitor` section holds the thresholds")
    parser.add_argument("--repo", default=".", help="where the registry is (default: .)")
    args = parser.parse_args(argv)
    try:
        status = monitor(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        status = BAD_INPUT
    sys.exit(status)


if __name__ == "__main__":
    main()
