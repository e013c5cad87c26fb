"""Benchmark: `trip-duration site` on a synthetic history (bench.history), against its targets.

    python -m bench.site [--commits 500] [--versions 100] [--seed 0] [--history DIR] [--keep DIR]

Makes the history (or reuses --history), then builds its site into a fresh folder WARM_UP + RUNS
times, each as its own process tree (bench.measure). The first build is a warm-up, not counted (it
fills the page cache and compiles the imports, as any build after the first finds them); the wall
time is the median of the others, the peak memory their largest. Pages are the site's .html files;
the shared files under assets/ are counted apart. Prints the table row and PASS/FAIL per target;
exits 1 when a target fails. Progress goes to stderr, the report to stdout.
"""

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.history import make_history
from bench.make_months import ROOT
from bench.measure import Measured, measure
from bench.project import sh
from bench.report import Target, format_targets
from trip_duration_ops.registry import ARTIFACT

WARM_UP, RUNS = 1, 3
MAX_SECONDS, MAX_PAGE_MB = 30, 3
MB = 1024 * 1024
HEADER = "| site | commits | versions | pages | build s | largest page MB | peak MB |"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def site_command(history: Path, out: Path) -> list[str]:
    """`trip-duration site` of this checkout's code."""
    return [sys.executable, "-m", "trip_duration_ops.cli", "site", "--repo", str(history), "--out", str(out)]


def build(history: Path, out: Path) -> Measured:
    command = site_command(history, out)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1"}
    measured = measure(command, ROOT, env)
    if measured.returncode != 0:
        raise RuntimeError(f"trip-duration site failed ({measured.returncode}):\n{measured.stderr}")
    return measured


def sizes(site: Path) -> tuple[int, float, float]:
    """The site's pages, its largest page and its shared assets, in MB."""
    html = [path for path in site.rglob("*.html") if "assets" not in path.relative_to(site).parts]
    pages = [path.stat().st_size for path in html]
    assets = sum(path.stat().st_size for path in (site / "assets").rglob("*") if path.is_file())
    return len(pages), max(pages, default=0) / MB, assets / MB


def counted(history: Path) -> tuple[int, int]:
    """The history's commits on main and its registered versions (GTO's `@` tags)."""
    commits = int(sh("git", "rev-list", "--count", "main", cwd=history))
    return commits, len(sh("git", "tag", "--list", f"{ARTIFACT}@*", cwd=history).split())


def benchmark(history: Path, work: Path) -> tuple[list[Measured], tuple[int, float, float]]:
    runs = []
    for run in range(WARM_UP + RUNS):
        measured = build(history, work / f"site-{run}")
        which = f"build {run + 1}{' (warm-up)' if run < WARM_UP else ''}"
        log(f"{which}: {measured.wall_s:.2f} s, {measured.peak_mb:,.0f} MB")
        runs.append(measured)
    return runs[WARM_UP:], sizes(work / f"site-{WARM_UP + RUNS - 1}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--history", type=Path, help="a history bench.history made: reused, not made")
    parser.add_argument("--keep", type=Path, help="make the history and the sites here, and keep them")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep.resolve() if args.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        history = args.history.resolve() if args.history else work / "history"
        if args.history is None:
            _, seconds = make_history(history, args.commits, args.versions, args.seed)
            log(f"history: {history}, made in {sum(seconds.values()):.1f} s")
        runs, (pages, largest_mb, assets_mb) = benchmark(history, work)
        commits, versions = counted(history)
    wall = statistics.median(run.wall_s for run in runs)
    peak = max(run.peak_mb for run in runs)
    print(f"site build of {history.name}: median of {RUNS} builds after {WARM_UP} warm-up\n")
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|---:|")
    cells = ["trip-duration site", f"{commits:,}", f"{versions:,}", f"{pages:,}"]
    cells += [f"{wall:.2f}", f"{largest_mb:.2f}", f"{peak:,.0f}"]
    print("| " + " | ".join(cells) + " |")
    print(f"\nshared assets (assets/): {assets_mb:.2f} MB\n")
    targets = [
        Target(f"site build < {MAX_SECONDS} s", f"{wall:.2f} s", wall < MAX_SECONDS),
        Target(f"largest page < {MAX_PAGE_MB} MB", f"{largest_mb:.2f} MB", largest_mb < MAX_PAGE_MB),
    ]
    print(format_targets(targets))
    if not all(target.passed for target in targets):
        sys.exit(1)


if __name__ == "__main__":
    main()
