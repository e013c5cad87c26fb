"""stages.prepare and trip_duration.tlc: both TLC schemas, the duration filter, bad-input errors."""

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import at, tlc_table, write_month

from stages.prepare import main
from trip_duration.errors import InputError, run
from trip_duration.tlc import file_name, from_numpy, month_file, months_in, read_trips, to_numpy
from trip_duration.trips import prepare, read_window

# Boundaries of the default 1..60 minute window: 0.5 and 61 go, 1 and 60 stay.
BOUNDARY_TRIPS = [
    (at(3), 0.5, 1, 2, 0.1),
    (at(3), 1.0, 3, 4, 0.3),
    (at(4), 60.0, 5, 6, 12.5),
    (at(4), 61.0, 7, 8, 13.0),
]
WINDOW = dict(min_minutes=1, max_minutes=60, drop_outside_month=False)


@pytest.mark.parametrize("schema", ["A", "B", "yellow"])
def test_read_trips_gives_one_narrow_frame_for_every_schema(tmp_path: Path, schema: str) -> None:
    path = write_month(tmp_path / "m.parquet", BOUNDARY_TRIPS[:2], schema)
    trips = read_trips(path).to_pandas()
    expected = pd.DataFrame(
        {
            "pickup_datetime": pd.to_datetime([at(3), at(3)]).astype("datetime64[us]"),
            "dropoff_datetime": pd.to_datetime(
                [datetime(2021, 1, 3, 8, 0, 30), datetime(2021, 1, 3, 8, 1)]
            ).astype("datetime64[us]"),
            "PULocationID": pd.Series([1, 3], dtype="int16"),
            "DOLocationID": pd.Series([2, 4], dtype="int16"),
            "trip_distance": [0.1, 0.3],
        }
    )
    pd.testing.assert_frame_equal(trips, expected)


def test_prepare_keeps_durations_within_bounds_inclusive(tmp_path: Path) -> None:
    trips = read_trips(write_month(tmp_path / "m.parquet", BOUNDARY_TRIPS))
    prepared = prepare(trips, min_minutes=1, max_minutes=60)
    assert prepared["duration"].to_pylist() == [1.0, 60.0]
    assert prepared["PULocationID"].to_pylist() == [3, 5]
    assert prepared.column_names == [
        "pickup_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
        "duration",
    ]


def test_prepare_drops_pickups_outside_the_month_only_when_asked(tmp_path: Path) -> None:
    rows = [
        (datetime(2009, 1, 1, 0, 3), 10, 1, 2, 1.0),
        (datetime(2020, 12, 31, 23, 59), 10, 1, 2, 1.0),
        (datetime(2021, 1, 1, 0, 0), 10, 1, 2, 1.0),
        (datetime(2021, 1, 31, 23, 59), 10, 1, 2, 1.0),
        (datetime(2021, 2, 1, 0, 0), 10, 1, 2, 1.0),
    ]
    trips = read_trips(write_month(tmp_path / "m.parquet", rows))
    assert prepare(trips, 1, 60).num_rows == 5
    kept = prepare(trips, 1, 60, month="2021-01")["pickup_datetime"]
    assert kept.to_pylist() == [datetime(2021, 1, 1, 0, 0), datetime(2021, 1, 31, 23, 59)]


def test_prepare_drops_trips_without_a_pickup_or_dropoff_time(tmp_path: Path) -> None:
    rows = [(at(3, hour), 10, 1, 2, 1.0) for hour in (8, 9, 10, 11)]
    table = tlc_table(rows)
    pickups = [None, at(3, 9), None, at(3, 11)]
    dropoffs = [at(3, 8).replace(minute=10), None, None, at(3, 11).replace(minute=10)]
    for name, times in (("lpep_pickup_datetime", pickups), ("lpep_dropoff_datetime", dropoffs)):
        table = table.set_column(
            table.schema.get_field_index(name), name, pa.array(times, pa.timestamp("us"))
        )
    pq.write_table(table, tmp_path / "m.parquet")
    trips = read_trips(tmp_path / "m.parquet")
    assert prepare(trips, 0, 60)["pickup_datetime"].to_pylist() == [at(3, 11)]
    assert prepare(trips, 0, 60)["duration"].to_pylist() == [10.0]


def test_windows_concatenate_months_of_different_schemas(tmp_path: Path) -> None:
    write_month(month_file(tmp_path, "green", "2023-01"), BOUNDARY_TRIPS, "A")
    write_month(month_file(tmp_path, "green", "2023-02"), BOUNDARY_TRIPS, "B")
    write_month(month_file(tmp_path, "green", "2023-03"), BOUNDARY_TRIPS[1:3], "B")
    (tmp_path / "params.yaml").write_text(
        "data: {name: t, taxi: green, train_months: ['2023-01', '2023-02'], val_months: ['2023-03'],"
        " min_minutes: 1, max_minutes: 60, drop_outside_month: false}\n"
    )
    main(_argv(tmp_path))
    train, val = (pq.read_table(tmp_path / "out" / name) for name in ("train.parquet", "val.parquet"))
    assert (train.num_rows, val.num_rows) == (4, 2)
    assert train.schema == val.schema
    assert train.schema.field("PULocationID").type == pa.int16()


def test_empty_window_is_an_error() -> None:
    with pytest.raises(InputError) as caught:
        read_window("data", "green", [], **WINDOW)
    assert str(caught.value) == "params.yaml: a data window lists no months"


def _error(tmp_path: Path, month_bytes: bytes | None = None, table: pa.Table | None = None) -> str:
    path = month_file(tmp_path, "green", "2021-01")
    if table is not None:
        pq.write_table(table, path)
    elif month_bytes is not None:
        path.write_bytes(month_bytes)
    with pytest.raises(InputError) as caught:
        read_window(tmp_path, "green", ["2021-01"], **WINDOW)
    assert caught.value.path == str(path)
    return caught.value.problem


def test_missing_month_names_the_file_and_the_fix(tmp_path: Path) -> None:
    assert _error(tmp_path) == "is missing (fetch it: trip-duration fetch YYYY-MM)"


def test_truncated_or_foreign_file_is_not_readable_parquet(tmp_path: Path) -> None:
    whole = write_month(tmp_path / "whole.parquet", BOUNDARY_TRIPS).read_bytes()
    assert _error(tmp_path, month_bytes=whole[: len(whole) // 2]).startswith("is not a readable parquet file")
    assert _error(tmp_path, month_bytes=b"VendorID,lpep_pickup_datetime\n1,2\n").startswith(
        "is not a readable parquet file"
    )


def test_missing_column_and_wrong_type_are_named(tmp_path: Path) -> None:
    table = tlc_table(BOUNDARY_TRIPS)
    assert _error(tmp_path, table=table.drop_columns(["trip_distance"])) == "lacks column trip_distance"
    assert _error(tmp_path, table=table.drop_columns(["lpep_pickup_datetime"])) == (
        "lacks a pickup time column (lpep_pickup_datetime or tpep_pickup_datetime)"
    )
    as_text = table.set_column(
        table.schema.get_field_index("PULocationID"), "PULocationID", table["PULocationID"].cast(pa.string())
    )
    assert _error(tmp_path, table=as_text) == "column PULocationID has type string, expected an integer"


def test_zone_out_of_range_is_named(tmp_path: Path) -> None:
    problem = _error(tmp_path, table=tlc_table([(at(3), 5.0, 70_000, 2, 1.0)]))
    assert problem.startswith("has values out of range (")


def test_month_keeping_no_trips_is_an_error(tmp_path: Path) -> None:
    too_short = [(at(3), 0.5, 1, 2, 0.1)]
    problem = _error(tmp_path, table=tlc_table(too_short))
    assert problem == "keeps no trips after filtering to 1..60 minutes"


def test_bad_month_string_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a month in the form YYYY-MM"):
        month_file(tmp_path, "green", "2021-13")


def test_file_names_and_their_months() -> None:
    assert file_name("yellow", "2024-02") == "yellow_tripdata_2024-02.parquet"
    assert month_file("data", "green", "2021-01") == Path("data/green_tripdata_2021-01.parquet")
    names = [
        "green_tripdata_2021-02.parquet",
        "green_tripdata_2021-01.parquet",
        "yellow_tripdata_2021-01.parquet",
    ]
    assert months_in([*names, "notes.txt", "zones_2021-13.csv"]) == ["2021-01", "2021-02"]


def _argv(tmp_path: Path) -> list[str]:
    out, params = tmp_path / "out", tmp_path / "params.yaml"
    train, val = out / "train.parquet", out / "val.parquet"
    return ["--data-dir", str(tmp_path), "--train", str(train), "--val", str(val), "--params", str(params)]


def _prepare_cli(tmp_path: Path, params: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`python -m stages.prepare` in-process: (exit code, stderr)."""
    (tmp_path / "params.yaml").write_text(params)
    with pytest.raises(SystemExit) as exited:
        run(main, _argv(tmp_path))
    return exited.value.code, capsys.readouterr().err


def test_cli_reports_one_line_and_writes_nothing_on_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_month(month_file(tmp_path, "green", "2021-01"), BOUNDARY_TRIPS)
    params = (
        "data: {name: t, taxi: green, train_months: ['2021-01'], val_months: ['2021-02'],"
        " min_minutes: 1, max_minutes: 60, drop_outside_month: false}\n"
    )
    code, stderr = _prepare_cli(tmp_path, params, capsys)
    assert code == 1
    missing = month_file(tmp_path, "green", "2021-02")
    assert stderr == f"error: {missing}: is missing (fetch it: trip-duration fetch YYYY-MM)\n"
    assert not (tmp_path / "out").exists()


def test_cli_rejects_an_unknown_parameter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    params = (
        "data: {name: t, taxi: green, colour: red, train_months: ['2021-01'], val_months: ['2021-02'],"
        " min_minutes: 1, max_minutes: 60, drop_outside_month: false}\n"
    )
    code, stderr = _prepare_cli(tmp_path, params, capsys)
    assert code == 1
    assert stderr == (
        f"error: {tmp_path / 'params.yaml'}: data.colour: unknown key; data takes name, taxi,"
        " train_months, val_months, min_minutes, max_minutes, drop_outside_month\n"
    )


def test_cli_needs_a_readable_params_file_with_a_data_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = tmp_path / "params.yaml"
    code, stderr = _prepare_cli(tmp_path, "model: {name: linear}\n", capsys)
    assert (code, stderr) == (1, f"error: {params}: data: missing\n")
    code, stderr = _prepare_cli(tmp_path, "data: [unclosed\n", capsys)
    assert code == 1 and stderr.startswith(f"error: {params}: cannot read parameters (while parsing")
    assert stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_cli_writes_both_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_month(month_file(tmp_path, "green", "2021-01"), BOUNDARY_TRIPS)
    write_month(month_file(tmp_path, "green", "2021-02"), BOUNDARY_TRIPS[1:2], "B")
    (tmp_path / "params.yaml").write_text(
        "data: {name: t, taxi: green, train_months: ['2021-01'], val_months: ['2021-02'],"
        " min_minutes: 1, max_minutes: 60, drop_outside_month: false}\n"
    )
    main(_argv(tmp_path))
    assert capsys.readouterr().out == "prepare: 2 training trips, 1 validation trips\n"
    assert pq.read_table(tmp_path / "out/train.parquet")["duration"].to_pylist() == [1.0, 60.0]
    assert pq.read_table(tmp_path / "out/val.parquet")["duration"].to_pylist() == [1.0]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["train.parquet", "val.parquet"]


def test_arrow_columns_reach_numpy_and_back_unchanged() -> None:
    chunks = pa.chunked_array([pa.array([1, 2, 3], pa.int16()), pa.array([4, 5], pa.int16())])
    assert to_numpy(chunks).tolist() == [1, 2, 3, 4, 5]
    assert to_numpy(chunks.combine_chunks().slice(2)).tolist() == [3, 4, 5]  # an offset into the buffer
    stamps = pa.array([datetime(2021, 1, 1, 8), datetime(2021, 1, 2)], pa.timestamp("ns"))
    assert to_numpy(stamps).dtype == np.dtype("datetime64[us]")
    assert from_numpy(to_numpy(stamps)).to_pylist() == [datetime(2021, 1, 1, 8), datetime(2021, 1, 2)]
    with_nulls = to_numpy(pa.array([1.5, None]))
    assert with_nulls[0] == 1.5 and np.isnan(with_nulls[1])
    assert from_numpy(np.array([0.25, 2.0])).to_pylist() == [0.25, 2.0]
    missing = to_numpy(pa.array([datetime(2021, 1, 1, 8), None], pa.timestamp("us")))
    assert (missing.dtype, missing.tolist()) == (np.dtype("datetime64[us]"), [datetime(2021, 1, 1, 8), None])
    unsigned = to_numpy(pa.array([1, 65535], pa.uint16()))
    assert (unsigned.dtype, unsigned.tolist()) == (np.dtype("uint16"), [1, 65535])
