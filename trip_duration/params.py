"""params.yaml's sections, each validated by its own schema: a bad key is one line naming file and key.

    data = read_section("params.yaml", "data")           # a Data: data.taxi, data.model_dump()
    data = parse_params(text, "params.yaml@1a2b3c4d").section("data")  # text read elsewhere

Types are exact (strict): a string is no number, `true` no integer, though `1` is a float. Fixed
sections refuse unknown keys; `model` passes its other keys to the estimator, which checks them
(trip_duration.model.make_regressor). conf/*/*.yaml says what each key means.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from trip_duration.errors import InputError
from trip_duration.features import CATEGORICAL, NUMERIC, Encoding
from trip_duration.tlc import MONTH

DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _month(value: str) -> str:
    if not MONTH.fullmatch(value):
        raise ValueError(f"expected a month YYYY-MM, like 2021-01, not {value!r}")
    return value


def _dotted(value: str) -> str:
    if not DOTTED.fullmatch(value):
        raise ValueError(f"expected a class's dotted path, like sklearn.linear_model.Ridge, not {value!r}")
    return value


def _one_of(known: tuple[str, ...]) -> AfterValidator:
    """A name from `known`, kept as read, not swapped for the constant as a Literal would: the model
    file pickles feature names, and which string object a name is changes its bytes (pickle's memo),
    so dvc.lock's md5 of the same model."""

    def check(name: str) -> str:
        if name not in known:
            raise ValueError(f"expected one of {', '.join(known)}, not {name!r}")
        return name

    return AfterValidator(check)


def _unique(values: list[Any]) -> list[Any]:
    twice = sorted({value for value in values if values.count(value) > 1})
    if twice:
        raise ValueError(f"lists {', '.join(map(str, twice))} more than once")
    return values


Month = Annotated[str, AfterValidator(_month)]
Months = Annotated[list[Month], Field(min_length=1), AfterValidator(_unique)]
MONTHS = TypeAdapter(Months)


def _later_or_months(value: Any) -> Any:
    """One error for a value neither `later` nor a list; a list's own errors name its items."""
    if value == "later":
        return value
    if not isinstance(value, list):
        raise ValueError(f"expected 'later' or a list of YYYY-MM months, not {value!r}")
    return MONTHS.validate_python(value, strict=True)


Seed = Annotated[int, Field(ge=0, lt=2**32)]  # what numpy's and scikit-learn's generators take
Percent = Annotated[float, Field(ge=0)]


class Section(BaseModel):
    """A section of params.yaml: exact types, no key but its own."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    name: str = Field(description="the conf/ option it comes from, as `dvc exp show` lists it")


class Data(Section):
    taxi: Literal["green", "yellow"] = Field(description="picks {taxi}_tripdata_YYYY-MM.parquet in data/")
    train_months: Months
    val_months: Months
    min_minutes: float = Field(ge=0, description="shorter trips are meter errors or cancellations")
    max_minutes: float = Field(description="longer ones are mostly meters left running")
    drop_outside_month: bool = Field(description="drop the pickups a month's file holds from others")

    @field_validator("max_minutes")
    @classmethod
    def _above_min(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("min_minutes")
        if low is not None and value <= low:
            raise ValueError(f"must be above min_minutes ({low:g}), not {value:g}")
        return value


class Features(Section):
    categorical: Annotated[list[Annotated[str, _one_of(CATEGORICAL)]], AfterValidator(_unique)]
    numeric: Annotated[list[Annotated[str, _one_of(NUMERIC)]], AfterValidator(_unique)]
    encoding: Encoding = Field(description="onehot: sparse, linear models; target: dense, trees")
    seed: Seed = Field(description="shuffles the cross-fitting folds of the target encoding")

    @model_validator(mode="after")
    def _some_feature(self) -> "Features":
        if not self.categorical and not self.numeric:
            raise ValueError("no features selected")
        return self


class Model(Section):
    """The estimator by dotted path; every other key is one of its hyperparameters."""

    model_config = ConfigDict(extra="allow")

    estimator: Annotated[str, AfterValidator(_dotted)] = Field(description="a regressor class's import path")


class Training(Section):
    max_rows: int = Field(ge=1, description="past this, a model that cannot stream fits on a sample")
    seed: Seed = Field(description="draws that sample")


class Evaluate(Section):
    plot_points: int = Field(ge=0, description="predicted-vs-actual points kept for the scatter plot")
    residual_bin: float = Field(gt=0, description="minutes per residual histogram bar")
    seed: Seed = Field(description="picks the plotted points")


class Report(Section):
    max_rmse_increase_pct: Percent = Field(description="how much worse RMSE may get before a PR fails")


class Monitor(Section):
    months: Annotated[Literal["later"] | Months, PlainValidator(_later_or_months)] = Field(
        description="the backtest's months: `later` (all in data/ after data.val_months) or a list"
    )
    max_rmse_increase_pct: Percent = Field(description="alert when a month's rmse is this % above")
    max_drifted_share: float = Field(ge=0, le=1, description="alert when this share of inputs drifted")
    max_prediction_drift: float = Field(ge=0, description="alert when the prediction drifts past this")
    min_trips: int = Field(ge=0, description="fewer cleaned trips: alert on the data, not the model")
    drift_sample: int = Field(ge=1, description="rows drawn from each side for the drift tests")
    seed: Seed = Field(description="picks the sampled rows")


class Retrain(Section):
    when: Literal["alert", "always", "never"] = Field(description="which monitored months retrain")
    train_window: int = Field(ge=1, description="months before the new month to train on")
    auto_merge: bool = Field(description="the retrain PR merges itself once its checks pass")


class Compute(Section):
    """Where the heavy stages run (conf/compute/): `local`, or `dask` with every key of its own."""

    name: Literal["local", "dask"] = Field(description="local: in the stage; dask: on a Dask cluster")
    address: str = Field(default="", description="tcp://host:8786 or a scheduler file; empty: a LocalCluster")
    n_workers: int = Field(default=2, ge=1, description="the LocalCluster's worker processes")
    threads_per_worker: int = Field(default=1, ge=1, description="the LocalCluster's threads per worker")
    connect_timeout: float = Field(default=10.0, gt=0, description="seconds to reach the scheduler")
    worker_root: str = Field(default="", description="where workers find the project's files; empty: here")

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> "Compute":
        given = self.model_fields_set - {"name"}
        if self.name == "local" and given:
            raise ValueError(f"{sorted(given)[0]} is a key of compute=dask, not of compute=local")
        if self.name == "dask" and (missing := [key for key in DASK_KEYS if key not in given]):
            raise ValueError(f"compute=dask needs {', '.join(missing)} (conf/compute/dask.yaml)")
        return self

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        """The keys as written: local's section is its name alone."""
        return super().model_dump(**{"exclude_unset": True, **kwargs})


DASK_KEYS = ("address", "n_workers", "threads_per_worker", "connect_timeout", "worker_root")


SCHEMAS: dict[str, type[Section]] = {
    "data": Data,
    "features": Features,
    "model": Model,
    "training": Training,
    "evaluate": Evaluate,
    "report": Report,
    "monitor": Monitor,
    "retrain": Retrain,
    "compute": Compute,
}


def _problem(section: str, error: Any) -> str:
    """One pydantic error as `section.key[index]: what is wrong`."""
    key = section + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return f"{key}: missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key; {section} takes {', '.join(SCHEMAS[section].model_fields)}"
    if kind == "value_error":  # our own validators' words, without pydantic's "Value error, "
        return f"{key}: {error['ctx']['error']}"
    shown = f", not {value!r}" if isinstance(value, str | int | float | bool | None) else ""
    return f"{key}: {error['msg']}{shown}"


@dataclass(frozen=True)
class Params:
    """A params file's sections, and how an error names the file."""

    sections: dict[str, Any]
    where: str

    def section(self, section: str) -> Section:
        """The section validated by its schema; one InputError naming the file and every bad key."""
        if section not in self.sections:
            raise InputError(self.where, f"{section}: missing")
        values = self.sections[section]
        if not isinstance(values, dict):
            raise InputError(self.where, f"{section}: expected a mapping of keys, not {values!r}")
        try:
            return SCHEMAS[section].model_validate(values)
        except ValidationError as error:
            raise InputError(self.where, "; ".join(_problem(section, e) for e in error.errors())) from None


def parse_params(text: str, where: str | Path) -> Params:
    """params.yaml's text as its sections."""
    import yaml

    try:
        sections = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(where, f"cannot read parameters ({error})") from None
    if not isinstance(sections, dict):
        raise InputError(where, f"expected a mapping of sections, not {type(sections).__name__}")
    return Params(sections, str(where))


def read_params(path: str | Path) -> Params:
    """The params file at `path`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(path, f"cannot read parameters ({error.strerror or error})") from None
    return parse_params(text, path)


def read_section(path: str | Path, section: str) -> Section:
    """A section of the params file at `path`, validated."""
    return read_params(path).section(section)


def read_compute(path: str | Path) -> Compute:
    """params.yaml's `compute` section; `local` when the file has none (one written before it)."""
    params = read_params(path)
    if "compute" not in params.sections:
        return Compute(name="local")
    return cast(Compute, params.section("compute"))


def cluster_module(where: str | Path) -> Any:
    """trip_duration.cluster, for a stage with `compute: dask`; one line when the extra is missing."""
    import importlib

    try:
        return importlib.import_module("trip_duration.cluster")
    except ModuleNotFoundError as error:
        raise InputError(
            where, f"compute=dask needs the dask extra: pip install 'nyc-taxi-duration[dask]' ({error})"
        ) from None
