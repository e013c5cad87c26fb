"""What the drift sample size does to the drift verdicts, on real months.

    python -m bench.drift_sample [--model models/trip-duration.joblib] [--data-dir data] \
        [--months 2021-03 2021-05 2022-01] [--sizes 500 1000 5000 50000 0] [--seeds 5]

For each month against the model's validation window (params.yaml's `data`), the drift tests of
`trip-duration monitor` on seeded samples of each size (0: every row) and several seeds: per test
the lowest and highest score over the seeds and how many seeds call it drifted. Prints a markdown
table. Run after `dvc repro`.
"""

import argparse
from pathlib import Path

from trip_duration import drift
from trip_duration.model import load_model
from trip_duration.params import read_params
from trip_duration_ops.monitor import scored_months


def frame_of(model, data: dict, data_dir: Path, months: list[str], columns: list[str]):
    trips, predicted = scored_months(model, data, data_dir, months)
    return drift.drift_frame(trips, columns, predicted)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/trip-duration.joblib"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--months", nargs="+", default=["2021-03", "2021-05", "2022-01"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 1000, 5000, 50000, 0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)

    params = read_params(args.params)
    data, features = (params.section(section).model_dump() for section in ("data", "features"))
    model = load_model(args.model)
    categorical, numeric = drift.drift_columns(features["categorical"], features["numeric"])
    columns = [*categorical, *numeric]
    reference = frame_of(model, data, args.data_dir, data["val_months"], columns)
    tests = [*columns, drift.PREDICTION]
    print(f"reference {data['val_months']}: {len(reference):,} trips; {args.seeds} seeds per size\n")
    print("| month | sample | " + " | ".join(tests) + " |")
    print("|---|---:|" + "---|" * len(tests))
    for month in args.months:
        current = frame_of(model, data, args.data_dir, [month], columns)
        for size in args.sizes:
            rows = size or max(len(reference), len(current))
            found = []
            for seed in range(args.seeds if size else 1):
                sampled = [drift.sample(frame, rows, seed) for frame in (reference, current)]
                found.append(drift.drift_scores(*sampled, categorical, numeric))
            cells = []
            for test in tests:
                verdicts = [f["prediction"] if test == drift.PREDICTION else f["inputs"][test] for f in found]
                scores = [v["score"] for v in verdicts]
                method = verdicts[0]["method"].replace(" distance", "").replace(" (normed)", "")
                drifted = sum(v["drifted"] for v in verdicts)
                span = f"{min(scores):.4f} to {max(scores):.4f}"
                cells.append(f"{method} {span}, drifted {drifted}/{len(found)}")
            label = f"{size:,}" if size else f"all ({len(current):,})"
            print(f"| {month} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
