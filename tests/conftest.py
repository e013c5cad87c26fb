"""Shared fixtures: the offline TLC mirror, small TLC-shaped files, throwaway project copies."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench.project import make_project as copy_project

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # this environment's python, dvc, gto and trip-duration


def mirror_dir() -> Path:
    """The offline copy of the TLC files: $TLC_MIRROR, else ../shared/data/nyc-tlc beside the repo."""
    mirror = Path(os.environ.get("TLC_MIRROR", ROOT.parent / "shared" / "data" / "nyc-tlc"))
    if not (mirror / "green_tripdata_2021-01.parquet").is_file():
        pytest.fail(f"no TLC mirror at {mirror}: set TLC_MIRROR to a folder holding the TLC files")
    return mirror.resolve()


def tlc_file(month: str) -> str:
    return f"green_tripdata_{month}.parquet"


def halve_durations(source: Path, target: Path) -> None:
    """A TLC month whose trips all took half as long (a meter fault): dropoff moved halfway back."""
    table = pq.read_table(source)
    pickup, dropoff = table["lpep_pickup_datetime"], table["lpep_dropoff_datetime"]
    micros = pc.cast(pc.subtract(dropoff, pickup), pa.int64())
    half = pc.cast(pc.divide(micros, 2), pa.duration(pickup.type.unit))
    index = table.schema.get_field_index("lpep_dropoff_datetime")
    pq.write_table(table.set_column(index, "lpep_dropoff_datetime", pc.add(pickup, half)), target)


@pytest.fixture(scope="session")
def mirror() -> Path:
    return mirror_dir()


def env() -> dict[str, str]:
    """Environment for subprocesses: the project importable, the mirror as the TLC source."""
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # python -m stages.* run by dvc
        "PYTHONPATH": str(ROOT),
        "TLC_MIRROR": str(mirror_dir()),
        "GIT_AUTHOR_NAME": "test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }


def sh(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (dvc, git, trip-duration, python -m ...) in `cwd`; output captured as text."""
    if args[0] == "python":
        command = [sys.executable, "-m", *args[1:]]
    elif (BIN / args[0]).is_file():
        command = [str(BIN / args[0]), *args[1:]]
    else:
        command = list(args)
    done = subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def tlc_table(trips: list[tuple], schema: str = "A") -> pa.Table:
    """A TLC-shaped table from (pickup, minutes, PU, DO, distance) rows, with a real TLC schema.

    Schema A: 2021-2023-01 green files (int64 ids, double codes, null-typed ehail_fee);
    B: 2023-02 on (int32 ids, int64 codes); "yellow": tpep_ columns and airport_fee.
    """
    prefix = "tpep_" if schema == "yellow" else "lpep_"
    ids, codes = (pa.int32(), pa.int64()) if schema == "B" else (pa.int64(), pa.float64())
    n = len(trips)
    pickups = [row[0] for row in trips]
    columns = {
        "VendorID": pa.array([2] * n, ids),
        f"{prefix}pickup_datetime": pa.array(pickups, pa.timestamp("us")),
        f"{prefix}dropoff_datetime": pa.array(
            [p + timedelta(minutes=row[1]) for p, row in zip(pickups, trips, strict=True)],
            pa.timestamp("us"),
        ),
        "store_and_fwd_flag": pa.array(["N"] * n, pa.large_string() if schema == "B" else pa.string()),
        "RatecodeID": pa.array([1] * n, codes),
        "PULocationID": pa.array([row[2] for row in trips], ids),
        "DOLocationID": pa.array([row[3] for row in trips], ids),
        "passenger_count": pa.array([1] * n, codes),
        "trip_distance": pa.array([row[4] for row in trips], pa.float64()),
        "fare_amount": pa.array([10.0] * n, pa.float64()),
        "ehail_fee": pa.array([None] * n, pa.float64() if schema == "B" else pa.null()),
    }
    if schema == "yellow":
        del columns["ehail_fee"]
        columns["airport_fee"] = pa.array([0.0] * n, pa.float64())
    return pa.table(columns)


def write_month(path: Path, trips: list[tuple], schema: str = "A") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(tlc_table(trips, schema), path)
    return path


def at(day: int, hour: int = 8, month: int = 1, year: int = 2021) -> datetime:
    return datetime(year, month, day, hour)


def make_project(dest: Path, months: list[str]) -> Path:
    """A fresh git + DVC repo holding this project's pipeline and `months` from the mirror."""
    files = [mirror_dir() / tlc_file(month) for month in months]
    return copy_project(dest, files, remote=dest.parent / "remote")


def working_tree(dest: Path) -> Path:
    """This repository's files as they are now (tracked or new, not ignored), committed in a new repo."""
    listed = sh("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():  # not deleted
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    sh("git", "init", "-q", "-b", "main", cwd=dest)
    sh("git", "add", "-A", cwd=dest)
    sh("git", "commit", "-qm", "working tree", cwd=dest)
    return dest


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project on the course months after one `dvc repro`, committed on main: built once, and
    never changed; a test or module works on its own copy (`copy_of`)."""
    project = make_project(tmp_path_factory.mktemp("reproduced") / "project", ["2021-01", "2021-02"])
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    return project


def copy_of(project: Path, dest: Path) -> Path:
    """A private copy of `project` at `dest` (git history, DVC cache and run-cache included), whose
    DVC remote is its own folder beside it, `dest.parent / "remote"`, as make_project's is."""
    shutil.copytree(project, dest, symlinks=True)
    sh("dvc", "remote", "modify", "--local", "local", "url", str(dest.parent / "remote"), cwd=dest)
    return dest


def call_main(
    main: Callable[[list[str] | None], None], argv: list[str], capsys: pytest.CaptureFixture
) -> tuple:
    """A command's main() in process, as its console script runs it: (exit code, stdout, stderr)."""
    from trip_duration.errors import run

    try:
        run(main, argv)
        code = 0
    except SystemExit as exited:
        code = exited.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def story(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The closed loop's story (tests/e2e/loop.py), told once for every test that reads it."""
    from tests.e2e.loop import tell_story

    return tell_story(tmp_path_factory.mktemp("loop"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups for pytest-xdist's `--dist loadgroup` (pyproject.toml's addopts): a module's tests share
    a worker, so each module fixture is built once, and so do all the tests that read the loop's
    story, which go first: the longest group starts at once while the other workers share the rest."""
    for item in items:
        group = "story" if "story" in getattr(item, "fixturenames", ()) else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: "story" not in getattr(item, "fixturenames", ()))  # stable: order kept
