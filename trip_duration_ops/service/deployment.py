"""A deployed model: a folder with manifest.json and the model file it names, checked before use.

    deploy/
      manifest.json                  {"name", "version", "commit", "md5", "file", "takes_over_at", ...}
      trip-duration-v0.1.1.joblib

`trip-duration deploy` writes the model file first and the manifest last (atomically), so a
service that polls the manifest never sees a half-written deployment.
"""

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trip_duration.errors import one_line
from trip_duration.features import DERIVE
from trip_duration.scorer import Scorer, linear_scorer
from trip_duration_ops.catalog import file_md5
from trip_duration_ops.registry import local_version

MANIFEST = "manifest.json"
# A trip every model can score: its answer must be a finite number before the model serves.
PROBE = {
    "PULocationID": 74,
    "DOLocationID": 75,
    "trip_distance": 1.2,
    "pickup_datetime": np.datetime64("2021-01-04T08:00:00"),
}

# A zone feature's function, and the codes the model learned: sorted, and as a set.
Zones = tuple[Callable[[Any], np.ndarray], np.ndarray, frozenset[int]]
SMALL = 32  # trips up to which counting unseen zones goes through the set
ZONE_FEATURES = {DERIVE[name] for name in ("zone_pair", "PULocationID", "DOLocationID")}


class DeploymentError(Exception):
    """A deployment that cannot serve: its message is one line naming the file and the problem."""


@dataclass(frozen=True)
class Loaded:
    """A model that loaded, matched its md5 and answered the probe."""

    model: Any
    manifest: dict[str, Any]
    columns: list[str] = field(default_factory=list)  # the raw trip columns the model reads
    scorer: Scorer | None = None  # model.predict's numbers without scikit-learn's per-call cost
    zones: list[Zones] = field(default_factory=list)  # the zone codes it saw in training, per feature
    probe: float = math.nan  # its minutes for the PROBE trip

    def predict(self, trips: list[dict[str, Any]]) -> np.ndarray:
        """Minutes per trip: by the scorer when the model has one, else by the model on a frame."""
        return self.predict_columns(columns(trips, self.columns))

    def predict_columns(self, data: dict[str, np.ndarray]) -> np.ndarray:
        if self.scorer is not None:
            return self.scorer(data)
        return np.asarray(self.model.predict(pd.DataFrame(data)), dtype=np.float64)

    def unseen(self, data: dict[str, np.ndarray]) -> int | None:
        """How many trips have a zone pair (or, for a model on separate zones, a zone) that the model
        never saw in training; None for a model whose encoders do not say."""
        if not self.zones:
            return None
        if len(self.zones) == 1 and len(next(iter(data.values()))) <= SMALL:
            derive, known, members = self.zones[0]  # a few trips: set lookups beat numpy's call costs
            return sum(code not in members for code in derive(data)[:, 0].tolist())
        missing = np.zeros(len(next(iter(data.values()))), dtype=bool)
        for derive, known, _ in self.zones:  # known is sorted: a binary search per trip
            codes = derive(data)[:, 0]
            found = np.minimum(np.searchsorted(known, codes), known.size - 1)
            missing |= known[found] != codes
        return int(missing.sum())

    @property
    def predicts_with(self) -> str:
        """How it predicts, for the log."""
        return "numpy scorer" if self.scorer is not None else "scikit-learn predict"

    @property
    def version(self) -> str:
        return str(self.manifest.get("version"))

    @property
    def name(self) -> str:
        return str(self.manifest.get("name"))


def known_zones(model: Any) -> list[Zones]:
    """The model's zone features and the codes its encoders learned in training (a one-hot or a
    target encoder after the feature's function, in the model's ColumnTransformer); [] if none."""
    found: list[Zones] = []
    try:
        transformers = model[0].transformers_
    except (AttributeError, TypeError, IndexError, KeyError):
        return found
    for _, transformer, _ in transformers:
        steps = getattr(transformer, "steps", None)
        if not steps or len(steps) != 2:
            continue
        derive, encoder = steps[0][1], steps[1][1]
        categories = getattr(encoder, "categories_", None)
        if getattr(derive, "func", None) in ZONE_FEATURES and categories is not None and len(categories) == 1:
            known = np.unique(np.asarray(categories[0]))  # sorted, once (np.isin would sort per call)
            if known.size:
                found.append((derive.func, known, frozenset(known.tolist())))
    return found


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(f"{path}: missing (run trip-duration deploy)") from None
    except (OSError, ValueError) as error:
        raise DeploymentError(f"{path}: unreadable ({error})") from None
    missing = [key for key in ("name", "version", "md5", "file") if key not in manifest]
    if missing:
        raise DeploymentError(f"{path}: lacks {', '.join(missing)}")
    return manifest


def columns(trips: list[dict[str, Any]], names: list[str]) -> dict[str, np.ndarray]:
    """The trips as numpy columns, one per raw column the model reads; missing values NaN or NaT.

    Pickup times are naive New York times, as TLC records them: schemas.Trip converts any offset.
    """
    data = {}
    for column in names:
        values = [trip.get(column) for trip in trips]
        if column == "pickup_datetime":
            data[column] = np.array(
                [np.datetime64("NaT") if v is None else v for v in values], "datetime64[us]"
            )
        else:
            data[column] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return data


def frame(trips: list[dict[str, Any]], names: list[str]) -> pd.DataFrame:
    """The trips as the model's input frame: one column per raw column the model reads."""
    return pd.DataFrame(columns(trips, names))


def check_trips(count: int = 512) -> list[dict[str, Any]]:
    """Trips to compare a scorer with its model on: any zones, distances, times, some missing."""
    rng = np.random.default_rng(0)
    start = np.datetime64("2021-01-01T00:00:00", "us")
    trips: list[dict[str, Any]] = [PROBE]
    for index in range(count):
        trips.append(
            {
                "PULocationID": int(rng.integers(1, 266)),
                "DOLocationID": int(rng.integers(1, 266)),
                "trip_distance": None if index % 17 == 0 else float(rng.exponential(3.0)),
                "pickup_datetime": None
                if index % 13 == 0
                else start + np.timedelta64(int(rng.integers(0, 3 * 365 * 86_400)), "s"),
            }
        )
    trips.append({"PULocationID": None, "DOLocationID": None, "trip_distance": None})
    return trips


def fast_scorer(model: Any, names: list[str]) -> Scorer | None:
    """The model's numpy scorer if it has one and it answers as model.predict does on check trips;
    None otherwise (the model then predicts as it is: a scorer never decides whether a model serves)."""
    try:
        scorer = linear_scorer(model)
        if scorer is None:
            return None
        trips = check_trips()
        want = np.asarray(model.predict(frame(trips, names)), dtype=np.float64)
        got = np.asarray(scorer(columns(trips, names)), dtype=np.float64)
    except Exception:
        return None
    if got.shape != want.shape or not np.allclose(got, want, rtol=0, atol=1e-9):
        return None
    return scorer


def load(model_path: Path, manifest: dict[str, Any]) -> Loaded:
    """Check the file's md5 against the manifest, unpickle it, and have it answer the probe."""
    if not model_path.is_file():
        raise DeploymentError(f"{model_path}: missing")
    got = file_md5(model_path)
    if got != manifest["md5"]:
        raise DeploymentError(f"{model_path}: md5 {got}, manifest records {manifest['md5']}; not loaded")
    if model_path.stat().st_size == 0:
        raise DeploymentError(f"{model_path}: cannot serve: an empty file")
    import joblib

    try:  # only bytes whose md5 dvc.lock recorded at a registered commit get here
        model = joblib.load(model_path)
    except Exception as error:  # not a pickle, truncated, or classes this environment lacks
        raise DeploymentError(
            f"{model_path}: cannot serve: joblib cannot read it ({one_line(error, typed=True)})"
        ) from None
    try:
        names = [str(column) for column in model.feature_names_in_]
        answer = float(np.asarray(model.predict(frame([PROBE], names)))[0])
        scorer = fast_scorer(model, names)
        zones = known_zones(model)
    except Exception as error:
        raise DeploymentError(f"{model_path}: cannot serve ({one_line(error, typed=True)})") from None
    if not math.isfinite(answer):
        raise DeploymentError(f"{model_path}: the probe trip got {answer}, not a number of minutes")
    return Loaded(model, manifest, names, scorer, zones, answer)


def load_file(path: Path) -> Loaded:
    """A model file from `dvc repro`, served as it is: its own md5 is its record."""
    if not path.is_file():
        raise DeploymentError(f"{path}: missing")
    manifest = {
        "name": "trip-duration",
        "version": local_version(path),
        "md5": file_md5(path),
        "file": str(path),
    }
    return load(path, manifest)


def takes_over_at(manifest: dict[str, Any]) -> float:
    """When the manifest's model takes over (seconds since the epoch); -inf: once it has loaded."""
    when = manifest.get("takes_over_at")
    if when is None:
        return -math.inf
    try:
        moment = datetime.fromisoformat(str(when))
    except ValueError:
        raise DeploymentError(f"{MANIFEST}: takes_over_at {when!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise DeploymentError(f"{MANIFEST}: takes_over_at {when!r} has no zone (write it in UTC: ...Z)")
    return moment.timestamp()
