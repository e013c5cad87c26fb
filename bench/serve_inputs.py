"""The serving benchmark's inputs: the models, trained on a TLC month, and the request bodies, real trips."""

import json
import pickle
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.make_months import ROOT
from bench.services import log

TRIP_FIELDS = ("PULocationID", "DOLocationID", "trip_distance")  # the course service's whole contract


def default_params() -> dict[str, Any]:
    """conf/ composed without overrides: the project's default configuration, whatever params.yaml holds."""
    from trip_duration.files import read_yaml
    from trip_duration_ops.conf_diff import compose

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose(ROOT / "conf", "config", [], out)
        return read_yaml(out, "parameters")


def month_trips(mirror: Path, month: str, data: dict[str, Any]) -> Any:
    """One month's trips, cleaned by params.yaml's `data` section (all of the month's pickups kept)."""
    from trip_duration.trips import cleaning, read_window

    return read_window(mirror, data["taxi"], [month], **cleaning({**data, "drop_outside_month": False}))


def train_models(mirror: Path, month: str, params: dict[str, Any], workdir: Path) -> tuple[Path, Path]:
    """The course's pickle and this project's model file, both trained on `month`."""
    from bench.course_service import train
    from trip_duration.tlc import month_file

    course_path = workdir / "lin_reg.bin"
    started = time.perf_counter()
    with course_path.open("wb") as f_out:
        pickle.dump(train(month_file(mirror, params["data"]["taxi"], month)), f_out)
    log(f"  course model: {course_path} ({time.perf_counter() - started:.1f} s)")
    return course_path, train_project(mirror, month, params, workdir / "trip-duration.joblib")


def train_project(mirror: Path, month: str, params: dict[str, Any], path: Path) -> Path:
    """This project's model with `params`, trained on `month`, written to `path`."""
    import joblib

    from trip_duration.model import build_model, fit, input_columns

    started = time.perf_counter()
    trips = month_trips(mirror, month, params["data"])
    columns = input_columns(params["features"])
    frame = trips.select([*columns, "duration"]).to_pandas()
    model = build_model(params["features"], params["model"])
    scores = fit(model, frame[columns], frame["duration"].to_numpy())
    joblib.dump(model, path)
    log(f"  project model: {path}, {scores} ({time.perf_counter() - started:.1f} s)")
    return path


def load_trips(mirror: Path, month: str, params: dict[str, Any], count: int, seed: int) -> list[dict]:
    """`count` real trips of `month` (the validation trips as the pipeline prepares them), drawn with
    a seed; only trips the project's service accepts (zones 1..265, 0..200 miles)."""
    from trip_duration_ops.service.schemas import MAX_MILES

    data = params["data"]
    trips = month_trips(mirror, month, data)
    frame = trips.select(list(TRIP_FIELDS)).to_pandas()
    valid = frame["trip_distance"].between(0, MAX_MILES)
    for zone in ("PULocationID", "DOLocationID"):
        valid &= frame[zone].between(1, 265)
    log(f"  {month}: {len(frame):,} trips, {int((~valid).sum())} outside the service's bounds left out")
    frame = frame[valid]
    rows = np.random.default_rng(seed).choice(len(frame), size=count, replace=count > len(frame))
    picked = frame.iloc[rows]
    return [
        {"PULocationID": int(pu), "DOLocationID": int(do), "trip_distance": float(miles)}
        for pu, do, miles in picked.itertuples(index=False)
    ]


def write_bodies(path: Path, bodies: list[Any]) -> Path:
    """One compact JSON body per line, for bench/serve.lua."""
    path.write_text("".join(json.dumps(body, separators=(",", ":")) + "\n" for body in bodies))
    return path
