"""A deployed model: a folder with manifest.json and the model file it names, checked before use.

    deploy/
      manifest.json                  {"name", "version", "commit", "md5", "file", "train_months", ...}
      trip-duration-v0.1.1.joblib

`trip-duration deploy` writes the model file first and the manifest last (atomically), so a
service that polls the manifest never sees a half-written deployment.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from trip_duration.registry import file_md5

MANIFEST = "manifest.json"
# A trip every model can score: its answer must be a finite number before the model serves.
PROBE = {
    "PULocationID": 74,
    "DOLocationID": 75,
    "trip_distance": 1.2,
    "pickup_datetime": np.datetime64("2021-01-04T08:00:00"),
}


class DeploymentError(Exception):
    """A deployment that cannot serve: its message is one line naming the file and the problem."""


@dataclass(frozen=True)
class Loaded:
    """A model that loaded, matched its md5 and answered the probe."""

    model: Any
    manifest: dict[str, Any]
    columns: list[str] = field(default_factory=list)  # the raw trip columns the model reads

    @property
    def version(self) -> str:
        return str(self.manifest.get("version"))

    @property
    def name(self) -> str:
        return str(self.manifest.get("name"))


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


def local_time(moment: datetime) -> datetime:
    """A time as TLC records it: New York wall-clock time, without a zone."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(ZoneInfo("America/New_York")).replace(tzinfo=None)


def frame(trips: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """The trips as the model's input frame: one column per raw column the model reads."""
    data = {}
    for column in columns:
        values = [trip.get(column) for trip in trips]
        if column == "pickup_datetime":
            data[column] = np.array(
                [np.datetime64("NaT") if v is None else v for v in values], "datetime64[us]"
            )
        else:
            data[column] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return pd.DataFrame(data)


def load(model_path: Path, manifest: dict[str, Any]) -> Loaded:
    """Check the file's md5 against the manifest, unpickle it, and have it answer the probe."""
    if not model_path.is_file():
        raise DeploymentError(f"{model_path}: missing")
    got = file_md5(model_path)
    if got != manifest["md5"]:
        raise DeploymentError(f"{model_path}: md5 {got}, manifest records {manifest['md5']}; not loaded")
    import joblib

    try:  # only bytes whose md5 dvc.lock recorded at a registered commit get here
        model = joblib.load(model_path)
        columns = [str(column) for column in model.feature_names_in_]
        answer = float(np.asarray(model.predict(frame([PROBE], columns)))[0])
    except Exception as error:
        raise DeploymentError(f"{model_path}: cannot serve ({type(error).__name__}: {error})") from None
    if not math.isfinite(answer):
        raise DeploymentError(f"{model_path}: the probe trip got {answer}, not a number of minutes")
    return Loaded(model, manifest, columns)


def load_folder(folder: Path) -> Loaded:
    manifest = read_manifest(folder)
    return load(folder / manifest["file"], manifest)


def load_file(path: Path) -> Loaded:
    """A model file from `dvc repro`, served as it is: its own md5 is its record."""
    if not path.is_file():
        raise DeploymentError(f"{path}: missing")
    md5 = file_md5(path)
    manifest = {"name": "trip-duration", "version": f"local-{md5[:8]}", "md5": md5, "file": str(path)}
    return load(path, manifest)
