"""The data-drift thresholds of ops/prometheus/alerts.yml, measured on the real months.

    python -m bench.alert_thresholds [--model models/trip-duration.joblib] [--data-dir data] \
        [--months 2021-01 ...] [--hours 1 6 24] [--max-shift 3] [--max-unseen 0.25]

Every trip of each month goes through the model as the service would score it (no cleaning: the
service never sees a duration). Per month, and per window of `--hours` hours of pickup times
(windows of at least `--min-trips` trips), two numbers the service's metrics give:
- the median predicted minutes as Prometheus reads it from trip_duration_predicted_minutes'
  buckets (histogram_quantile's interpolation), minus the model's reference median (the exact
  median on its cleaned validation month, as `evaluate` writes it): TripDurationPredictionsShifted;
- the share of trips whose zone pair the model never saw in training: TripDurationUnseenZones.
Prints two markdown tables: by month, then the spread over the windows of each size and year, with
how many windows pass alerts.yml's thresholds (--max-shift, --max-unseen). Run after
`trip-duration fetch` and `dvc repro`. Expected output, the default model on the 20 months (in part):
    models/trip-duration.joblib: trained on ['2021-01'], validated on ['2021-02']; reference median 14.2932
    | 2021-04 | 86,941 | 15.10 | +0.81 | 15.04 | 10.57% |
    | 2023-03 | 72,044 | 10.99 | -3.31 | 10.94 | 5.45% |
    | 24 h | 2021 | 151 | -1.73 / -1.30 / +1.46 / +1.70 | 0 | 9.92% / 13.99% / 15.44% | 0 |
    | 24 h | 2022 | 365 | -3.62 / -3.41 / -0.81 / -0.22 | 42 | 6.96% / 13.30% / 17.77% | 0 |
    | 24 h | 2023 | 90 | -4.24 / -4.05 / -1.90 / -1.85 | 61 | 5.03% / 9.67% / 9.98% | 0 |
"""

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc

from trip_duration.model import load_model
from trip_duration.params import read_params
from trip_duration.tlc import file_name, months_in, read_trips, to_numpy
from trip_duration.trips import cleaning, read_window
from trip_duration_ops.service.deployment import known_zones
from trip_duration_ops.service.metrics import MINUTES

HOUR_US = 3_600 * 1_000_000


def histogram_quantile(quantile: float, values: np.ndarray, bounds: Sequence[float]) -> float:
    """Prometheus' histogram_quantile over `values` counted in buckets with upper `bounds` (+Inf
    added): the bucket holding the rank, linearly interpolated within it (from 0 for the first)."""
    edges = np.asarray(bounds, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=edges.size + 1)
    cumulative = np.cumsum(counts)
    rank = quantile * cumulative[-1]
    bucket = int(np.searchsorted(cumulative, rank, side="left"))
    if bucket == edges.size:  # in the +Inf bucket: Prometheus answers the highest finite bound
        return float(edges[-1])
    start = 0.0 if bucket == 0 else float(edges[bucket - 1])
    below = 0.0 if bucket == 0 else float(cumulative[bucket - 1])
    return start + (float(edges[bucket]) - start) * (rank - below) / float(counts[bucket])


def unseen_mask(model: Any, trips: dict[str, np.ndarray]) -> np.ndarray:
    """True for a trip whose zone pair (or zone) the model's encoders never saw in training: the
    service's count (trip_duration_ops.service.deployment)."""
    missing = np.zeros(len(next(iter(trips.values()))), dtype=bool)
    for derive, known in known_zones(model):
        missing |= ~np.isin(derive(trips)[:, 0], known)
    return missing


def window_rows(
    pickup_us: np.ndarray,
    predicted: np.ndarray,
    unseen: np.ndarray,
    hours: int,
    min_trips: int,
    reference: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(median shift from the reference, unseen share) of each `hours`-hour window of pickups that
    holds at least `min_trips` trips."""
    window = pickup_us // (hours * HOUR_US)
    shifts, shares = [], []
    for key in np.unique(window):
        chosen = window == key
        if chosen.sum() >= min_trips:
            shifts.append(histogram_quantile(0.5, predicted[chosen], MINUTES) - reference)
            shares.append(float(unseen[chosen].mean()))
    return np.asarray(shifts), np.asarray(shares)


def spread(values: np.ndarray) -> str:
    low, p1, p99, high = np.quantile(values, [0.0, 0.01, 0.99, 1.0])
    return f"{low:+.2f} / {p1:+.2f} / {p99:+.2f} / {high:+.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/trip-duration.joblib"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--months", nargs="+", help="default: every month of the taxi in --data-dir")
    parser.add_argument("--hours", nargs="+", type=int, default=[1, 6, 24])
    parser.add_argument("--min-trips", type=int, default=100, help="windows with fewer are left out")
    # alerts.yml's thresholds: how many windows of each size would pass them
    parser.add_argument("--max-shift", type=float, default=3.0, help="minutes (%(default)s)")
    parser.add_argument("--max-unseen", type=float, default=0.25, help="share (%(default)s)")
    args = parser.parse_args(argv)

    data = read_params(args.params).section("data").model_dump()
    model = load_model(args.model)
    columns = [str(column) for column in model.feature_names_in_]
    validation = read_window(args.data_dir, data["taxi"], data["val_months"], **cleaning(data)).to_pandas()
    reference = float(np.median(model.predict(validation[columns])))
    months = args.months or months_in(path.name for path in args.data_dir.glob(file_name(data["taxi"], "*")))
    print(f"{args.model}: trained on {data['train_months']}, validated on {data['val_months']}; "
          f"reference median {reference:.4f} min (cleaned validation trips)\n")  # fmt: skip
    print("| month | trips | median, histogram | shift | exact median | unseen share |")
    print("|---|---:|---:|---:|---:|---:|")
    windows: dict[tuple[int, str], list[tuple[np.ndarray, np.ndarray]]] = {}
    for month in months:
        table = read_trips(args.data_dir / file_name(data["taxi"], month))
        pickup = to_numpy(table["pickup_datetime"]).view(np.int64)
        trips = {column: to_numpy(pc.cast(table[column], "float64")) for column in columns}
        predicted = np.asarray(model.predict(table.select(columns).to_pandas()), dtype=np.float64)
        unseen = unseen_mask(model, trips)
        median = histogram_quantile(0.5, predicted, MINUTES)
        print(f"| {month} | {len(predicted):,} | {median:.2f} | {median - reference:+.2f} "
              f"| {np.median(predicted):.2f} | {unseen.mean():.2%} |")  # fmt: skip
        for hours in args.hours:
            rows = window_rows(pickup, predicted, unseen, hours, args.min_trips, reference)
            windows.setdefault((hours, month[:4]), []).append(rows)
    print(f"\nWindows of pickup times with at least {args.min_trips} trips, by year of the months above:")
    print(f"| window | year | windows | shift: min / p1 / p99 / max | over {args.max_shift:g} "
          f"| unseen share: p50 / p99 / max | over {args.max_unseen:.0%} |")  # fmt: skip
    print("|---|---|---:|---|---:|---|---:|")
    for (hours, year), found in sorted(windows.items()):
        shifts = np.concatenate([shift for shift, _ in found])
        shares = np.concatenate([share for _, share in found])
        p50, p99, high = np.quantile(shares, [0.5, 0.99, 1.0])
        shifted, unseen_over = (np.abs(shifts) > args.max_shift).sum(), (shares > args.max_unseen).sum()
        print(f"| {hours} h | {year} | {len(shifts):,} | {spread(shifts)} | {shifted:,} "
              f"| {p50:.2%} / {p99:.2%} / {high:.2%} | {unseen_over:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
