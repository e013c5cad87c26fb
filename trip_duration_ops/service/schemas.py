"""What clients send and get back: one trip or a list of trips, validated by pydantic; the error bodies."""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

# TLC records pickups in New York wall-clock time, and the time features were learnt on it.
NEW_YORK = ZoneInfo("America/New_York")
# Miles. The longest trips in the TLC months are well under this; more is a meter or typing error.
MAX_MILES = 200.0
MAX_BATCH = 10_000
# ISO 8601 date and time, the offset optional: what the JSON Schema's `date-time` promises, plus
# the naive form TLC writes. pydantic alone also takes numbers and digit strings as Unix times.
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")


def whole_number(value: Any) -> Any:
    """25.0 is the integer 25 to JSON Schema; 25.5, "25" and true stay refused (the field is strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def iso_8601(value: Any) -> Any:
    if not isinstance(value, str) or not ISO_8601.fullmatch(value):
        raise PydanticCustomError(
            "datetime_iso8601",
            "Input should be an ISO 8601 date and time, as 2021-03-01T08:00:00 (New York time) "
            "or 2021-03-01T13:00:00Z",
        )
    return value


def new_york_time(moment: datetime) -> np.datetime64:
    """A time as TLC records it and the model's columns take it: New York wall-clock time, naive.

    A naive time is one already; an offset is converted by the zone's rules, daylight saving
    included. Where that time is not a Python datetime, within a day of 0001-01-01 or 9999-12-31
    (0001-01-01T00:00Z is 0000-12-31T19:03:58, New York's mean solar time then), numpy adds the
    offsets: no rule changes there.
    """
    wall = np.datetime64(moment.replace(tzinfo=None), "us")
    if moment.tzinfo is None:
        return wall
    try:
        return np.datetime64(moment.astimezone(NEW_YORK).replace(tzinfo=None), "us")
    except OverflowError:
        shift = NEW_YORK.utcoffset(moment.replace(tzinfo=None)) - moment.utcoffset()
        return wall + np.timedelta64(shift, "us")


# TLC taxi zones are 1..265 (264 and 265 are "Unknown"); anything else is not a zone.
Zone = Annotated[int, Field(ge=1, le=265, strict=True), BeforeValidator(whole_number)]
# Validated into numpy's datetime64[us], as deployment.columns() and the model take it.
PickupTime = Annotated[datetime, BeforeValidator(iso_8601), AfterValidator(new_york_time)]


class Trip(BaseModel):
    """The raw trip columns the model reads; the pickup time only matters to time features."""

    model_config = ConfigDict(extra="forbid")

    PULocationID: Zone
    DOLocationID: Zone
    trip_distance: float = Field(ge=0.0, le=MAX_MILES, allow_inf_nan=False, strict=True)
    pickup_datetime: PickupTime | None = Field(
        default=None,
        description="ISO 8601. With an offset it is converted to New York time; without one it is "
        "New York time, as TLC records it.",
    )


class Prediction(BaseModel):
    """Minutes, and which model said so."""

    duration: float
    model: str
    version: str


class FieldError(BaseModel):
    """One problem with a request: where (`["body", 0, "trip_distance"]`), what, and its kind."""

    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, Any] = Field(default_factory=dict, description="the limit or the parser's message")


class InvalidRequest(BaseModel):
    """422: the body is not JSON, not a trip or a list of trips, or too many trips."""

    detail: list[FieldError]


class TooLarge(BaseModel):
    """413: the request body is over the limit; nothing of it was scored."""

    detail: str
    max_bytes: int


class Ready(BaseModel):
    """The model serving."""

    ready: Literal[True]
    model: str
    version: str


class NotReady(BaseModel):
    """503: no model can answer, and why."""

    ready: Literal[False]
    detail: str
