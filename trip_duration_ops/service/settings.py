"""What the service serves and how often it looks for a new deployment, read from the environment.

    TRIP_DURATION_MODEL_DIR     a folder written by `trip-duration deploy`, polled for new versions
    TRIP_DURATION_MODEL         or a model file, served as it is
    TRIP_DURATION_POLL_SECONDS  how often the folder's manifest is checked (2)
    TRIP_DURATION_LOG_FORMAT    text (the default) or json: one object per line
    TRIP_DURATION_METRICS       false: no GET /metrics, nothing recorded (true)

The environment, because uvicorn's workers are processes that build the app themselves
(`trip-duration serve` sets these and checks them first). A bad value is one line naming the
variable, as the commands report their errors (trip_duration.errors).
"""

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from trip_duration.errors import InputError

PREFIX = "TRIP_DURATION_"
SOURCES = f"{PREFIX}MODEL_DIR, {PREFIX}MODEL"


class Settings(BaseSettings):
    """The service's settings: a deployment folder or a model file, the poll's interval, logs, metrics."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, frozen=True)

    model_dir: Path | None = None
    model: Path | None = None
    # Seconds. 0 would poll in a busy loop; the deploy's lead (5 s) covers a poll and a load.
    poll_seconds: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    log_format: Literal["text", "json"] = "text"
    metrics: bool = True

    @model_validator(mode="after")
    def one_source(self) -> "Settings":
        if self.model_dir is None and self.model is None:
            raise PydanticCustomError(
                "no_model", "neither is set: a folder written by trip-duration deploy, or a model file"
            )
        if self.model_dir is not None and self.model is not None:
            raise PydanticCustomError("two_models", "both are set: serve one of them")
        return self


def read_settings(**values: Any) -> Settings:
    """The settings from `values` over the environment; a bad one is an InputError naming its variable."""
    try:
        return Settings(**values)
    except ValidationError as error:
        (variable, problem), *others = [described(each) for each in error.errors(include_url=False)]
        raise InputError(variable, problem + "".join(f"; {name}: {text}" for name, text in others)) from None


def described(problem: ErrorDetails) -> tuple[str, str]:
    """A pydantic error as the variable it is about and what is wrong with its value."""
    if not problem["loc"]:  # the model validator: about both sources
        return SOURCES, problem["msg"]
    return f"{PREFIX}{str(problem['loc'][0]).upper()}", f"{problem['msg']} (got {problem['input']!r})"


def from_environment() -> Settings:
    """The environment's settings, for a process with no command to report to (a uvicorn worker):
    a bad value exits with the line `trip-duration serve` prints for it."""
    try:
        return read_settings()
    except InputError as error:
        raise SystemExit(f"error: {error}") from None
