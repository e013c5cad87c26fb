"""The benchmark's table and its targets, from measured numbers: pure functions, no I/O."""

from collections.abc import Mapping
from dataclasses import dataclass

GB = 1024  # MB per GB, as RSS is counted in KiB-based units
SPEED_UP = 5  # the target: this many times faster than the vectorised course method


@dataclass(frozen=True)
class Result:
    case: str
    rows: int
    wall_s: float
    peak_mb: float
    rmse: float | None
    course: "Result | None" = None  # the course method on the same data, the baseline
    cpu_s: float | None = None  # user + system seconds: steadier than wall time on a shared machine
    vectorised: "Result | None" = None  # the course method with its duration vectorised, the target's


@dataclass(frozen=True)
class StageTime:
    """One stage's command run again on its own: its whole wall time, and the part of it that is
    the interpreter's start-up and the module's imports (`python -c "import stages.NAME"`)."""

    stage: str
    wall_s: float
    startup_s: float


@dataclass(frozen=True)
class DaskRun:
    """What a compute=dask repro's stages said: each cluster's start-up, train's peak memory."""

    startup_s: dict[str, float]  # stage -> seconds until its cluster was ready
    client_mb: float
    worker_mb: list[float]


DASK_OVERHEAD = 1.3  # a repro on a 2-worker LocalCluster may take this much of the local time
DASK_RMSE = 1e-9  # relative: the same model, its sums taken in another order


@dataclass(frozen=True)
class Target:
    name: str
    measured: str
    passed: bool
    stretch: bool = False


def speed_up(result: Result) -> float | None:
    return result.course.wall_s / result.wall_s if result.course else None


def memory_ratio(result: Result) -> float | None:
    return result.peak_mb / result.course.peak_mb if result.course else None


def _number(value: float | None, spec: str, suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def format_table(results: list[Result]) -> str:
    """A markdown table, one line per case."""
    lines = [
        "| case | rows | wall s | peak RSS MB | val RMSE | speed-up vs course | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        cells = [
            result.case,
            f"{result.rows:,}",
            f"{result.wall_s:.2f}",
            f"{result.peak_mb:,.0f}",
            _number(result.rmse, ".4f"),
            _number(speed_up(result), ".2f", "x"),
            _number(memory_ratio(result), ".2f", "x"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_cpu(results: list[Result]) -> str:
    """CPU seconds per case, for reading wall times taken on a busy machine."""
    return "\n".join(f"- {r.case}: {r.cpu_s:.1f} CPU s" for r in results if r.cpu_s is not None)


def format_breakdown(repro: Result, stages: list[StageTime]) -> str:
    """Where a from-scratch `dvc repro`'s wall time goes: DVC itself (the repro's wall time less its
    stages' commands, timed alone), and each stage's start-up and work; beside the speed target's
    budget (the vectorised course method's wall time / SPEED_UP) when the repro has that baseline."""
    dvc = repro.wall_s - sum(stage.wall_s for stage in stages)
    lines = [f"Where the {repro.case}'s {repro.wall_s:.2f} s go (each stage's command timed alone):", ""]
    lines += ["| part | wall s |", "|---|---:|", f"| DVC itself (the rest of the repro) | {dvc:.2f} |"]
    for stage in stages:
        lines.append(f"| {stage.stage}: start-up and imports | {stage.startup_s:.2f} |")
        lines.append(f"| {stage.stage}: work | {stage.wall_s - stage.startup_s:.2f} |")
    if repro.vectorised is not None:
        budget_s = repro.vectorised.wall_s / SPEED_UP
        fixed = dvc + sum(stage.startup_s for stage in stages)
        lines.append("")
        lines.append(
            f"DVC and the stages' start-ups: {fixed:.2f} s of the {SPEED_UP}x target's {budget_s:.2f} s,"
            f" leaving {budget_s - fixed:.2f} s for the work, which took"
            f" {sum(stage.wall_s - stage.startup_s for stage in stages):.2f} s"
        )
    return "\n".join(lines)


def format_dask(results: Mapping[str, Result], dask: Mapping[str, DaskRun]) -> str:
    """The compute=dask repros beside the local ones: time, start-up, memory of each process, RMSE."""
    lines = [
        "compute=dask beside local (the same dvc repro; each stage starts its own LocalCluster):",
        "",
        "| case | local s | dask s | ratio | cluster start-up s | client MB | workers MB | RMSE rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, run in dask.items():
        local, on_dask = results[key], results[f"{key}_dask"]
        startup = ", ".join(f"{stage} {seconds:.2f}" for stage, seconds in run.startup_s.items())
        gap = _relative(on_dask.rmse, local.rmse)
        cells = [
            key,
            f"{local.wall_s:.2f}",
            f"{on_dask.wall_s:.2f}",
            f"{on_dask.wall_s / local.wall_s:.2f}x",
            startup,
            f"{run.client_mb:,.0f}",
            ", ".join(f"{mb:,.0f}" for mb in run.worker_mb),
            _number(gap, ".1e"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _relative(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else abs(value - reference) / abs(reference)


def dask_targets(results: Mapping[str, Result], dask: Mapping[str, DaskRun]) -> list[Target]:
    """Dask's overhead on one machine, the same RMSE, and a client whose memory does not grow."""
    targets = []
    for key in dask:
        local, on_dask = results[key], results[f"{key}_dask"]
        ratio = on_dask.wall_s / local.wall_s
        name = f"{key} on Dask <= {DASK_OVERHEAD}x the local repro's time"
        targets.append(Target(name, f"{ratio:.2f}x", ratio <= DASK_OVERHEAD))
        gap = _relative(on_dask.rmse, local.rmse)
        if gap is not None:
            name = f"{key} on Dask: val RMSE equal to the local one's within {DASK_RMSE:g} relative"
            targets.append(Target(name, f"{gap:.1e}", gap <= DASK_RMSE))
    if "year" in dask and "decade" in dask:
        growth = dask["decade"].client_mb / dask["year"].client_mb
        name = "Dask client's peak memory flat from the year to the decade (<= 1.2x)"
        targets.append(Target(name, f"{growth:.2f}x", growth <= 1.2))
    return targets


def check_targets(
    results: Mapping[str, Result], big_label: str = "3M", dask: Mapping[str, DaskRun] | None = None
) -> list[Target]:
    """The targets whose cases were measured; keys: big, year, year_memory, decade, monitor,
    months_noop, months_params; `dask`: the year's and decade's runs on Dask (year_dask...)."""
    targets: list[Target] = dask_targets(results, dask) if dask else []
    monitor = results.get("monitor")
    big = results.get("big")
    params, noop = results.get("months_params"), results.get("months_noop")
    if big is not None and big.vectorised is not None:
        base = big.vectorised
        fast, lean = base.wall_s / big.wall_s, big.peak_mb / base.peak_mb
        name = f"{big_label} dvc repro"
        target = f"{name} >= {SPEED_UP}x faster than the vectorised course method"
        targets.append(Target(target, f"{fast:.2f}x", fast >= SPEED_UP))
        targets.append(Target(f"{name} >= 8x faster (stretch)", f"{fast:.2f}x", fast >= 8, stretch=True))
        targets.append(Target(f"{name} <= half its peak memory", f"{lean:.2f}x", lean <= 0.5))
        if big.rmse is not None and base.rmse is not None:
            gap = abs(big.rmse - base.rmse)
            name = f"{big_label} val RMSE equal to the course method's within 0.001"
            targets.append(Target(name, f"{gap:.4f}", gap <= 0.001))
    year, in_memory, decade = results.get("year"), results.get("year_memory"), results.get("decade")
    if year is not None:
        peak = year.peak_mb / GB
        targets.append(Target("year peak memory under 24 GB", f"{peak:.1f} GB", peak < 24))
        if in_memory is not None and year.rmse is not None and in_memory.rmse is not None:
            gap = abs(year.rmse - in_memory.rmse)
            name = "year: streaming fit's val RMSE equal to the in-memory fit's within 1e-4"
            targets.append(Target(name, f"{gap:.1e}", gap <= 1e-4))
    if decade is not None:
        peak = decade.peak_mb / GB
        targets.append(Target("decade peak memory under 8 GB", f"{peak:.2f} GB", peak < 8))
        if year is not None:
            times = (decade.wall_s / decade.rows) / (year.wall_s / year.rows)
            name = "decade time per training row <= 1.3x the year's"
            targets.append(Target(name, f"{times:.2f}x", times <= 1.3))
    if monitor is not None:
        name = f"monitoring one {big_label} month under 60 s and 4 GB"
        measured = f"{monitor.wall_s:.2f} s, {monitor.peak_mb / GB:.2f} GB"
        targets.append(Target(name, measured, monitor.wall_s < 60 and monitor.peak_mb < 4 * GB))
    if params is not None and params.course is not None:
        name = "course months: params-only change <= the course method's full run"
        measured = f"{params.wall_s:.2f} s vs {params.course.wall_s:.2f} s"
        targets.append(Target(name, measured, params.wall_s <= params.course.wall_s))
    if noop is not None:
        name = "course months: no-op dvc repro < 1.5 s"
        targets.append(Target(name, f"{noop.wall_s:.2f} s", noop.wall_s < 1.5))
    return targets


def format_targets(targets: list[Target]) -> str:
    return "\n".join(f"{'PASS' if t.passed else 'FAIL'}  {t.name}: {t.measured}" for t in targets)
