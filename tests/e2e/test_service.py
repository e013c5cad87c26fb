"""The service for real: deploy from a local registry, serve on 127.0.0.1, switch versions under load.

A bare origin holds two registered versions (v0.1.0 linear, v0.1.1 ridge); `trip-duration deploy`
places them in a serving folder and `trip-duration serve` runs as its own process on a free port.
"""

import http.client
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import env, make_project, sh

from tests.e2e.serving import Server, request, wait_ready

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of an origin with v0.1.0 (linear) and v0.1.1 (ridge, in prod), remote beside them."""
    root = tmp_path_factory.mktemp("registry")
    project = make_project(root / "project", ["2021-01", "2021-02"])  # its DVC remote: root / "remote"
    sh("dvc", "remote", "modify", "local", "url", "../../remote", cwd=project)  # relative, as committed
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(root / "origin.git"), cwd=root)
    sh("git", "remote", "add", "origin", str(root / "origin.git"), cwd=project)
    for overrides in ([], ["model=ridge", "model.alpha=0.5"]):
        sh("trip-duration", "params", "compose", *overrides, cwd=project)
        sh("dvc", "repro", cwd=project)
        sh("git", "add", "-A", cwd=project)
        sh("git", "commit", "-qm", " ".join(overrides) or "linear", cwd=project)
        sh("git", "push", "-q", "origin", "main", cwd=project)
        sh("trip-duration", "publish", "--push", cwd=project)
    sh("git", "clone", "-q", str(root / "origin.git"), str(root / "clone"), cwd=root)
    return root / "clone"


@pytest.fixture(scope="module")
def file_server(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One service for the model file that `dvc repro` left in the clone."""
    sh("dvc", "pull", "-q", "models/trip-duration.joblib", cwd=registry)
    server = Server(
        "--model", str(registry / "models" / "trip-duration.joblib"), cwd=tmp_path_factory.mktemp("file")
    )
    wait_ready(server.port)
    yield server
    server.stop()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        started.append(Server(*args, cwd=tmp_path))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def deploy(registry: Path, folder: Path, *which: str) -> str:
    return sh("trip-duration", "deploy", *which, "--to", str(folder), cwd=registry).stdout


def test_deploy_then_serve_answers_as_the_model_does(registry: Path, tmp_path: Path, serve: Any) -> None:
    folder = tmp_path / "deploy"
    assert deploy(registry, folder, "--stage", "prod") == (
        f"deploy: trip-duration v0.1.1 (prod) -> {folder}/trip-duration-v0.1.1.joblib\n"
    )
    assert deploy(registry, folder, "--stage", "prod").endswith(
        "is deployed already in " + str(folder) + "\n"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["version"] == "v0.1.1" and manifest["train_months"] == ["2021-01"]
    assert manifest["metrics"]["rmse"] == 7.5991
    server = serve("--model-dir", str(folder))
    assert wait_ready(server.port) == {"ready": True, "model": "trip-duration", "version": "v0.1.1"}
    model = joblib.load(folder / "trip-duration-v0.1.1.joblib")
    expected = round(float(model.predict(pd.DataFrame([TRIP]))[0]), 4)
    status, body, headers = request(server.port, "POST", "/predict", TRIP)
    assert (status, body) == (200, {"duration": expected, "model": "trip-duration", "version": "v0.1.1"})
    assert headers["x-model-version"] == "v0.1.1"
    trips = [
        TRIP,
        {**TRIP, "PULocationID": 264, "DOLocationID": 1, "pickup_datetime": "2021-03-01T08:00:00Z"},
    ]
    status, body, _ = request(server.port, "POST", "/predict", trips)
    assert status == 200 and [answer["duration"] for answer in body] == [
        round(float(m), 4)
        for m in model.predict(pd.DataFrame([{**t, "pickup_datetime": None} for t in trips]))
    ]
    status, body, _ = request(server.port, "GET", "/model")
    assert status == 200 and body["serving"]["version"] == "v0.1.1" and body["refused"] is None
    assert request(server.port, "GET", "/docs")[0] == 200
    assert set(request(server.port, "GET", "/openapi.json")[1]["paths"]) == {
        "/predict",
        "/health",
        "/ready",
        "/model",
        "/reload",
    }


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"DOLocationID": 75, "trip_distance": 1.2}, ["body", "PULocationID"]),
        ({**TRIP, "PULocationID": "74a"}, ["body", "PULocationID"]),
        ({**TRIP, "DOLocationID": 266}, ["body", "DOLocationID"]),
        ({**TRIP, "PULocationID": 0}, ["body", "PULocationID"]),
        ({**TRIP, "trip_distance": -0.5}, ["body", "trip_distance"]),
        ({**TRIP, "trip_distance": 5000}, ["body", "trip_distance"]),
        ({**TRIP, "pickup_datetime": "yesterday"}, ["body", "pickup_datetime"]),
        ({**TRIP, "pickup_datetime": 0}, ["body", "pickup_datetime"]),  # not read as 1970-01-01
        ({**TRIP, "pickup_datetime": "1614585600"}, ["body", "pickup_datetime"]),
        ({**TRIP, "PULocationID": 74.5}, ["body", "PULocationID"]),  # 74.0 is the zone 74
        ({**TRIP, "PULocationID": "74"}, ["body", "PULocationID"]),
        ({**TRIP, "DOLocationID": True}, ["body", "DOLocationID"]),
        ({**TRIP, "trip_distance": "1.2"}, ["body", "trip_distance"]),
        ({**TRIP, "tip": 3}, ["body", "tip"]),
        ([TRIP, {**TRIP, "trip_distance": None}], ["body", 1, "trip_distance"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field(file_server: Server, body: Any, loc: list) -> None:
    status, answer, headers = request(file_server.port, "POST", "/predict", body)
    assert status == 422 and [error["loc"] for error in answer["detail"]] == [loc]
    assert headers["x-model-version"].startswith("local-")


def test_not_json_is_a_422(file_server: Server) -> None:
    status, answer, _ = request(file_server.port, "POST", "/predict", b"{not json")
    assert status == 422 and answer["detail"][0]["type"] == "json_invalid"


def test_a_model_file_from_dvc_repro_serves_under_its_md5(file_server: Server, registry: Path) -> None:
    from trip_duration.catalog import file_md5

    md5 = file_md5(registry / "models" / "trip-duration.joblib")
    status, body, _ = request(file_server.port, "POST", "/predict", TRIP)
    assert status == 200 and body["version"] == f"local-{md5[:8]}"


def test_no_model_yet_is_alive_but_not_ready(tmp_path: Path, serve: Any) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    server = serve("--model-dir", str(folder))
    health = request(server.port, "GET", "/health")
    assert health[:2] == (200, {"status": "alive"}) and "x-model-version" not in health[2]
    assert request(server.port, "GET", "/ready")[0] == 503
    assert request(server.port, "POST", "/predict", TRIP)[0] == 503
    body = request(server.port, "GET", "/model")[1]
    assert body["serving"] is None and "manifest.json: missing" in body["refused"]["error"]


def test_versions_switch_under_load_without_a_failed_request(
    registry: Path, tmp_path: Path, serve: Any
) -> None:
    folder = tmp_path / "deploy"
    deploy(registry, folder, "--version", "v0.1.0")
    server = serve("--model-dir", str(folder))
    wait_ready(server.port)
    # One list per client: a client sends its next request once the last one is answered, so its
    # own answers are in order (across clients, a request begun before a switch may end after one
    # begun after it, on the model it started with).
    seen: list[list[tuple[int, str]]] = [[] for _ in range(4)]
    stop = threading.Event()

    def client(answers: list[tuple[int, str]]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        while not stop.is_set():
            connection.request(
                "POST", "/predict", body=json.dumps(TRIP), headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            body = json.loads(response.read())
            answers.append((response.status, body.get("version", "")))
        connection.close()

    clients = [threading.Thread(target=client, args=(answers,)) for answers in seen]
    for thread in clients:
        thread.start()

    def until(version: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            answers and answers[-1][1] == version for answers in seen
        ):
            time.sleep(0.05)
        time.sleep(0.5)  # and keep the load on

    try:
        until("v0.1.0")
        deploy(registry, folder, "--version", "v0.1.1")
        until("v0.1.1")
        # A broken deployment: a manifest naming a file that matches its md5 but is not a model.
        broken = folder / "trip-duration-v9.9.9.joblib"
        broken.write_bytes(b"not a pickle")
        manifest = json.loads((folder / "manifest.json").read_text())
        from trip_duration.catalog import file_md5

        manifest.update(version="v9.9.9", file=broken.name, md5=file_md5(broken))
        staged = folder / "manifest.json.new"  # replaced in one rename, as deploy does
        staged.write_text(json.dumps(manifest))
        staged.replace(folder / "manifest.json")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and request(server.port, "GET", "/model")[1]["refused"] is None:
            time.sleep(0.05)
        refused = request(server.port, "GET", "/model")[1]
        assert refused["serving"]["version"] == "v0.1.1"
        assert refused["refused"]["version"] == "v9.9.9" and "cannot serve" in refused["refused"]["error"]
        time.sleep(0.5)
        deploy(registry, folder, "--version", "v0.1.0")
        until("v0.1.0")
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert {status for answers in seen for status, _ in answers} == {200}
    assert all(len(answers) > 100 for answers in seen)
    for answers in seen:
        versions = [version for _, version in answers]
        order = [
            version for index, version in enumerate(versions) if index == 0 or versions[index - 1] != version
        ]
        assert order == ["v0.1.0", "v0.1.1", "v0.1.0"]
    log = server.log.read_text()
    assert "refused deployment:" in log and "still serving v0.1.1" in log


def test_batch_scoring_a_month(registry: Path, tmp_path: Path) -> None:
    out = tmp_path / "predictions.parquet"
    mirror = Path(env()["TLC_MIRROR"])
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy2(mirror / "green_tripdata_2021-03.parquet", data)
    done = sh("trip-duration", "score", "--month", "2021-03", "--stage", "prod", "--out", str(out),
              "--data-dir", str(data), cwd=registry)  # fmt: skip
    scored = pq.read_table(out)
    assert scored.column_names == [
        "pickup_datetime",
        "PULocationID",
        "DOLocationID",
        "trip_distance",
        "duration",
        "predicted",
        "model_version",
    ]
    assert set(scored["model_version"].to_pylist()) == {"v0.1.1"}
    params = yaml.safe_load((registry / "params.yaml").read_text())["data"]
    durations = scored["duration"].to_numpy()
    assert durations.min() >= params["min_minutes"] and durations.max() <= params["max_minutes"]
    assert done.stdout.startswith(f"score: 2021-03, {scored.num_rows:,} trips, trip-duration v0.1.1 -> {out}")
