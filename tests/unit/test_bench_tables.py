"""The benchmark's correctness (never its timings): resampled months and the table, from hand-made numbers.

On the real months (built months, the course baseline, a whole small run): tests/e2e/test_bench.py.
"""

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from conftest import at, tlc_table, write_month

from bench.make_months import (
    load_pool,
    move_into_month,
    resample_month,
)
from bench.report import (
    DaskRun,
    Result,
    StageTime,
    check_targets,
    dask_targets,
    format_breakdown,
    format_cpu,
    format_dask,
    format_table,
    format_targets,
)

US = np.timedelta64(1, "us")
MINUTE = 60_000_000 * US

# (pickup, minutes, PU, DO, distance): distance is unique, so each output row names its source row.
SOURCE_TRIPS = [
    (at(15, 8), 20, 74, 75, 1.0),  # mid-month: keeps its day and time
    (at(1, 0), 1, 1, 2, 2.0),  # first minute of the month
    (at(31, 23) + timedelta(minutes=50), 30, 3, 4, 3.0),  # would end after the month
    (datetime(2009, 1, 1, 0, 3), 12, 5, 6, 4.0),  # TLC's stray pickups outside the month
    (at(10, 12), -5, 7, 8, 5.0),  # dropoff before pickup
    (at(20, 9), 23 * 60, 9, 10, 6.0),  # most of a day
]


@pytest.fixture
def pool(tmp_path: Path):
    return load_pool([write_month(tmp_path / "green_tripdata_2021-01.parquet", SOURCE_TRIPS)])


def test_move_into_month_keeps_durations_and_in_month_offsets() -> None:
    start = np.datetime64("2099-02-01T00:00", "us")
    offset = np.array([14 * 24 * 60, 30 * 24 * 60 + 23 * 60 + 50, 10]) * MINUTE
    duration = np.array([20, 30, -5]) * MINUTE
    pickup, dropoff = move_into_month(offset, duration, "2099-02")
    assert pickup[0] == np.datetime64("2099-02-15T00:00", "us")  # Jan 15 -> Feb 15
    assert list(dropoff - pickup) == list(duration)
    assert (np.minimum(pickup, dropoff) >= start).all()
    assert (np.maximum(pickup, dropoff) < np.datetime64("2099-03-01T00:00", "us")).all()


def test_a_trip_longer_than_the_month_is_refused() -> None:
    with pytest.raises(ValueError, match="longer than 2099-02"):
        move_into_month(np.array([0]) * MINUTE, np.array([29 * 24 * 60]) * MINUTE, "2099-02")


def test_resample_gives_the_rows_asked_for_in_the_tlc_schema_inside_the_month(pool) -> None:
    month = resample_month(pool, 1_000, "2099-02", seed=3)
    assert month.num_rows == 1_000
    assert month.schema.equals(tlc_table(SOURCE_TRIPS).schema)
    pickup = month["lpep_pickup_datetime"].to_numpy()
    dropoff = month["lpep_dropoff_datetime"].to_numpy()
    start, end = np.datetime64("2099-02-01", "us"), np.datetime64("2099-03-01", "us")
    assert (pickup >= start).all() and (pickup < end).all()
    assert (dropoff >= start).all() and (dropoff < end).all()
    minutes = {trip[4]: trip[1] for trip in SOURCE_TRIPS}
    distance = month["trip_distance"].to_numpy()
    assert list((dropoff - pickup) / MINUTE) == [minutes[d] for d in distance]
    assert set(distance) == set(minutes)  # 1,000 draws from 6 rows reach every row
    mid_month = pickup[distance == 1.0]
    assert (mid_month == np.datetime64("2099-02-15T08:00", "us")).all()


def test_resample_is_seeded(pool) -> None:
    assert resample_month(pool, 50, "2099-02", seed=1).equals(resample_month(pool, 50, "2099-02", seed=1))
    assert not resample_month(pool, 50, "2099-02", seed=1).equals(resample_month(pool, 50, "2099-02", seed=2))


COURSE = Result("course method, 3M month", 3_000_000, 40.0, 2_400.0, 7.1234)
VECTORISED = Result("course method, vectorised duration, 3M month", 3_000_000, 30.0, 2_000.0, 7.1234, COURSE)
REPRO = Result(
    "dvc repro from scratch, 3M month", 3_000_000, 5.0, 1_000.0, 7.12341, COURSE, vectorised=VECTORISED
)
MONTHS_COURSE = Result("course method, 2021-01 / 2021-02", 76_518, 2.0, 300.0, 7.7587)
NOOP = Result("no-op dvc repro, course months", 76_518, 1.6, 60.0, 7.7587, MONTHS_COURSE, cpu_s=1.3)


def test_table_has_one_line_per_case_with_ratios_against_the_course() -> None:
    assert format_table([COURSE, REPRO, NOOP]).splitlines() == [
        "| case | rows | wall s | peak RSS MB | val RMSE | speed-up vs course | memory ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
        "| course method, 3M month | 3,000,000 | 40.00 | 2,400 | 7.1234 | — | — |",
        "| dvc repro from scratch, 3M month | 3,000,000 | 5.00 | 1,000 | 7.1234 | 8.00x | 0.42x |",
        "| no-op dvc repro, course months | 76,518 | 1.60 | 60 | 7.7587 | 1.25x | 0.20x |",
    ]


def test_cpu_seconds_are_listed_where_measured() -> None:
    assert format_cpu([COURSE, NOOP]) == "- no-op dvc repro, course months: 1.3 CPU s"


def test_breakdown_gives_dvc_the_rest_and_splits_each_stage_at_its_start_up() -> None:
    stages = [StageTime("prepare", 1.25, 0.25), StageTime("train", 2.5, 1.5)]
    assert format_breakdown(REPRO, stages).splitlines() == [
        "Where the dvc repro from scratch, 3M month's 5.00 s go (each stage's command timed alone):",
        "",
        "| part | wall s |",
        "|---|---:|",
        "| DVC itself (the rest of the repro) | 1.25 |",
        "| prepare: start-up and imports | 0.25 |",
        "| prepare: work | 1.00 |",
        "| train: start-up and imports | 1.50 |",
        "| train: work | 1.00 |",
        "",
        "DVC and the stages' start-ups: 3.00 s of the 5x target's 6.00 s, leaving 3.00 s for the work,"
        " which took 2.00 s",
    ]
    no_baseline = dataclasses.replace(REPRO, vectorised=None)
    assert format_breakdown(no_baseline, stages).splitlines()[-1] == "| train: work | 1.00 |"


def test_targets_pass_and_fail_on_hand_made_numbers() -> None:
    year = Result("dvc repro from scratch, year (12 x 3M)", 36_000_000, 70.0, 30_000.0, 7.0)
    in_memory = Result("the same model fitted in memory, year", 36_000_000, 90.0, 5_000.0, 7.00002)
    decade = Result("dvc repro from scratch, decade (120 x 3M)", 360_000_000, 910.0, 8_200.0, 6.9)
    params = Result("params-only change", 76_518, 2.5, 300.0, 13.9, MONTHS_COURSE)
    measured = {"big": REPRO, "year": year, "year_memory": in_memory, "decade": decade}
    targets = check_targets({**measured, "months_noop": NOOP, "months_params": params})
    assert format_targets(targets).splitlines() == [
        "PASS  3M dvc repro >= 5x faster than the vectorised course method: 6.00x",
        "FAIL  3M dvc repro >= 8x faster (stretch): 6.00x",
        "PASS  3M dvc repro <= half its peak memory: 0.50x",
        "PASS  3M val RMSE equal to the course method's within 0.001: 0.0000",
        "FAIL  year peak memory under 24 GB: 29.3 GB",
        "PASS  year: streaming fit's val RMSE equal to the in-memory fit's within 1e-4: 2.0e-05",
        "FAIL  decade peak memory under 8 GB: 8.01 GB",
        "PASS  decade time per training row <= 1.3x the year's: 1.30x",
        "FAIL  course months: params-only change <= the course method's full run: 2.50 s vs 2.00 s",
        "FAIL  course months: no-op dvc repro < 1.5 s: 1.60 s",
    ]


def test_dask_rows_sit_beside_the_local_ones_with_their_targets() -> None:
    year = Result("year", 36_000_000, 70.0, 3_000.0, 7.0)
    decade = Result("decade", 360_000_000, 240.0, 2_300.0, 6.9)
    results = {
        "year": year,
        "year_dask": dataclasses.replace(year, wall_s=91.0, rmse=7.0 * (1 + 2e-9)),
        "decade": decade,
        "decade_dask": dataclasses.replace(decade, wall_s=300.0, rmse=6.9 * (1 + 1e-12)),
    }
    dask = {
        "year": DaskRun({"prepare": 2.0, "train": 1.5}, 500.0, [900.0, 910.0]),
        "decade": DaskRun({"prepare": 2.1, "train": 1.4}, 620.0, [950.0, 960.0]),
    }
    assert format_dask(results, dask).splitlines()[2:] == [
        "| case | local s | dask s | ratio | cluster start-up s | client MB | workers MB | RMSE rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        "| year | 70.00 | 91.00 | 1.30x | prepare 2.00, train 1.50 | 500 | 900, 910 | 2.0e-09 |",
        "| decade | 240.00 | 300.00 | 1.25x | prepare 2.10, train 1.40 | 620 | 950, 960 | 1.0e-12 |",
    ]
    assert format_targets(dask_targets(results, dask)).splitlines() == [
        "PASS  year on Dask <= 1.3x the local repro's time: 1.30x",
        "FAIL  year on Dask: val RMSE equal to the local one's within 1e-09 relative: 2.0e-09",
        "PASS  decade on Dask <= 1.3x the local repro's time: 1.25x",
        "PASS  decade on Dask: val RMSE equal to the local one's within 1e-09 relative: 1.0e-12",
        "FAIL  Dask client's peak memory flat from the year to the decade (<= 1.2x): 1.24x",
    ]


def test_targets_only_cover_measured_cases() -> None:
    assert check_targets({}) == []
    names = [target.name for target in check_targets({"months_noop": NOOP})]
    assert names == ["course months: no-op dvc repro < 1.5 s"]


@pytest.mark.parametrize(
    ("wall_s", "peak_mb", "passed"),
    [(59.9, 4095.0, True), (60.0, 1000.0, False), (10.0, 4096.0, False)],
)
def test_monitoring_a_big_month_passes_under_60_s_and_4_gb(
    wall_s: float, peak_mb: float, passed: bool
) -> None:
    monitor = Result("trip-duration monitor, one 3M month", 3_000_000, wall_s, peak_mb, 7.1)
    [target] = check_targets({"monitor": monitor})
    assert (target.name, target.passed) == ("monitoring one 3M month under 60 s and 4 GB", passed)


def test_a_dask_repro_is_read_from_its_stages_lines() -> None:
    from bench.run import dask_run

    stdout = (
        "Running stage 'prepare':\n"
        "prepare: a task per month on the Dask cluster at tcp://127.0.0.1:1 (2 workers, ready in 3.17 s)\n"
        "train: a task per row group on the Dask cluster at tcp://127.0.0.1:2 (2 workers, ready in 7.81 s)\n"
        "train: peak memory: client 1,257 MB, workers 256, 1,256 MB\n"
    )
    assert dask_run(stdout) == DaskRun({"prepare": 3.17, "train": 7.81}, 1257.0, [256.0, 1256.0])
