"""What clients send and get back: one trip or a list of trips, validated by pydantic; the error bodies."""

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetPydanticSchema, WithJsonSchema
from pydantic_core import core_schema

# TLC records pickups in New York wall-clock time, and the time features were learnt on it.
NEW_YORK = ZoneInfo("America/New_York")
# Miles. The longest trips in the TLC months are well under this; more is a meter or typing error.
MAX_MILES = 200.0
MAX_BATCH = 10_000
# ISO 8601 date and time, the offset optional: what the JSON Schema's `date-time` promises, plus
# the naive form TLC writes. pydantic alone also takes numbers and digit strings as Unix times.
ISO_8601 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:?[0-9]{2})?$"
)
NOT_ISO_8601 = (
    "Input should be an ISO 8601 date and time: 2021-03-01T08:00:00 (New York) or 2021-03-01T13:00:00Z"
)


def whole_number(value: Any) -> Any:
    """25.0 is the integer 25 to JSON Schema; 25.5, "25" and true stay refused (the field is strict)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def new_york_time(moment: datetime) -> datetime | np.datetime64:
    """A time as TLC records it: New York wall-clock time, without a zone; a naive time is one already.

    An offset is converted by the zone's rules, daylight saving included. Where New York's time is
    no Python datetime, within a day of 0001-01-01 or 9999-12-31 (0001-01-01T00:00Z is
    0000-12-31T19:03:58 there, mean solar time), it is numpy's datetime64, which
    deployment.columns() takes alike; numpy adds the offsets, as no rule changes near those dates.
    """
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(NEW_YORK).replace(tzinfo=None)
    except OverflowError:
        new_york, own = NEW_YORK.utcoffset(moment.replace(tzinfo=None)), moment.utcoffset()
        assert new_york is not None and own is not None  # a ZoneInfo and an aware time both have one
        shift = new_york - own
        return np.datetime64(moment.replace(tzinfo=None), "us") + np.timedelta64(shift, "us")


# TLC taxi zones are 1..265 (264 and 265 are "Unknown"); anything else is not a zone.
Zone = Annotated[int, Field(ge=1, le=265, strict=True), BeforeValidator(whole_number)]


def pickup_schema(_source: Any, _handler: Any) -> core_schema.CoreSchema:
    """ISO 8601 checked and parsed by pydantic-core, then new_york_time: one Python call a trip."""
    parsed = core_schema.chain_schema(
        [core_schema.str_schema(pattern=ISO_8601), core_schema.datetime_schema()]
    )
    return core_schema.chain_schema(
        [
            core_schema.custom_error_schema(
                parsed, custom_error_type="datetime_iso8601", custom_error_message=NOT_ISO_8601
            ),
            core_schema.no_info_plain_validator_function(new_york_time),
        ]
    )


PickupTime = Annotated[
    datetime, GetPydanticSchema(pickup_schema), WithJsonSchema({"type": "string", "format": "date-time"})
]


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
