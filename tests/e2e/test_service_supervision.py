"""The service in process (the app under starlette's TestClient, its lifespan running): failures
injected with monkeypatch, and the memory of many swaps. Models: linear and ridge on one real month."""

import asyncio
import gc
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml
from conftest import ROOT, mirror_dir
from starlette.testclient import TestClient

from trip_duration_ops.catalog import file_md5
from trip_duration_ops.service import deployment
from trip_duration_ops.service.app import create_app
from trip_duration_ops.service.batching import Batcher
from trip_duration_ops.service.settings import Settings
from trip_duration_ops.service.state import ModelState

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two model files fitted on 2021-01: linear and ridge (the registry's v0.1.0 and v0.1.1)."""
    from trip_duration.model import build_model, fit, input_columns
    from trip_duration.trips import cleaning, read_window

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    trips = read_window(mirror_dir(), "green", ["2021-01"], **cleaning(params["data"]))
    columns = input_columns(params["features"])
    frame = trips.select([*columns, "duration"]).to_pandas()
    folder = tmp_path_factory.mktemp("models")
    paths = []
    ridge = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 0.5}
    for name, model in [("linear", params["model"]), ("ridge", ridge)]:
        pipeline = build_model(params["features"], model)
        fit(pipeline, frame[columns], frame["duration"].to_numpy())
        paths.append(folder / f"{name}.joblib")
        joblib.dump(pipeline, paths[-1])
    return paths


def deploy(folder: Path, model: Path, version: str, **extra: Any) -> Path:
    """The model beside a manifest naming it, the manifest replaced in one rename as deploy does."""
    folder.mkdir(exist_ok=True)
    placed = folder / f"trip-duration-{version}.joblib"
    shutil.copyfile(model, placed)
    manifest = {"name": "trip-duration", "version": version, "md5": file_md5(placed), "file": placed.name}
    staged = folder / "manifest.json.tmp"
    staged.write_text(json.dumps({**manifest, **extra}))
    staged.replace(folder / "manifest.json")
    return placed


def until(check: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while not (done := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return done


def test_the_poll_survives_an_os_error_and_ready_says_why(
    models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "deploy"
    deploy(folder, models[0], "v1")
    real_md5 = deployment.file_md5

    def md5(path: Path) -> str:
        if path.name == "trip-duration-v2.joblib":
            raise OSError(5, "Input/output error", str(path))
        return real_md5(path)

    monkeypatch.setattr(deployment, "file_md5", md5)
    app = create_app(Settings(model_dir=folder, poll_seconds=0.05))
    with caplog.at_level(logging.INFO, "trip_duration.service"), TestClient(app) as client:
        assert client.get("/ready").json()["version"] == "v1"
        deploy(folder, models[1], "v2")
        ready = until(lambda: (r := client.get("/ready")).status_code == 503 and r)
        detail = ready.json()["detail"]
        assert ready.json()["ready"] is False
        assert "the deployment poll has failed 3 times in a row since " in detail
        assert "OSError: [Errno 5] Input/output error" in detail and "trip-duration-v2.joblib" in detail
        assert client.get("/health").json() == {"status": "alive"}
        assert client.post("/predict", json=TRIP).json()["version"] == "v1"  # v1 serves on meanwhile
        deploy(folder, models[1], "v3")  # a later good deployment
        assert until(lambda: client.get("/ready").json().get("version") == "v3")
        assert client.post("/predict", json=TRIP).json()["version"] == "v3"
        assert not app.state.loops[1].stopped()
    failures = [r for r in caplog.records if r.getMessage().startswith("deployment poll failed")]
    assert len(failures) >= 3 and [bool(r.exc_info) for r in failures].count(True) == 1
    assert "deployment poll: going on after" in caplog.text


def test_the_batcher_survives_an_error_and_a_stopped_one_is_not_ready(
    models: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "deploy"
    deploy(folder, models[0], "v1")
    real_score, calls = Batcher._score, []

    async def score(self: Batcher, jobs: list) -> None:
        calls.append(len(jobs))
        if len(calls) == 1:
            raise RuntimeError("injected")
        await real_score(self, jobs)

    monkeypatch.setattr(Batcher, "_score", score)
    app = create_app(Settings(model_dir=folder, poll_seconds=0.05))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/predict", json=TRIP).status_code == 500  # the batch that failed
        assert client.post("/predict", json=TRIP).json()["version"] == "v1"  # the loop went on
        app.state.loops[0].task.cancel()
        ready = until(lambda: (r := client.get("/ready")).status_code == 503 and r)
        assert ready.json() == {"ready": False, "detail": "the batcher has stopped (cancelled)"}
        assert client.post("/predict", json=TRIP).status_code == 503
        assert client.get("/health").status_code == 200


def test_memory_after_50_swaps_is_memory_after_one(models: list[Path], tmp_path: Path) -> None:
    """ModelState alone, swapping v1 and v2 as deployed: nothing unpickled stays frozen for good."""
    folder = tmp_path / "deploy"
    placed = [deploy(folder, model, f"v{index}") for index, model in enumerate(models)]
    manifests = [
        {"name": "trip-duration", "version": f"v{index}", "md5": file_md5(path), "file": path.name}
        for index, path in enumerate(placed)
    ]

    def rss_mib() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    async def swaps() -> list[tuple[float, int]]:
        state, seen = ModelState(folder), []
        for swap in range(1, 51):
            (folder / "manifest.json.tmp").write_text(json.dumps(manifests[swap % 2]))
            (folder / "manifest.json.tmp").replace(folder / "manifest.json")
            assert await state.reload() and state.current.version == f"v{swap % 2}"
            seen.append((rss_mib(), gc.get_freeze_count()))
        return seen

    try:
        seen = asyncio.run(swaps())
    finally:
        gc.unfreeze()  # leave the test process as it was
    assert seen[-1][0] <= 1.1 * seen[0][0], seen
    # What freeze() keeps, object by object: without gc.collect() first it grows with every swap.
    assert seen[-1][1] - seen[1][1] < 50, [count for _, count in seen]
