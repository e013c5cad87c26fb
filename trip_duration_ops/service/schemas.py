"""What clients send and get back: one trip or a list of trips, validated by pydantic."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# TLC taxi zones are 1..265 (264 and 265 are "Unknown"); anything else is not a zone.
ZONE = Field(ge=1, le=265, strict=True)
# Miles. The longest trips in the TLC months are well under this; more is a meter or typing error.
MAX_MILES = 200.0
MAX_BATCH = 10_000


class Trip(BaseModel):
    """The raw trip columns the model reads; the pickup time only matters to time features."""

    model_config = ConfigDict(extra="forbid")

    PULocationID: int = ZONE
    DOLocationID: int = ZONE
    trip_distance: float = Field(ge=0.0, le=MAX_MILES, allow_inf_nan=False)
    pickup_datetime: datetime | None = None


class Prediction(BaseModel):
    """Minutes, and which model said so."""

    duration: float
    model: str
    version: str
