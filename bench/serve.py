"""Benchmark: this project's HTTP service against the course's week-4 Flask service, under wrk; and a soak.

    python -m bench.serve [--seconds 10] [--rounds 2] [--workers 2] [--connections 1,8,64]
                          [--metrics-cost 1,64] [--batch 1000] [--month 2021-02]
                          [--workdir /tmp/nyc-bench-serve] [--strict] [--deployed]
    python -m bench.serve --soak [--soak-minutes 5] [--slice-seconds 60] [--switch-seconds 30]

One run, on this machine: trains both models on --train-month (the course's
`(DictVectorizer, LinearRegression)` pickle, bench.course_service; this project's default model,
conf/ composed without overrides), starts both services with the same number of worker processes
(`gunicorn --workers N bench.course_service:app`; `trip-duration serve --model FILE --workers N`, or
with --deployed `--model-dir` a folder holding the file and its manifest, as deploy writes it),
and this service a second time with --no-metrics, checks that each answers sample trips as its
model does in process, then loads them with `wrk` (bench/serve.lua, one thread) posting the same
bodies: real trips of --month, one per request, at each concurrency (the --no-metrics service at
those of --metrics-cost: what /metrics costs); then lists of --batch trips to this service at
concurrency 1. Each case lasts --seconds, split into --rounds turns in which the services
alternate, so that a load coming and going on the machine falls on both; the turns' latency
histograms are merged exactly. The targets are checked on the service as it starts by default,
with /metrics.

With --soak, only this service, from a deployment folder, at the highest --connections for
--soak-minutes, in wrk runs of --slice-seconds back to back (a p99 each), while a new version is
deployed every --switch-seconds (two models, trained on --train-month and --month, in turn; see
bench/soak.py): failures, the versions that answered, and each worker's memory.

Prints markdown tables and PASS/FAIL per target; exits non-zero on a FAIL only with --strict.
Needs `wrk` (Debian: apt-get install -y wrk). Progress goes to stderr, the report to stdout.
"""

import argparse
import os
import pickle
import re
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from bench import soak
from bench.load import Case, run_cases, wrk
from bench.make_months import mirror_dir
from bench.serve_inputs import default_params, load_trips, train_models, train_project, write_bodies
from bench.services import (
    COURSE,
    PROJECT,
    PROJECT_NO_METRICS,
    Server,
    get,
    log,
    post,
    serve_project,
    start_course,
    start_project,
)

SINGLE = "1 trip per request"
SERVER_TIME = re.compile(r"predict: (\d+) trip\(s\), ([\d.]+) ms")
SPEED_UP, BATCH_MS = 2.0, 50.0  # the targets


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


def check_metrics(project: Server, bare: Server, trips: list[dict]) -> None:
    """The two differ in /metrics only: one serves it, counting requests; the other has none."""
    status, text = get(project.port, "/metrics")
    if status != 200 or "trip_duration_http_requests_total{" not in text:
        raise RuntimeError(f"{PROJECT}: GET /metrics answered {status}, no request counted:\n{text[:2000]}")
    status, text = get(bare.port, "/metrics")
    if status != 404:
        raise RuntimeError(f"{PROJECT_NO_METRICS}: GET /metrics answered {status}, not 404:\n{text[:2000]}")
    for trip in trips:
        if (answer := post(bare.port, trip)) != (want := post(project.port, trip)):
            raise RuntimeError(f"{PROJECT_NO_METRICS} answered {answer} for {trip}, {PROJECT} {want}")
    log(f"  {PROJECT} serves /metrics, {PROJECT_NO_METRICS} does not; both answer {len(trips)} trips alike")


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


def format_metrics_cost(cases: list[Case]) -> str:
    """Per concurrency: the service with /metrics (the default) against --no-metrics, from the same turns."""
    pick = {(c.service, c.concurrency): c for c in cases if c.case == SINGLE}
    lines = [
        "| concurrency | requests/s, metrics | requests/s, --no-metrics | ratio | p99 ms, metrics "
        "| p99 ms, --no-metrics |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for service, concurrency in pick:
        if service == PROJECT_NO_METRICS:
            on, off = pick[(PROJECT, concurrency)], pick[(service, concurrency)]
            lines.append(
                f"| {concurrency} | {on.rps:,.1f} | {off.rps:,.1f} | {on.rps / off.rps:.2f}x "
                f"| {on.p99_ms:.2f} | {off.p99_ms:.2f} |"
            )
    return "\n".join(lines)


def targets(
    course: Case, project: Case, batch: Case, batch_size: int, every: list[Case]
) -> list[tuple[bool, str]]:
    """(passed, line) per target: (a) single trips at the highest concurrency, with metrics (the
    default), (b) a batch's time, (c) no failed request in `every` case."""
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
    answered = (
        f"every request of these cases answered 200: "
        f"{sum(c.failed for c in every)} failed of {sum(c.requests for c in every):,}"
    )
    return [
        (passed, a),
        (batch.p50_ms < BATCH_MS, b),
        (all(c.failed == 0 for c in every), answered),
    ]


# --- the runs -----------------------------------------------------------------------------------------


def compare(args: argparse.Namespace, mirror: Path, workdir: Path, params: dict[str, Any]) -> bool:
    """Both services (and this one --no-metrics) under the same load; the report; whether all passed."""
    top = max(args.connections)
    metrics_cost = (
        sorted({1, top} & set(args.connections)) if args.metrics_cost is None else args.metrics_cost
    )
    if not set(metrics_cost) <= set(args.connections):
        sys.exit(f"error: --metrics-cost {metrics_cost}: each one of --connections {args.connections}")
    log(f"training both models on {args.train_month}")
    models = train_models(mirror, args.train_month, params, workdir)
    trips = load_trips(mirror, args.month, params, max(args.trips, args.batch), args.seed)
    singles = write_bodies(workdir / "single.jsonl", trips[: args.trips])
    batch_count = max(1, min(20, len(trips) // args.batch))
    batches = [trips[i * args.batch : (i + 1) * args.batch] for i in range(batch_count)]
    batch_bodies = write_bodies(workdir / "batch.jsonl", batches)

    load_before = f"{os.getloadavg()[0]:.2f}"
    servers: list[Server] = []
    try:
        servers.append(course := start_course(models[0], args.workers, workdir))
        servers.append(project := start_project(models[1], args.workers, workdir, args.deployed))
        if metrics_cost:
            servers.append(start_project(models[1], args.workers, workdir, args.deployed, metrics=False))
        for server in servers:
            server.wait_ready(trips[0])
        check_answers(course, project, models, trips[:50])
        if metrics_cost:
            check_metrics(project, servers[2], trips[:20])
        if args.warmup > 0:
            log("warming up")
            for server in servers:
                wrk(server.port, singles, top, args.warmup)
            wrk(project.port, batch_bodies, 1, args.warmup)
        cases: list[Case] = []
        for connections in args.connections:
            loaded = servers if connections in metrics_cost else servers[:2]
            cases += run_cases(loaded, SINGLE, singles, connections, args.seconds, args.rounds)
        logged = len(project.log_text())
        batch_case = f"{args.batch:,} trips per request"
        [batch] = run_cases([project], batch_case, batch_bodies, 1, args.seconds, args.rounds)
        cases.append(batch)
        times = server_times(project.log_text()[logged:], args.batch)
    finally:
        for server in servers:
            server.stop()

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
    if metrics_cost:
        print(f"\nwhat /metrics costs: {PROJECT} (metrics on, the default) against {PROJECT_NO_METRICS}, "
              f"the same cases in alternating turns; ratio: requests/s with metrics / without\n")  # fmt: skip
        print(format_metrics_cost(cases))
    for case in cases:
        if case.failed:
            print(f"errors: {case.service}, {case.case}, concurrency {case.concurrency}: {case.errors}")
    print()
    outcomes = targets(pick[(COURSE, top)], pick[(PROJECT, top)], batch, args.batch, cases)
    for passed, line in outcomes:
        print(f"{'PASS' if passed else 'FAIL'}  {line}")
    return all(passed for passed, _ in outcomes)


def soak_run(args: argparse.Namespace, mirror: Path, workdir: Path, params: dict[str, Any]) -> bool:
    """This service from a deployment folder, a new version every --switch-seconds, under load for
    --soak-minutes; the report; whether all passed."""
    from trip_duration_ops.deploy import LEAD_SECONDS

    folder = workdir / "soak-deploy"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    log(f"training two models, on {args.train_month} and on {args.month}: the versions deployed in turn")
    models = [
        train_project(mirror, month, params, folder / f"trip-duration-{month}.joblib")
        for month in (args.train_month, args.month)
    ]
    trips = load_trips(mirror, args.month, params, args.trips, args.seed)
    singles = write_bodies(workdir / "single.jsonl", trips)
    lead = min(LEAD_SECONDS, args.switch_seconds / 2)  # each version takes over before the next is written
    deployer = soak.Deployer(folder, models, args.switch_seconds, lead)
    deployer.deploy(lead=0)  # the first version, serving from the start
    slices = max(1, round(args.soak_minutes * 60 / args.slice_seconds))
    connections = max(args.connections)

    load_before = f"{os.getloadavg()[0]:.2f}"
    source = ["--model-dir", str(folder)]
    server = serve_project(PROJECT, source, args.workers, workdir / "soak-service.log")
    try:
        server.wait_ready(trips[0])
        if args.warmup > 0:
            log("warming up")
            wrk(server.port, singles, connections, args.warmup)
        log(f"soak: {slices} x {args.slice_seconds} s at concurrency {connections}, "
            f"a new version every {args.switch_seconds:g} s")  # fmt: skip
        result = soak.soak(server, deployer, singles, connections, slices, args.slice_seconds)
    finally:
        server.stop()

    load_after = f"{os.getloadavg()[0]:.2f}"
    gaps = result.gaps
    print(f"\n{os.cpu_count()} cores, {args.workers} worker process(es), wrk -t1 -c{connections}; "
          f"load average before / after: {load_before} / {load_after}")  # fmt: skip
    print(f"{PROJECT} --model-dir: {slices} wrk run(s) of {args.slice_seconds} s back to back, p50 and "
          f"p99 each wrk's own (gaps without load between them: max {max(gaps, default=0):.2f} s); "
          f"a new version deployed every {args.switch_seconds:g} s (two model files in turn, trained "
          f"on {args.train_month} and {args.month}), taking over {lead:g} s after its manifest is "
          f"written\n")  # fmt: skip
    print(soak.format_slices(result, args.slice_seconds))
    print()
    print(soak.format_memory(result))
    print()
    outcomes = soak.targets(result)
    for passed, line in outcomes:
        print(f"{'PASS' if passed else 'FAIL'}  {line}")
    return all(passed for passed, _ in outcomes)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds per case (%(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="turns per case, services alternating (2)")
    parser.add_argument("--warmup", type=int, default=2, help="wrk seconds per service first (%(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="processes per service (%(default)s)")
    parser.add_argument(
        "--connections",
        type=numbers,
        default=[1, 8, 64],
        help="concurrency of the single-trip cases, comma-separated (1,8,64); the soak's: the highest",
    )
    parser.add_argument(
        "--metrics-cost",
        type=numbers,
        default=None,
        help="concurrencies at which this service runs with --no-metrics too (default: 1 and the highest "
        "of --connections; '' for none)",
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
    soaking = parser.add_argument_group("soak", "--soak: this service alone, deployed to, for minutes")
    soaking.add_argument("--soak", action="store_true", help="run the soak instead of the comparison")
    soaking.add_argument("--soak-minutes", type=float, default=5, help="minutes of load (%(default)s)")
    soaking.add_argument(
        "--slice-seconds", type=int, default=60, help="seconds per wrk run: a p99 each (%(default)s)"
    )
    soaking.add_argument(
        "--switch-seconds", type=float, default=30, help="seconds between deployments (%(default)s)"
    )
    args = parser.parse_args(argv)
    if args.soak and not (args.soak_minutes > 0 and args.slice_seconds > 0 and args.switch_seconds >= 1):
        sys.exit("error: --soak-minutes and --slice-seconds above 0, --switch-seconds at least 1")
    if shutil.which("wrk") is None:
        sys.exit("error: wrk is not installed (the load generator): apt-get install -y wrk")
    mirror = (args.mirror or mirror_dir()).resolve()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    run = soak_run if args.soak else compare
    if not run(args, mirror, workdir, default_params()) and args.strict:
        sys.exit(1)


def numbers(text: str) -> list[int]:
    """Comma-separated integers: "1,8,64"; "" for none."""
    return [int(part) for part in text.split(",") if part.strip()]


if __name__ == "__main__":
    main()
