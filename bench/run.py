"""Benchmark: the course's method against this pipeline's `dvc repro`, on real and on large months.

    python -m bench.run [--rows 3000000] [--year] [--decade] [--compute dask]
        [--workdir /tmp/nyc-bench] [--seed 0] [--strict]

Builds resampled TLC months of --rows rows once (cached in the workdir by seed and rows), then
times, each as its own process tree: the course method (as written, and with its duration
vectorised) and a from-scratch `dvc repro` on them; with --year, twelve training months with the
streaming model (model=gram_ridge) and the same model fitted in memory; with --decade, 120;
with --compute dask, the year's and decade's `dvc repro` again with compute=dask (a 2-worker
LocalCluster that each stage starts: its start-up, the client's and each worker's peak memory, the
RMSE beside the local run's); `trip-duration monitor` of the 3M model on a third resampled month;
on the real course months (2021-01, 2021-02) the course method, a from-scratch `dvc repro`, a
no-op one, a params-only change and its undoing (restored from DVC's run-cache). Prints a
markdown table, where the big repro's time goes (each stage's command timed again alone, its
start-up apart) and PASS/FAIL per target; exits non-zero on a FAIL only with --strict.
Progress goes to stderr, the report to stdout.
"""

import argparse
import dataclasses
import json
import os
import re
import statistics
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

from bench.make_months import ROOT, build_months, cache_folder, mirror_dir, month_path
from bench.measure import Measured, measure
from bench.project import make_project, project_env, read_metrics, read_params, sh, update_params
from bench.report import (
    DaskRun,
    Result,
    StageTime,
    check_targets,
    format_breakdown,
    format_cpu,
    format_dask,
    format_table,
    format_targets,
)

COURSE_TRAIN, COURSE_VAL = "2021-01", "2021-02"
# Resampled months carry an impossible year so they are never taken for real TLC months.
BIG_TRAIN, BIG_VAL, BIG_NEXT = "2099-01", "2099-02", "2099-03"  # NEXT: a month to monitor
YEAR_TRAIN = [f"2098-{month:02d}" for month in range(1, 13)]
DECADE_TRAIN = [f"{year}-{month:02d}" for year in range(2080, 2090) for month in range(1, 13)]
STARTUP_RUNS = 3  # imports timed per stage, the median kept
# The regressor that streams (conf/model/gram_ridge.yaml): the year and decade cases train it.
STREAMING = {"name": "gram_ridge", "estimator": "trip_duration.linear.GramRidge", "alpha": 0.1}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def checked(measured: Measured, what: str) -> Measured:
    if measured.returncode != 0:
        raise RuntimeError(f"{what} failed ({measured.returncode}):\n{measured.stdout}\n{measured.stderr}")
    return measured


def summary(measured: Measured) -> str:
    return (
        f"{measured.wall_s:.2f} s ({measured.cpu_s:.1f} CPU s), {measured.peak_mb:,.0f} MB "
        f"(largest process {measured.largest_process_mb:,.0f} MB, tree {measured.tree_mb:,.0f} MB)"
    )


def rows_in(paths: list[Path]) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in paths)


def run_course(case: str, train: Path, val: Path, course: Result | None = None) -> Result:
    """The course method as one process, on one training and one validation file; vectorised
    when `course` (the method as written, on the same files) is given."""
    log(f"running: {case}")
    command = [sys.executable, "-m", "bench.course", "--train", str(train), "--val", str(val)]
    command += ["--vectorised"] if course else []
    measured = checked(measure(command, ROOT, project_env()), case)
    report = json.loads(measured.stdout.strip().splitlines()[-1])
    log(f"  {summary(measured)}; phases {report['seconds']}")
    rows = rows_in([train])
    return Result(case, rows, measured.wall_s, measured.peak_mb, report["rmse"], course, measured.cpu_s)


def unrounded_rmse(project: Path) -> float:
    """The validation RMSE from the project's predictions, unrounded (metrics.json keeps 4 digits)."""
    predictions = pq.read_table(project / "predictions" / "val.parquet")
    errors = predictions["predicted"].to_numpy() - predictions["duration"].to_numpy()
    return float(np.sqrt(np.mean(errors**2)))


def run_fit_memory(case: str, project: Path, rows: int) -> Result:
    """The project's model fitted in memory on its whole window (bench.fit_memory), as one process;
    `rows`: the window's raw rows, as the streaming case counts them."""
    log(f"running: {case}")
    command = [sys.executable, "-m", "bench.fit_memory", str(project)]
    measured = checked(measure(command, ROOT, project_env()), case)
    report = json.loads(measured.stdout.strip().splitlines()[-1])
    log(f"  {summary(measured)}; rmse {report['rmse']}, {report['train_rows']:,} training trips")
    return Result(case, rows, measured.wall_s, measured.peak_mb, report["rmse"], cpu_s=measured.cpu_s)


def run_repro(
    case: str, project: Path, rows: int, course: Result | None, vectorised: Result | None = None
) -> Result:
    """One whole `dvc repro` in `project`; the RMSE is read from its metrics file."""
    log(f"running: {case}")
    dvc = str(Path(sys.executable).parent / "dvc")
    measured = checked(measure([dvc, "repro"], project, project_env()), case)
    ran = [line.split("'")[1] for line in measured.stdout.splitlines() if line.startswith("Running stage")]
    log(f"  {summary(measured)}; stages run: {ran}")
    rmse = read_metrics(project)["rmse"]
    return Result(case, rows, measured.wall_s, measured.peak_mb, rmse, course, measured.cpu_s, vectorised)


def dask_run(stdout: str) -> DaskRun:
    """The stages' own lines (stages/*.py, trip_duration.cluster) in a repro's output."""
    startup = {
        found[1]: float(found[2])
        for found in re.finditer(r"^(\w+): a task per .* ready in ([\d.]+) s\)$", stdout, re.MULTILINE)
    }
    peak = re.search(r"^train: peak memory: client ([\d,]+) MB, workers ([\d, ]+) MB$", stdout, re.MULTILINE)
    if peak is None:
        raise RuntimeError(f"no peak memory line from train on Dask in:\n{stdout}")
    workers = [float(value.replace(",", "")) for value in peak[2].split(", ")]
    return DaskRun(startup, float(peak[1].replace(",", "")), workers)


def run_dask_repro(case: str, project: Path, rows: int) -> tuple[Result, DaskRun]:
    """The project's `dvc repro` again with compute=dask (conf/compute/dask.yaml: a LocalCluster)."""
    compute = yaml.safe_load((ROOT / "conf" / "compute" / "dask.yaml").read_text(encoding="utf-8"))
    update_params(project, {"compute": compute})
    sh("git", "commit", "-qam", "compute: dask", cwd=project)
    log(f"running: {case}")
    dvc = str(Path(sys.executable).parent / "dvc")
    measured = checked(measure([dvc, "repro"], project, project_env()), case)
    found = dask_run(measured.stdout)
    log(f"  {summary(measured)}; {found}")
    result = Result(
        case, rows, measured.wall_s, measured.peak_mb, unrounded_rmse(project), cpu_s=measured.cpu_s
    )
    return result, found


def stage_times(project: Path) -> list[StageTime]:
    """Each stage of the project's last `dvc repro`, in dvc.yaml's order: its command (from
    dvc.lock) run again alone, and its module's imports in a fresh interpreter (the median of
    STARTUP_RUNS)."""
    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    commands = yaml.safe_load((project / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    times = []
    for name in stages:
        command = commands[name]["cmd"]
        module = command.split()[2]  # python -m stages.NAME ...
        wall = checked(measure(["/bin/sh", "-c", command], project, project_env()), command).wall_s
        imports = [sys.executable, "-c", f"import {module}"]
        startup = statistics.median(
            checked(measure(imports, project, project_env()), module).wall_s for _ in range(STARTUP_RUNS)
        )
        times.append(StageTime(name, wall, startup))
    log(f"  stages alone: {[(t.stage, round(t.wall_s, 2), round(t.startup_s, 2)) for t in times]}")
    return times


def run_monitor(case: str, project: Path, data_dir: Path, month: str) -> Result:
    """`trip-duration monitor` of the project's model on one month of data_dir (exit 0 ok, 1 alert)."""
    log(f"running: {case}")
    out = project / "bench-monitoring"
    command = [str(Path(sys.executable).parent / "trip-duration"), "monitor", "--months", month]
    command += ["--model", "models/trip-duration.joblib", "--data-dir", str(data_dir)]
    command += ["--out", str(out), "--reports", str(out)]
    measured = measure(command, project, project_env())
    if measured.returncode not in (0, 1):
        raise RuntimeError(f"{case} failed ({measured.returncode}):\n{measured.stdout}\n{measured.stderr}")
    log(f"  {summary(measured)}; {measured.stdout.strip()}")
    found = json.loads((out / f"{month}.json").read_text(encoding="utf-8"))
    rows, rmse = found["quality"]["raw_rows"], found["metrics"]["rmse"]  # rows: the month's, as elsewhere
    return Result(case, rows, measured.wall_s, measured.peak_mb, rmse, cpu_s=measured.cpu_s)


def course_months_cases(mirror: Path, projects: Path) -> dict[str, Result]:
    train, val = month_path(mirror, COURSE_TRAIN), month_path(mirror, COURSE_VAL)
    course = run_course(f"course method, {COURSE_TRAIN} / {COURSE_VAL}", train, val)
    window = {"train_months": [COURSE_TRAIN], "val_months": [COURSE_VAL]}
    project = make_project(projects / "course-months", [train, val], window)
    rows = rows_in([train])
    results = {"months_course": course}
    results["months_repro"] = run_repro("dvc repro from scratch, course months", project, rows, course)
    results["months_noop"] = run_repro("no-op dvc repro, course months", project, rows, course)
    update_params(project, {"model": {"fit_intercept": False}})
    results["months_params"] = run_repro("params-only change (fit_intercept false)", project, rows, course)
    update_params(project, {"model": {"fit_intercept": True}})
    case = "params change back (run-cache)"
    results["months_revert"] = run_repro(case, project, rows, course)
    return results


def size_label(rows: int) -> str:
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows:,}-row"


def big_cases(
    mirror: Path,
    workdir: Path,
    rows: int,
    seed: int,
    year: bool,
    decade: bool,
    dask: dict[str, DaskRun] | None,
) -> tuple[dict[str, Result], list[StageTime]]:
    """The cases on resampled months, and the big repro's stages timed alone (right after it, on
    the same warm files); with `dask` (to fill) the year's and decade's repros on Dask too."""
    folder = cache_folder(workdir, rows, seed)
    log(f"months: {folder} (built where missing)")
    train, val = build_months(mirror, folder, [BIG_TRAIN], [BIG_VAL], rows, seed)
    label = size_label(rows)
    course = run_course(f"course method, {label} month", train, val)
    vectorised = run_course(f"course method, vectorised duration, {label} month", train, val, course)
    window = {"train_months": [BIG_TRAIN], "val_months": [BIG_VAL]}
    project = make_project(workdir / "projects" / "big", [train, val], window)
    results = {"big_course": course, "big_vectorised": vectorised}
    results["big"] = run_repro(f"dvc repro from scratch, {label} month", project, rows, course, vectorised)
    breakdown = stage_times(project)
    build_months(mirror, folder, [], [BIG_NEXT], rows, seed)
    case = f"trip-duration monitor, one {label} month (drift on samples)"
    results["monitor"] = run_monitor(case, project, folder, BIG_NEXT)
    for key, months, wanted in (("year", YEAR_TRAIN, year), ("decade", DECADE_TRAIN, decade)):
        if not wanted:
            continue
        *files, val = build_months(mirror, folder, months, [BIG_VAL], rows, seed)
        window = {"train_months": months, "val_months": [BIG_VAL]}
        project = make_project(workdir / "projects" / key, [*files, val], window, link=True)
        update_params(project, {"model": STREAMING})
        sh("git", "commit", "-qam", "model: gram_ridge", cwd=project)
        case = f"dvc repro from scratch, {key} ({len(months)} x {label}), streaming gram_ridge"
        measured = run_repro(case, project, rows_in(files), None)
        results[key] = dataclasses.replace(measured, rmse=unrounded_rmse(project))
        if key == "year":
            case = f"the same model fitted in memory, year ({len(months)} x {label})"
            results["year_memory"] = run_fit_memory(case, project, rows_in(files))
        if dask is not None:
            case = f"the same repro, compute=dask, {key} (2-worker LocalCluster)"
            results[f"{key}_dask"], dask[key] = run_dask_repro(case, project, rows_in(files))
    return results, breakdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000, help="rows per resampled month")
    parser.add_argument("--year", action="store_true", help="also a year of 12 resampled training months")
    parser.add_argument("--decade", action="store_true", help="also 120 resampled training months (~9 GB)")
    parser.add_argument(
        "--compute", choices=["local", "dask"], default="local", help="dask: the year and decade on Dask too"
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/nyc-bench"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mirror", type=Path, default=None, help="TLC files (default: $TLC_MIRROR)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    mirror = (args.mirror or mirror_dir()).resolve()
    workdir = args.workdir.resolve()

    load_before = f"{os.getloadavg()[0]:.2f}"
    results = course_months_cases(mirror, workdir / "projects")
    dask: dict[str, DaskRun] | None = {} if args.compute == "dask" else None
    big, breakdown = big_cases(mirror, workdir, args.rows, args.seed, args.year, args.decade, dask)
    results.update(big)
    order = ["big_course", "big_vectorised", "big", "year", "year_memory", "year_dask"]
    order += ["decade", "decade_dask", "monitor"]
    order += ["months_course", "months_repro", "months_noop"]
    order += ["months_params", "months_revert"]
    params = read_params(ROOT)
    print(f"\nrows per resampled month {args.rows:,}, seed {args.seed}, {os.cpu_count()} cores")
    print(f"load average before / after: {load_before} / {os.getloadavg()[0]:.2f}")
    print(f"features {params['features']}\nmodel {params['model']}\n")
    table = [results[key] for key in order if key in results]
    print(format_table(table))
    print("\nCPU seconds (user + system of each process tree):")
    print(format_cpu(table))
    print()
    print(format_breakdown(results["big"], breakdown))
    if dask:
        print()
        print(format_dask(results, dask))
    targets = check_targets(results, size_label(args.rows), dask)
    print()
    print(format_targets(targets))
    if args.strict and any(not t.passed and not t.stretch for t in targets):
        sys.exit(1)


if __name__ == "__main__":
    main()
