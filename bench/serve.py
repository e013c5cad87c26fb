"""Benchmark: this project's HTTP service against the course's week-4 Flask service, under wrk.

    python -m bench.serve [--seconds 10] [--rounds 2] [--workers 2] [--connections 1,8,64]
                          [--batch 1000] [--month 2021-02] [--workdir /tmp/nyc-bench-serve] [--strict]
                          [--deployed]

One run, on this machine: trains both models on --train-month (the course's
`(DictVectorizer, LinearRegression)` pickle, bench.course_service; this project's default model,
conf/ composed without overrides), starts both services with the same number of worker processes
(`gunicorn --workers N bench.course_service:app`; `trip-duration serve --model FILE --workers N`, or
with --deployed `--model-dir` a folder holding the file and its manifest, as deploy writes it),
checks that each answers sample trips as its model does in process, then loads them with `wrk`
(bench/serve.lua, one thread) posting the same bodies: real trips of --month, one per request, at
each concurrency; then lists of --batch trips to this service at concurrency 1. Each case lasts
--seconds, split into --rounds turns in which the services alternate, so that a load coming and
going on the machine falls on both; the turns' latency histograms are merged exactly.
Prints a markdown table and PASS/FAIL per target; exits non-zero on a FAIL only with --strict.
Needs `wrk` (Debian: apt-get install -y wrk). Progress goes to stderr, the report to stdout.
"""

import argparse
import json
import os
import pickle
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.load import Case, run_cases, wrk
from bench.make_months import ROOT, mirror_dir
from bench.services import COURSE, PROJECT, Server, log, post, start_course, start_project

SINGLE = "1 trip per request"
TRIP_FIELDS = ("PULocationID", "DOLocationID", "trip_distance")  # the course service's whole contract
SERVER_TIME = re.compile(r"predict: (\d+) trip\(s\), ([\d.]+) ms")
SPEED_UP, BATCH_MS = 2.0, 50.0  # the targets


# --- the models and the trips ---------------------------------------------------------------------------


def default_params() -> dict[str, Any]:
    """conf/ composed without overrides: the project's default configuration, whatever params.yaml holds."""
    from trip_duration.files import read_yaml
    from trip_duration_ops.conf_diff import compose

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose(ROOT / "conf", "config", [], out)
        return read_yaml(out, "parameters")


def month_trips(mirror: Path, month: str, data: dict[str, Any]) -> Any:
    """One month's trips, cleaned by params.yaml's `data` section (all of the month's pickups kept)."""
    from trip_duration.trips import cleaning, read_window

    return read_window(mirror, data["taxi"], [month], **cleaning({**data, "drop_outside_month": False}))


def train_models(mirror: Path, month: str, params: dict[str, Any], workdir: Path) -> tuple[Path, Path]:
    """The course's pickle and this project's model file, both trained on `month`."""
    import joblib

    from bench.course_service import train
    from trip_duration.model import build_model, fit, input_columns
    from trip_duration.tlc import month_file

    data = params["data"]
    course_path, project_path = workdir / "lin_reg.bin", workdir / "trip-duration.joblib"
    started = time.perf_counter()
    with course_path.open("wb") as f_out:
        pickle.dump(train(month_file(mirror, data["taxi"], month)), f_out)
    log(f"  course model: {course_path} ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    trips = month_trips(mirror, month, data)
    columns = input_columns(params["features"])
    frame = trips.select([*columns, "duration"]).to_pandas()
    model = build_model(params["features"], params["model"])
    scores = fit(model, frame[columns], frame["duration"].to_numpy())
    joblib.dump(model, project_path)
    log(f"  project model: {project_path}, {scores} ({time.perf_counter() - started:.1f} s)")
    return course_path, project_path


def load_trips(mirror: Path, month: str, params: dict[str, Any], count: int, seed: int) -> list[dict]:
    """`count` real trips of `month` (the validation trips as the pipeline prepares them), drawn with
    a seed; only trips the project's service accepts (zones 1..265, 0..200 miles)."""
    from trip_duration_ops.service.schemas import MAX_MILES

    data = params["data"]
    trips = month_trips(mirror, month, data)
    frame = trips.select(list(TRIP_FIELDS)).to_pandas()
    valid = frame["trip_distance"].between(0, MAX_MILES)
    for zone in ("PULocationID", "DOLocationID"):
        valid &= frame[zone].between(1, 265)
    log(f"  {month}: {len(frame):,} trips, {int((~valid).sum())} outside the service's bounds left out")
    frame = frame[valid]
    rows = np.random.default_rng(seed).choice(len(frame), size=count, replace=count > len(frame))
    picked = frame.iloc[rows]
    return [
        {"PULocationID": int(pu), "DOLocationID": int(do), "trip_distance": float(miles)}
        for pu, do, miles in picked.itertuples(index=False)
    ]


def write_bodies(path: Path, bodies: list[Any]) -> Path:
    """One compact JSON body per line, for bench/serve.lua."""
    path.write_text("".join(json.dumps(body, separators=(",", ":")) + "\n" for body in bodies))
    return path


def check_answers(course: Server, project: Server, models: tuple[Path, Path], trips: list[dict]) -> None:
    """Both services answer as their models do in process (4 decimals), one trip and a list."""
    import joblib

    with models[0].open("rb") as f_in:
        dv, lr = pickle.load(f_in)
    model = joblib.load(models[1])
    dicts = [
        {"PU_DO": f"{t['PULocationID']}_{t['DOLocationID']}", "trip_distance": t["trip_distance"]}
        for t in trips
    ]
    course_expected = lr.predict(dv.transform(dicts))
    project_expected = model.predict(pd.DataFrame(trips))
    for trip, want_course, want_project in zip(trips, course_expected, project_expected, strict=True):
        status, body = post(course.port, trip)
        if status != 200 or round(body["duration"], 4) != round(float(want_course), 4):
            raise RuntimeError(f"{COURSE} answered {status} {body} for {trip}, its model says {want_course}")
        status, body = post(project.port, trip)
        if status != 200 or body["duration"] != round(float(want_project), 4):
            raise RuntimeError(
                f"{PROJECT} answered {status} {body} for {trip}, its model says {want_project}"
            )
    status, body = post(project.port, trips)
    got = [answer["duration"] for answer in body] if status == 200 else body
    if got != [round(float(m), 4) for m in project_expected]:
        raise RuntimeError(f"{PROJECT} answered a list of {len(trips)} trips with {status} {got}")
    log(f"  both services answer {len(trips)} sample trips as their models do")


# --- the load -----------------------------------------------------------------------------------------


def server_times(text: str, trips: int) -> list[float]:
    """Milliseconds of the service's own lines "predict: <trips> trip(s), X ms"."""
    return [float(ms) for count, ms in SERVER_TIME.findall(text) if int(count) == trips]


# --- the report ---------------------------------------------------------------------------------------


def format_table(cases: list[Case]) -> str:
    lines = [
        "| service | case | concurrency | requests/s | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for c in cases:
        lines.append(
            f"| {c.service} | {c.case} | {c.concurrency} | {c.rps:,.1f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} |"
        )
    return "\n".join(lines)


def targets(course: Case, project: Case, batch: Case, batch_size: int) -> list[tuple[bool, str]]:
    """(passed, line) per target: (a) single trips at the highest concurrency, (b) a batch's time."""
    ratio = project.rps / course.rps
    passed = ratio >= SPEED_UP and project.p99_ms <= course.p99_ms
    a = (
        f"single trip at concurrency {project.concurrency}: {PROJECT} >= {SPEED_UP:g}x the course "
        f"service's requests/s with p99 no worse: {ratio:.2f}x ({project.rps:,.1f} vs {course.rps:,.1f} "
        f"req/s), p99 {project.p99_ms:.2f} vs {course.p99_ms:.2f} ms"
    )
    b = (
        f"a {batch_size:,}-trip batch in under {BATCH_MS:g} ms server time: p50 {batch.p50_ms:.2f} ms "
        f"(request to response, concurrency 1)"
    )
    every = [course, project, batch]
    answered = (
        f"every request of these cases answered 200: "
        f"{sum(c.failed for c in every)} failed of {sum(c.requests for c in every):,}"
    )
    return [
        (passed, a),
        (batch.p50_ms < BATCH_MS, b),
        (all(c.failed == 0 for c in every), answered),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds per case (%(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="turns per case, services alternating (2)")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds per service first (%(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="processes per service (%(default)s)")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(part) for part in text.split(",")],
        default=[1, 8, 64],
        help="concurrency of the single-trip cases, comma-separated (1,8,64)",
    )
    parser.add_argument("--batch", type=int, default=1000, help="trips per request of the batch case")
    parser.add_argument("--train-month", default="2021-01")
    parser.add_argument("--month", default="2021-02", help="the month whose trips are sent")
    parser.add_argument("--trips", type=int, default=10_000, help="distinct single-trip bodies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mirror", type=Path, default=None, help="TLC files (default: $TLC_MIRROR)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nyc-bench-serve"))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="serve the project's model from a deployment folder (--model-dir)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed (the load generator): apt-get install -y wrk")
    mirror = (args.mirror or mirror_dir()).resolve()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)

    params = default_params()
    log(f"training both models on {args.train_month}")
    models = train_models(mirror, args.train_month, params, workdir)
    trips = load_trips(mirror, args.month, params, max(args.trips, args.batch), args.seed)
    singles = write_bodies(workdir / "single.jsonl", trips[: args.trips])
    batch_count = max(1, min(20, len(trips) // args.batch))
    batches = [trips[i * args.batch : (i + 1) * args.batch] for i in range(batch_count)]
    batch_bodies = write_bodies(workdir / "batch.jsonl", batches)

    load_before = f"{os.getloadavg()[0]:.2f}"
    course = start_course(models[0], args.workers, workdir)
    project = None
    try:
        project = start_project(models[1], args.workers, workdir, args.deployed)
        course.wait_ready(trips[0])
        project.wait_ready(trips[0])
        check_answers(course, project, models, trips[:50])
        if args.warmup > 0:
            log("warming up")
            for server in (course, project):
                wrk(server.port, singles, max(args.connections), args.warmup)
            wrk(project.port, batch_bodies, 1, args.warmup)
        cases: list[Case] = []
        for connections in args.connections:
            cases += run_cases([course, project], SINGLE, singles, connections, args.seconds, args.rounds)
        logged = len(project.log_text())
        batch_case = f"{args.batch:,} trips per request"
        [batch] = run_cases([project], batch_case, batch_bodies, 1, args.seconds, args.rounds)
        cases.append(batch)
        times = server_times(project.log_text()[logged:], args.batch)
    finally:
        course.stop()
        if project is not None:
            project.stop()

    top = max(args.connections)
    pick = {(c.service, c.concurrency): c for c in cases if c.case == SINGLE}
    features = params["features"]
    load_after = f"{os.getloadavg()[0]:.2f}"
    setup = f"{os.cpu_count()} cores, {args.workers} worker process(es) per service, wrk -t1"
    per_case = f"{max(1, args.seconds // args.rounds) * args.rounds} s per case in {args.rounds} turn(s)"
    print(f"\n{setup}, {per_case}; load average before / after: {load_before} / {load_after}")
    columns = features["categorical"] + features["numeric"]
    model = params["model"]["estimator"]
    print(f"trips: {args.month} (models trained on {args.train_month}); features {columns}, {model}\n")
    print(format_table(cases))
    print(f"\n{batch_case}: {batch.rps * args.batch:,.0f} trips/s at concurrency 1")
    if times:
        print(f"{PROJECT}'s own log ('predict: {args.batch} trip(s), X ms'), {len(times)} requests: "
              f"p50 {statistics.median(times):.2f} ms, max {max(times):.2f} ms")  # fmt: skip
    for case in cases:
        if case.failed:
            print(f"errors: {case.service}, {case.case}, concurrency {case.concurrency}: {case.errors}")
    print()
    outcomes = targets(pick[(COURSE, top)], pick[(PROJECT, top)], batch, args.batch)
    for passed, line in outcomes:
        print(f"{'PASS' if passed else 'FAIL'}  {line}")
    if args.strict and not all(passed for passed, _ in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    main()
