"""The service in process: every route under starlette's TestClient, its lifespan running, on two
small linear models fitted here and a deployment folder written as `trip-duration deploy` writes it.

What needs a real server (uvicorn's workers, switching under load, `trip-duration serve` itself)
is in tests/e2e/test_service.py.
"""

import io
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import call_main
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from trip_duration.files import atomic_path
from trip_duration.model import build_model, fit, input_columns
from trip_duration_ops import serve
from trip_duration_ops.catalog import file_md5
from trip_duration_ops.deploy import switch
from trip_duration_ops.service.app import create_app
from trip_duration_ops.service.deployment import SMALL, columns, load_file
from trip_duration_ops.service.limits import MAX_BODY_BYTES
from trip_duration_ops.service.metrics import MINUTES, observe_many
from trip_duration_ops.service.observe import JsonLines
from trip_duration_ops.service.schemas import MAX_BATCH
from trip_duration_ops.service.settings import Settings, read_settings

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}
VARIABLES = ("TRIP_DURATION_MODEL_DIR", "TRIP_DURATION_MODEL", "TRIP_DURATION_POLL_SECONDS")
# Zone pairs and the pickup hour: the pickup time changes the answer.
FEATURES = {
    "categorical": ["zone_pair", "pickup_hour"],
    "numeric": ["trip_distance"],
    "encoding": "onehot",
    "seed": 0,
}
POLL = 3600.0  # the tests switch by POST /reload and by requests, never by the poll


@pytest.fixture(autouse=True)
def no_settings_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two models on 300 made-up trips around zones 74 and 75, the second's trips twice as long."""
    rng = np.random.default_rng(0)
    n = 300
    trips = pd.DataFrame(
        {
            "pickup_datetime": np.datetime64("2021-01-01T00:00", "us")
            + rng.integers(0, 31 * 86_400, n).astype("timedelta64[s]"),
            "PULocationID": rng.integers(72, 78, n),
            "DOLocationID": rng.integers(72, 78, n),
            "trip_distance": rng.exponential(3.0, n),
        }
    )
    minutes = 2 + 3 * trips["trip_distance"].to_numpy() + trips["pickup_datetime"].dt.hour.to_numpy() / 4
    folder = tmp_path_factory.mktemp("models")
    paths = []
    for factor in (1, 2):
        model = build_model(FEATURES, {"estimator": "sklearn.linear_model.LinearRegression"})
        fit(model, trips[input_columns(FEATURES)], factor * minutes)
        paths.append(folder / f"model-{factor}.joblib")
        joblib.dump(model, paths[-1])
    return paths


def deploy(folder: Path, model: Path, version: str, lead: float = 0.0, **extra: Any) -> dict[str, Any]:
    """`model` deployed as `version`, as `trip-duration deploy` places it: the model file, then the
    manifest in one rename; it takes over `lead` seconds after."""
    file = f"trip-duration-{version}.joblib"
    with atomic_path(folder / file) as placed:
        shutil.copyfile(model, placed)
    manifest = {
        "name": "trip-duration",
        "version": version,
        "stage": None,
        "commit": "0" * 40,
        "md5": file_md5(model),
        "file": file,
        "train_months": ["2021-01"],
        "val_months": ["2021-02"],
        "metrics": {"rmse": 1.0},
        "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **extra,
    }
    return switch(folder, manifest, lead)


def minutes(model: Path, trips: list[dict[str, Any]]) -> list[float]:
    """The model's own answers, rounded as the service rounds them."""
    fitted = joblib.load(model)
    frame = pd.DataFrame([{"pickup_datetime": pd.NaT, **trip} for trip in trips])
    frame["pickup_datetime"] = pd.to_datetime(frame["pickup_datetime"])
    return [round(float(m), 4) for m in fitted.predict(frame[list(fitted.feature_names_in_)])]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    return tmp_path / "deploy"


def serving(folder: Path) -> TestClient:
    return TestClient(create_app(Settings(model_dir=folder, poll_seconds=POLL)))


@pytest.fixture(scope="module")
def v1(models: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    """A service for a folder where v1 is deployed, and v1's manifest: for tests that change nothing."""
    folder = tmp_path_factory.mktemp("v1")
    manifest = deploy(folder, models[0], "v1")
    with serving(folder) as client:
        yield client, manifest


@pytest.fixture
def client(v1: tuple[TestClient, dict]) -> TestClient:
    return v1[0]


# --- POST /predict ------------------------------------------------------------------------------------


def test_one_trip_is_scored_as_the_model_scores_it(client: TestClient, models: list[Path]) -> None:
    answer = client.post("/predict", json=TRIP)
    assert answer.status_code == 200 and answer.headers["x-model-version"] == "v1"
    assert answer.json() == {
        "duration": minutes(models[0], [TRIP])[0],
        "model": "trip-duration",
        "version": "v1",
    }


def test_a_list_is_scored_in_order_at_new_york_time(client: TestClient, models: list[Path]) -> None:
    sent = [
        {**TRIP, "pickup_datetime": "2021-01-04T08:00:00"},  # New York time, as TLC records it
        {**TRIP, "pickup_datetime": "2021-01-04T13:00:00Z"},  # the same moment in UTC
        {**TRIP, "pickup_datetime": "2021-01-04T20:00:00", "trip_distance": 7.5},
        TRIP,  # no pickup time
    ]
    answer = client.post("/predict", json=sent)
    assert answer.status_code == 200 and answer.headers["x-model-version"] == "v1"
    expected = minutes(models[0], [sent[0], sent[0], sent[2], TRIP])
    assert answer.json() == [{"duration": m, "model": "trip-duration", "version": "v1"} for m in expected]
    assert expected[0] == expected[1] and len(set(expected)) == 3


def test_an_empty_list_is_an_empty_answer(client: TestClient) -> None:
    answer = client.post("/predict", json=[])
    assert (answer.status_code, answer.json(), answer.headers["x-model-version"]) == (200, [], "v1")


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
        ("a trip", ["body"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client: TestClient, body: Any, loc: list) -> None:
    answer = client.post("/predict", json=body)
    assert answer.status_code == 422 and [error["loc"] for error in answer.json()["detail"]] == [loc]
    assert answer.headers["x-model-version"] == "v1"


def test_not_json_is_a_422(client: TestClient) -> None:
    answer = client.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.headers["x-model-version"] == "v1"
    [error] = answer.json()["detail"]
    assert (error["loc"], error["type"]) == (["body"], "json_invalid")


def test_more_than_max_batch_trips_is_a_422_and_max_batch_is_scored(client: TestClient) -> None:
    answer = client.post("/predict", json=[TRIP] * (MAX_BATCH + 1))
    assert answer.status_code == 422
    problem = {"loc": ["body"], "msg": f"at most {MAX_BATCH} trips per request", "type": "too_long"}
    assert answer.json() == {"detail": [problem]}
    answer = client.post("/predict", json=[TRIP] * MAX_BATCH)
    assert answer.status_code == 200 and len(answer.json()) == MAX_BATCH


def test_a_body_over_the_limit_is_a_413(client: TestClient) -> None:
    answer = client.post("/predict", content=b" " * (MAX_BODY_BYTES + 1))
    assert answer.status_code == 413 and answer.headers["connection"] == "close"
    assert answer.json() == {
        "detail": f"request body over {MAX_BODY_BYTES:,} bytes",
        "max_bytes": MAX_BODY_BYTES,
    }
    assert answer.headers["x-model-version"] == "v1"


# --- GET /health, /ready, /model; the documents -------------------------------------------------------


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "alive"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "model": "trip-duration", "version": "v1"}


def test_model_shows_the_manifest_served(v1: tuple[TestClient, dict]) -> None:
    client, manifest = v1
    shown = client.get("/model").json()
    assert shown.pop("loaded_at") > 0
    assert shown == {"serving": manifest, "pending": None, "refused": None}


def test_the_documents_answer(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    linked = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert linked == [
        "/docs/assets/swagger-ui.css",
        "/docs/assets/favicon-32x32.png",
        "/docs/assets/swagger-ui-bundle.js",
    ]  # the service's own: no CDN
    for path, kind in zip(linked, ("text/css", "image/png", "text/javascript"), strict=True):
        asset = client.get(path)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind), path
    assert client.get("/redoc").status_code == 404  # ReDoc would need its CDN script
    document = client.get("/openapi.json").json()
    assert list(document["paths"]) == ["/predict", "/health", "/ready", "/model", "/reload"]
    assert document == client.app.openapi()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/health", None),
        ("GET", "/ready", None),
        ("GET", "/model", None),
        ("POST", "/reload", None),
        ("POST", "/predict", TRIP),
        ("POST", "/predict", {}),  # a 422
        ("GET", "/docs", None),
        ("GET", "/openapi.json", None),
        ("GET", "/nowhere", None),  # a 404
        ("GET", "/predict", None),  # a 405
    ],
)
def test_every_response_names_the_version(client: TestClient, method: str, path: str, body: Any) -> None:
    assert client.request(method, path, json=body).headers["x-model-version"] == "v1"


# --- no model yet; a model file -----------------------------------------------------------------------


def test_no_model_yet_is_alive_but_not_ready(folder: Path) -> None:
    detail = f"no model serves: {folder}/manifest.json: missing (run trip-duration deploy)"
    with serving(folder) as client:
        health = client.get("/health")
        assert health.json() == {"status": "alive"} and "x-model-version" not in health.headers
        for answer in (client.get("/ready"), client.post("/predict", json=TRIP)):
            assert (answer.status_code, answer.json()) == (503, {"ready": False, "detail": detail})
        shown = client.get("/model").json()
        assert shown["serving"] is None and shown["refused"]["error"] == detail.removeprefix(
            "no model serves: "
        )


def test_a_model_file_serves_under_its_md5(models: list[Path]) -> None:
    app = create_app(Settings(model=models[0]))
    with TestClient(app) as client:
        answer = client.post("/predict", json=TRIP)
        assert answer.json()["version"] == f"local-{file_md5(models[0])[:8]}"
        assert client.get("/ready").status_code == 200
        assert [loop.name for loop in app.state.loops] == ["batcher", "readiness gauge"]  # no folder to poll


# --- POST /reload and the switch ----------------------------------------------------------------------


def test_reload_switches_to_a_new_deployment(folder: Path, models: list[Path]) -> None:
    deploy(folder, models[0], "v1")
    with serving(folder) as client:
        assert client.post("/predict", json=TRIP).json()["version"] == "v1"
        manifest = deploy(folder, models[1], "v2")
        reloaded = client.post("/reload")
        assert reloaded.json()["serving"] == manifest and reloaded.headers["x-model-version"] == "v2"
        answer = client.post("/predict", json=TRIP).json()
        assert answer == {
            "duration": minutes(models[1], [TRIP])[0],
            "model": "trip-duration",
            "version": "v2",
        }


def test_a_deployment_waits_for_its_time(folder: Path, models: list[Path]) -> None:
    deploy(folder, models[0], "v1")
    with serving(folder) as client:
        manifest = deploy(folder, models[1], "v2", lead=3600)
        shown = client.post("/reload").json()
        at = datetime.fromisoformat(manifest["takes_over_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert shown["serving"]["version"] == "v1"
        assert shown["pending"] == {"version": "v2", "takes_over_at": at}
        assert client.post("/predict", json=TRIP).json()["version"] == "v1"
        assert client.get("/ready").json()["version"] == "v1"


def test_a_broken_deployment_is_refused_and_the_old_model_serves_on(folder: Path, models: list[Path]) -> None:
    deploy(folder, models[0], "v1")
    with serving(folder) as client:
        broken = folder / "not-a-model.joblib"
        broken.write_bytes(b"not a pickle")
        manifest = deploy(folder, broken, "v9")
        shown = client.post("/reload").json()
        assert shown["serving"]["version"] == "v1" and shown["refused"]["version"] == "v9"
        assert shown["refused"]["md5"] == manifest["md5"] and "cannot serve" in shown["refused"]["error"]
        assert client.post("/predict", json=TRIP).json()["version"] == "v1"


# --- metrics, request ids, logs ------------------------------------------------------------------------


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    """GET /metrics parsed: each sample's value by its name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], metric: str, **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def test_metrics_count_requests_trips_unseen_zones_and_the_model(folder: Path, models: list[Path]) -> None:
    deploy(folder, models[0], "v1", reference={"predicted_minutes_median": 9.5})
    unseen = {"PULocationID": 1, "DOLocationID": 2, "trip_distance": 2.0}  # zones 72-77 in training
    with serving(folder) as client:
        one = client.post("/predict", json=TRIP).json()
        three = client.post("/predict", json=[TRIP, unseen, {**TRIP, "trip_distance": 9.0}]).json()
        assert client.post("/predict", json={"trip_distance": 1}).status_code == 422
        assert client.get("/no/such/route").status_code == 404
        deadline = time.monotonic() + 10
        while value(scrape(client), "trip_duration_ready") != 1:  # the readiness loop's first turn
            assert time.monotonic() < deadline
            time.sleep(0.05)
        found = scrape(client)
        requests = "trip_duration_http_requests_total"
        assert value(found, requests, route="/predict", method="POST", status="200") == 2
        assert value(found, requests, route="/predict", method="POST", status="422") == 1
        assert value(found, requests, route="unmatched", method="GET", status="404") == 1
        assert value(found, "trip_duration_http_request_duration_seconds_count", route="/predict") == 3
        assert value(found, "trip_duration_request_trips_count") == 2
        assert value(found, "trip_duration_request_trips_sum") == 4
        assert value(found, "trip_duration_trips_total") == 4
        assert value(found, "trip_duration_unseen_zone_trips_total") == 1
        answered = [one["duration"]] + [trip["duration"] for trip in three]
        assert value(found, "trip_duration_predicted_minutes_count") == 4
        assert value(found, "trip_duration_predicted_minutes_sum") == pytest.approx(sum(answered), abs=1e-3)
        assert value(found, "trip_duration_predicted_minutes_bucket", le="+Inf") == 4
        md5 = file_md5(models[0])
        assert value(found, "trip_duration_model_info", name="trip-duration", version="v1", md5=md5) == 1
        assert value(found, "trip_duration_model_reference_median_minutes") == 9.5
        assert value(found, "trip_duration_poll_interval_seconds") == POLL
        assert time.time() - 10 < value(found, "trip_duration_poll_success_timestamp_seconds") <= time.time()
        assert value(found, "trip_duration_model_swaps_total") == 1
        assert value(found, "trip_duration_deployments_refused_total") == 0

        deploy(folder, models[1], "v2")  # no reference: the gauge says it has none
        client.post("/reload")
        broken = folder / "not-a-model.joblib"
        broken.write_bytes(b"not a pickle")
        deploy(folder, broken, "v9")
        client.post("/reload")
        found = scrape(client)
        assert value(found, "trip_duration_model_info", name="trip-duration", version="v1", md5=md5) == 0
        assert value(found, "trip_duration_model_info", name="trip-duration", version="v2",
                     md5=file_md5(models[1])) == 1  # fmt: skip
        assert np.isnan(value(found, "trip_duration_model_reference_median_minutes"))  # type: ignore[arg-type]
        assert value(found, "trip_duration_model_swaps_total") == 2
        assert value(found, "trip_duration_deployments_refused_total") == 1


def test_a_model_file_has_no_poll_metrics_and_metrics_can_be_off(models: list[Path]) -> None:
    with TestClient(create_app(Settings(model=models[0]))) as client:
        client.post("/predict", json=TRIP)
        names = {name for name, _ in scrape(client)}
        assert "trip_duration_trips_total" in names
        assert not {n for n in names if "poll" in n or "reference" in n}
    with TestClient(create_app(Settings(model=models[0], metrics=False))) as client:
        assert client.post("/predict", json=TRIP).status_code == 200
        off = client.get("/metrics")
        assert off.status_code == 404 and "metrics are off" in off.json()["detail"]


def test_unseen_zones_are_counted_alike_in_small_and_large_batches(models: list[Path]) -> None:
    loaded = load_file(models[0])  # trained on zones 72-77
    rng = np.random.default_rng(1)
    trips = [
        {
            "PULocationID": int(rng.integers(70, 80)),
            "DOLocationID": int(rng.integers(70, 80)),
            "trip_distance": 1.0,
        }
        for _ in range(3 * SMALL)
    ] + [{"PULocationID": None, "DOLocationID": 74, "trip_distance": 1.0}]
    alone = [loaded.unseen(columns([trip], loaded.columns)) for trip in trips]
    expected = [
        int(not (72 <= t["PULocationID"] <= 77 and 72 <= t["DOLocationID"] <= 77)) for t in trips[:-1]
    ]
    assert alone == [*expected, 1] and 0 < sum(alone) < len(trips)
    assert loaded.unseen(columns(trips, loaded.columns)) == sum(alone)


def test_observe_many_is_observe_for_each_value() -> None:
    values = np.concatenate([np.random.default_rng(0).exponential(12.0, 1000), [0.0, 1.0, 2.0, 120.0, 500.0]])
    by_one = Histogram("minutes", "m", buckets=MINUTES, registry=CollectorRegistry())
    for minute in values:
        by_one.observe(minute)
    by_many = Histogram("minutes", "m", buckets=MINUTES, registry=CollectorRegistry())
    observe_many(by_many, values)

    def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
        return {(s.name, s.labels.get("le", "")): s.value for s in histogram.collect()[0].samples}

    one, many = samples(by_one), samples(by_many)
    assert one.pop(("minutes_sum", "")) == pytest.approx(many.pop(("minutes_sum", "")), rel=1e-12)
    del one[("minutes_created", "")], many[("minutes_created", "")]
    assert many == one and one[("minutes_bucket", "1.0")] > 0 and one[("minutes_count", "")] == len(values)


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("req-42", "req-42"),
        (None, None),  # made: 32 hex digits
        ("x" * 129, None),  # too long: a new one
        ("two words", None),  # not printable without spaces: a new one
    ],
)
def test_every_answer_echoes_the_request_id(client: TestClient, sent: str | None, echoed: str | None) -> None:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    for answer in (
        client.post("/predict", json=TRIP, headers=headers),
        client.post("/predict", json={"trip_distance": 1}, headers=headers),
        client.get("/health", headers=headers),
        client.post("/predict", content=b"[" + b" " * MAX_BODY_BYTES + b"]", headers=headers),
    ):
        got = answer.headers["x-request-id"]
        assert got == echoed if echoed is not None else re.fullmatch(r"[0-9a-f]{32}", got), answer.status_code


def test_json_logs_are_one_object_per_line(v1: tuple[TestClient, dict]) -> None:
    client, _ = v1
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    logger = logging.getLogger("trip_duration.service")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.post("/predict", json=[TRIP, TRIP], headers={"X-Request-ID": "abc"})
        client.get("/ready", headers={"X-Request-ID": "def"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    predict, ready = (line for line in lines if line["event"] == "request")
    assert list(predict)[:5] == ["time", "level", "pid", "event", "message"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", predict["time"])
    assert {
        key: predict[key] for key in ("request_id", "method", "route", "status", "trips", "model", "version")
    } == {
        "request_id": "abc",
        "method": "POST",
        "route": "/predict",
        "status": 200,
        "trips": 2,
        "model": "trip-duration",
        "version": "v1",
    }
    assert predict["latency_ms"] > 0 and predict["pid"] == os.getpid() and predict["level"] == "INFO"
    assert (ready["route"], ready["status"], ready["request_id"]) == ("/ready", 200, "def")
    assert "trips" not in ready


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "line"),
    [
        (
            {"TRIP_DURATION_POLL_SECONDS": "soon"},
            "TRIP_DURATION_POLL_SECONDS: Input should be a valid number, unable to parse string as a number"
            " (got 'soon')",
        ),
        (
            {"TRIP_DURATION_POLL_SECONDS": "0"},
            "TRIP_DURATION_POLL_SECONDS: Input should be greater than 0 (got '0')",
        ),
        (
            {"TRIP_DURATION_POLL_SECONDS": "nan"},
            "TRIP_DURATION_POLL_SECONDS: Input should be a finite number (got 'nan')",
        ),
        (
            {"TRIP_DURATION_MODEL_DIR": ""},
            "TRIP_DURATION_MODEL_DIR, TRIP_DURATION_MODEL: neither is set: a folder written by trip-duration"
            " deploy, or a model file",
        ),
        (
            {"TRIP_DURATION_MODEL": "model.joblib"},
            "TRIP_DURATION_MODEL_DIR, TRIP_DURATION_MODEL: both are set: serve one of them",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    environment: dict[str, str], line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIP_DURATION_MODEL_DIR", "deploy")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        create_app()  # as uvicorn's factory, in a worker process
    assert exited.value.code == f"error: {line}"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIP_DURATION_MODEL", "model.joblib")
    monkeypatch.setenv("TRIP_DURATION_MODEL_DIR", "")  # empty: not set
    monkeypatch.setenv("TRIP_DURATION_POLL_SECONDS", "0.5")
    assert read_settings() == Settings(model=Path("model.joblib"), poll_seconds=0.5)
    assert create_app().state.settings == Settings(model=Path("model.joblib"), poll_seconds=0.5)


def test_serve_checks_the_settings_before_it_starts(
    folder: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for name in VARIABLES:  # serve sets them: undone after the test
        monkeypatch.setenv(name, "")
    code, out, err = call_main(serve.main, ["--model-dir", str(folder), "--poll-seconds", "-1"], capsys)
    assert (code, out) == (1, "")
    assert err == "error: TRIP_DURATION_POLL_SECONDS: Input should be greater than 0 (got '-1.0')\n"


def test_serve_wants_a_graceful_wait_above_0_seconds(folder: Path, capsys: pytest.CaptureFixture) -> None:
    for value in ["0", "-1", "nan", "inf"]:
        argv = ["--model-dir", str(folder), "--graceful-seconds", value]
        code, out, err = call_main(serve.main, argv, capsys)
        assert (code, out) == (1, "")
        assert err == f"error: --graceful-seconds: must be finite and above 0 (got {float(value)})\n"
