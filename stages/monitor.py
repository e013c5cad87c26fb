"""Stage `monitor`: backtest the pipeline's model on the months after its validation window.

    python -m stages.monitor --model models/trip-duration.joblib --val prepared/val.parquet \
        --predictions predictions/val.parquet --data-dir data --backtest reports/backtest.csv

The same computation as `trip-duration monitor` (trip_duration.monitoring) for each month that
params.yaml's `monitor.months` names (`later`: every month in data/ after `data.val_months`), with
the validation trips and their predictions from `train` as the reference. Writes one row a month
(rmse, the rmse that alerts, drift, alert) that dvc.yaml's `plots:` draw, so that a pull request
shows how its model ages beside main's. No month after the window: a header-only table. With
params.yaml's `compute: dask`, each month is judged by a task on a Dask cluster
(trip_duration.month_tasks): the same table.
"""

import argparse
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from trip_duration import monitoring
from trip_duration.errors import InputError, run
from trip_duration.files import write_text
from trip_duration.month_tasks import month_tasks
from trip_duration.params import read_compute, read_section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="input: the model file")
    parser.add_argument("--val", required=True, help="input: prepared validation trips")
    parser.add_argument("--predictions", required=True, help="input: the model's validation predictions")
    parser.add_argument("--data-dir", type=Path, required=True, help="input: the TLC months")
    parser.add_argument("--backtest", required=True, help="output: one row a month (CSV)")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args(argv)

    data, features, thresholds = (
        read_section(args.params, section).model_dump() for section in ("data", "features", "monitor")
    )
    months = monitoring.later_months(thresholds["months"], data, args.data_dir)
    rows = []
    with ExitStack() as stack:
        if months:  # the cluster first: unreachable, nothing is read
            judged = month_tasks(read_compute(args.params), stack, args.params, "monitor")
            from trip_duration.model import load_model  # scikit-learn's start-up only when there is work

            watch = monitoring.Watch(
                load_model(args.model),
                {"name": "workspace", "version": "workspace"},
                data,
                features,
                thresholds,
            )
            trips = pq.read_table(args.val).to_pandas()
            predicted = pq.read_table(args.predictions, columns=["predicted"])["predicted"].to_numpy()
            if len(predicted) != len(trips):
                raise InputError(args.predictions, f"{len(predicted):,} predictions for {len(trips):,} trips")
            reference = monitoring.reference(watch, trips, np.asarray(predicted, np.float64))
            outcomes = judged(
                monitoring.judge_record,
                months,
                args.data_dir,
                data["taxi"],
                watch=watch,
                reference_=reference,
            )
            for month, outcome in zip(months, outcomes, strict=True):
                found = outcome()
                rows.append(monitoring.history_row(found))
                reasons = ", ".join(reason["name"] for reason in found["reasons"])
                verdict = f"ALERT {reasons}" if reasons else "ok"
                print(f"monitor: {month} rmse {found['metrics']['rmse']:.4f} {verdict}")
    write_text(args.backtest, monitoring.history_csv(rows))
    alerts = sum(row["alert"] == "true" for row in rows)
    print(f"monitor: {len(rows)} months after the validation window, {alerts} alerting")


if __name__ == "__main__":
    run(main)
