"""The service's contract, against the real thing: a model with time features from `dvc repro` on
the course months, served by `trip-duration serve` on a free port of 127.0.0.1.

Pickup times are New York wall-clock time whatever offset they are sent with; a body over the
limit is a 413 before it is read; the OpenAPI document lists every answer, and schemathesis
finds nothing wrong with any of them.
"""

import http.client
import json
import re
import socket
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import requests  # schemathesis' own client, installed with it
from conftest import BIN, ROOT, copy_of, env, sh

from tests.e2e.browser import Browser
from tests.e2e.serving import Server, request, wait_ready
from trip_duration_ops.service.limits import MAX_BODY_BYTES

TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}


@pytest.fixture(scope="module")
def time_model(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course months' model with the pickup hour and weekday (`features=time`), from `dvc repro`."""
    project = copy_of(reproduced, tmp_path_factory.mktemp("time") / "project")
    sh("trip-duration", "params", "compose", "features=time", cwd=project)
    sh("dvc", "repro", cwd=project)
    return project / "models" / "trip-duration.joblib"


@pytest.fixture(scope="module")
def server(time_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    served = Server("--model", str(time_model), cwd=tmp_path_factory.mktemp("serve"))
    try:  # stopped even when it never gets ready
        wait_ready(served.port)
        yield served
    finally:
        served.stop()


def test_a_pickup_is_scored_at_its_new_york_time(server: Server, time_model: Path) -> None:
    sent = [
        "2021-03-01T08:00:00",  # winter (EST): naive is New York time ...
        "2021-03-01T08:00:00-05:00",  # ... the same with its offset ...
        "2021-03-01T13:00:00Z",  # ... and in UTC
        "2021-07-01T09:00:00",  # summer (EDT)
        "2021-07-01T09:00:00-04:00",
        "2021-07-01T13:00:00Z",
        "2021-03-01T13:00:00",  # 13:00 in New York: another hour, other minutes
        "2021-07-01T13:00:00",
    ]
    status, body, _ = request(server.port, "POST", "/predict", [{**TRIP, "pickup_datetime": t} for t in sent])
    assert status == 200
    minutes = [answer["duration"] for answer in body]
    assert minutes[0] == minutes[1] == minutes[2] and minutes[3] == minutes[4] == minutes[5]
    assert len({minutes[0], minutes[3], minutes[6], minutes[7]}) == 4
    model = joblib.load(time_model)
    naive = [0, 3, 6, 7]
    local = pd.DataFrame([{**TRIP, "pickup_datetime": pd.Timestamp(sent[index])} for index in naive])
    expected = model.predict(local[model.feature_names_in_])
    assert [minutes[index] for index in naive] == [round(float(m), 4) for m in expected]


def test_both_ways_of_scoring_see_the_same_new_york_time(time_model: Path) -> None:
    from trip_duration_ops.service.deployment import Loaded, load_file
    from trip_duration_ops.service.routes import validate

    loaded = load_file(time_model)
    assert loaded.scorer is not None  # a linear model: the service scores it with numpy
    trips, _ = validate(
        json.dumps(
            [{**TRIP, "pickup_datetime": t} for t in ("2021-03-01T08:00:00", "2021-03-01T08:00:00-05:00")]
        ).encode()
    )
    by_model = Loaded(loaded.model, loaded.manifest, loaded.columns).predict(trips)  # model.predict
    by_scorer = loaded.predict(trips)
    assert by_model[0] == by_model[1] and abs(by_scorer - by_model).max() < 1e-9


def raw_post(port: int, headers: str, parts: Iterable[bytes]) -> tuple[int, dict[str, str], Any]:
    """POST /predict with these headers and body bytes, sent as they are; the answer parsed."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        for part in parts:
            connection.sendall(part)
        response = http.client.HTTPResponse(connection)
        response.begin()
        answer = json.loads(response.read())
        return response.status, {key.lower(): value for key, value in response.getheaders()}, answer


def chunked(size: int, end: bool) -> Iterator[bytes]:
    """A body of `size` bytes (a trip, then spaces) in 64 KiB chunks; the closing chunk if `end`."""
    body = json.dumps([TRIP]).encode().ljust(size)
    for start in range(0, size, 65_536):
        part = body[start : start + 65_536]
        yield b"%x\r\n%b\r\n" % (len(part), part)
    if end:
        yield b"0\r\n\r\n"


def spaces(size: int) -> Iterator[bytes]:
    """`size` spaces from a generator, which a client sends chunked: it cannot know their length."""
    for start in range(0, size, 65_536):
        yield b" " * min(65_536, size - start)


def assert_413(status: int, headers: dict[str, str], answer: Any) -> None:
    assert status == 413 and headers["connection"] == "close"
    assert answer == {"detail": f"request body over {MAX_BODY_BYTES:,} bytes", "max_bytes": MAX_BODY_BYTES}


def assert_healthy(port: int) -> None:
    assert request(port, "GET", "/health")[:2] == (200, {"status": "alive"})
    assert request(port, "POST", "/predict", TRIP)[0] == 200


def test_a_body_over_the_limit_declared_in_content_length_is_a_413_before_any_of_it_is_read(
    server: Server,
) -> None:
    json_type = "Content-Type: application/json\r\n"
    # Only the headers are sent: the answer cannot have waited for the body.
    assert_413(*raw_post(server.port, f"{json_type}Content-Length: {MAX_BODY_BYTES + 1}\r\n", []))
    # A client that sends the whole body anyway still reads the answer.
    sent = requests.post(f"http://127.0.0.1:{server.port}/predict", data=b" " * (3 * MAX_BODY_BYTES))
    assert_413(sent.status_code, dict(sent.headers), sent.json())
    at_limit = json.dumps([TRIP]).encode().ljust(MAX_BODY_BYTES)
    status, body, _ = request(server.port, "POST", "/predict", at_limit)
    assert status == 200 and len(body) == 1
    assert_healthy(server.port)


def test_a_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    headers = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    # One byte over, and the body never ends: the answer comes once the limit is passed.
    assert_413(*raw_post(server.port, headers, chunked(MAX_BODY_BYTES + 1, end=False)))
    sent = requests.post(f"http://127.0.0.1:{server.port}/predict", data=spaces(3 * MAX_BODY_BYTES))
    assert_413(sent.status_code, dict(sent.headers), sent.json())
    status, _, body = raw_post(server.port, headers, chunked(MAX_BODY_BYTES, end=True))
    assert status == 200 and len(body) == 1
    assert_healthy(server.port)


def test_the_openapi_document_lists_every_answer(server: Server) -> None:
    document = request(server.port, "GET", "/openapi.json")[1]
    answers = {
        (path, method): sorted(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    assert answers == {
        ("/predict", "post"): ["200", "413", "422", "503"],
        ("/ready", "get"): ["200", "413", "503"],
        ("/health", "get"): ["200", "413"],
        ("/model", "get"): ["200", "413"],
        ("/reload", "post"): ["200", "413"],
    }
    assert f"{MAX_BODY_BYTES:,} bytes" in document["info"]["description"]
    assert f"over {MAX_BODY_BYTES:,} bytes" in (ROOT / "docs" / "serving.md").read_text()
    schemas = document["components"]["schemas"]
    assert set(schemas["InvalidRequest"]["required"]) == {"detail"}
    assert set(schemas["NotReady"]["properties"]) == {"ready", "detail"}


def test_schemathesis_finds_nothing_wrong(server: Server, tmp_path: Path) -> None:
    # Every check. All phases: the coverage phase sends each keyword's boundaries and violations
    # (a zone 0, 265.0, "25", a pickup 0...), then fuzzing 50 generated cases per operation on
    # top: enough for 25.0 and Unix times to come up, in seconds on the shared two cores. One
    # worker and a fixed seed, so that a failure replays; no example database between runs.
    done = subprocess.run(
        [str(BIN / "schemathesis"), "run", f"http://127.0.0.1:{server.port}/openapi.json",
         "--checks", "all", "--max-examples", "50", "--seed", "1", "--workers", "1",
         "--generation-database", "none", "--no-color"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    generated = re.search(r"(\d+) generated, (\d+) passed", done.stdout)
    assert generated and generated[1] == generated[2] and int(generated[1]) >= 150, done.stdout
    assert "Tested: 5" in done.stdout
    assert_healthy(server.port)
    assert "Traceback" not in server.log.read_text()


def test_docs_draw_every_operation_offline_in_a_browser(server: Server) -> None:
    """/docs in Chromium with nothing outside the service reachable: Swagger UI's script and styles
    come from the service, and it draws one block per operation of the OpenAPI document."""

    def operations(page: Any) -> list[str]:
        page.wait_for_selector(".opblock-summary-path", timeout=30_000)
        return page.eval_on_selector_all(".opblock-summary-path", "found => found.map(e => e.dataset.path)")

    with Browser() as browser:
        seen = browser.visit(f"http://127.0.0.1:{server.port}/docs", "service-docs", then=operations)
    assert seen.outside_requests == []
    assert seen.console_errors == []
    assert seen.result == ["/predict", "/health", "/ready", "/model", "/reload"]
