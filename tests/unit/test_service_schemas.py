"""trip_duration_ops.service.schemas: what a trip may say, and the New York time its pickup becomes."""

import json
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from trip_duration_ops.service.schemas import Trip

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}


def pickup(value: Any) -> datetime | np.datetime64 | None:
    return Trip.model_validate_json(json.dumps({**TRIP, "pickup_datetime": value})).pickup_datetime


def refused(trip: dict[str, Any]) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as error:
        Trip.model_validate_json(json.dumps(trip))
    return [(e["loc"], e["type"]) for e in error.value.errors()]


@pytest.mark.parametrize(
    ("sent", "new_york"),
    [
        ("2021-03-01T08:00:00", "2021-03-01T08:00:00"),  # naive: New York time already, as TLC writes it
        ("2021-03-01 08:00", "2021-03-01T08:00:00"),
        ("2021-03-01T08:00:00-05:00", "2021-03-01T08:00:00"),  # winter: EST
        ("2021-03-01T13:00:00Z", "2021-03-01T08:00:00"),
        ("2021-07-01T13:00:00Z", "2021-07-01T09:00:00"),  # summer: EDT
        ("2021-07-01T09:00:00-04:00", "2021-07-01T09:00:00"),
        ("2021-07-01T22:00:00+09:00", "2021-07-01T09:00:00"),
        ("2021-03-14T06:59:59.5Z", "2021-03-14T01:59:59.5"),  # the last second of EST in 2021
        ("2021-03-14T07:00:00Z", "2021-03-14T03:00:00"),  # 02:00 EST is 03:00 EDT
        ("2021-11-07T05:30:00Z", "2021-11-07T01:30:00"),  # 01:30 EDT ...
        ("2021-11-07T06:30:00Z", "2021-11-07T01:30:00"),  # ... and an hour later, 01:30 EST
        ("2021-03-01T13:00:00.123456z", "2021-03-01T08:00:00.123456"),
        # The calendar's ends: New York's time there is no Python datetime, but is one to numpy.
        ("0001-01-01T00:00:00Z", "0000-12-31T19:03:58"),  # New York's mean solar time, before 1883
        ("9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00"),
        ("9999-12-31T23:30:00-23:59", "10000-01-01T18:29:00"),
    ],
)
def test_a_pickup_becomes_new_york_wall_clock_time(sent: str, new_york: str) -> None:
    got = pickup(sent)
    assert np.datetime64(got, "us") == np.datetime64(new_york, "us")
    if sent.startswith(("0001-", "9999-")):  # beyond Python's calendar once in UTC: numpy's
        assert isinstance(got, np.datetime64)
    else:
        assert isinstance(got, datetime) and got.tzinfo is None


def test_no_pickup_is_none() -> None:
    assert pickup(None) is None
    assert Trip.model_validate_json(json.dumps(TRIP)).pickup_datetime is None


@pytest.mark.parametrize(
    "sent",
    [0, 1614585600, 1.5, True, "0", "1614585600", "2021-03-01", "20210301T080000", "yesterday",
     "2021-03-01T08:00:00+05", "2021-02-30T08:00:00", "2021-03-01T24:00:00"],
)  # fmt: skip
def test_a_pickup_is_an_iso_8601_string(sent: Any) -> None:
    assert [loc for loc, _ in refused({**TRIP, "pickup_datetime": sent})] == [("pickup_datetime",)]


def test_a_zone_is_an_integer_as_json_schema_counts_them() -> None:
    trip = Trip.model_validate_json('{"PULocationID": 25.0, "DOLocationID": 265.0, "trip_distance": 1}')
    assert (trip.PULocationID, trip.DOLocationID) == (25, 265)
    assert type(trip.PULocationID) is int
    for zone in (25.5, "25", True, 0, 266, 0.0, 266.0, 1e300):
        assert [loc for loc, _ in refused({**TRIP, "PULocationID": zone})] == [("PULocationID",)]


def test_a_distance_is_a_number() -> None:
    trip = Trip.model_validate_json('{"PULocationID": 1, "DOLocationID": 1, "trip_distance": 0}')
    assert trip.trip_distance == 0.0 and type(trip.trip_distance) is float
    for distance in ("1.2", True, -0.001, 200.001):
        assert [loc for loc, _ in refused({**TRIP, "trip_distance": distance})] == [("trip_distance",)]
