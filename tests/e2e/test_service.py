"""The service for real: deploy from a local registry, serve on 127.0.0.1, switch versions under load.

A bare origin holds two registered versions (v0.1.0 linear, v0.1.1 ridge); `trip-duration deploy`
places them in a serving folder and `trip-duration serve` runs as its own process on a free port.
Only what needs that real server is here: each route's answers are tests/unit/test_service_app.py.
"""

import http.client
import json
import pickle
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import BIN, env, make_project, sh
from prometheus_client.parser import text_string_to_metric_families

from bench.services import free_port
from tests.e2e.serving import Server, fit_hgb, request, wait_ready
from tests.e2e.test_readme import command

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


def until_every_client_gets(seen: list[list[tuple[int, str]]], version: str, after: int = 1) -> None:
    """Wait, at most 30 s, until each client's last answer (of at least `after`) came from `version`;
    then half a second more under the load."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
        len(answers) >= after and answers[-1][1] == version for answers in seen
    ):
        time.sleep(0.05)
    time.sleep(0.5)


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
    lead = datetime.fromisoformat(manifest["takes_over_at"]) - datetime.fromisoformat(manifest["deployed_at"])
    assert manifest["takes_over_at"].endswith("Z") and 5 <= lead.total_seconds() < 60  # --lead-seconds 5
    assert manifest["metrics"]["rmse"] == 7.5991
    server = serve("--model-dir", str(folder))
    assert wait_ready(server.port) == {"ready": True, "model": "trip-duration", "version": "v0.1.1"}
    model = joblib.load(folder / "trip-duration-v0.1.1.joblib")
    expected = round(float(model.predict(pd.DataFrame([TRIP]))[0]), 4)
    status, body, headers = request(server.port, "POST", "/predict", TRIP)
    assert (status, body) == (200, {"duration": expected, "model": "trip-duration", "version": "v0.1.1"})
    assert headers["x-model-version"] == "v0.1.1"


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
        until_every_client_gets(seen, version)

    try:
        until("v0.1.0")
        deploy(registry, folder, "--version", "v0.1.1")
        until("v0.1.1")
        # A broken deployment: a manifest naming a file that matches its md5 but is not a model.
        broken = folder / "trip-duration-v9.9.9.joblib"
        broken.write_bytes(b"not a pickle")
        manifest = json.loads((folder / "manifest.json").read_text())
        from trip_duration_ops.catalog import file_md5

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


def test_serve_a_file_that_is_not_a_model_fails_in_one_line(hgb_model: Path, tmp_path: Path) -> None:
    real = hgb_model.read_bytes()
    bad = {"empty": b"", "text": b"not a model\n", "truncated": real[: len(real) // 2]}
    bad["a pickle, not a model"] = pickle.dumps({"coef": [1.0]})
    for name, data in bad.items():
        (tmp_path / f"{name}.joblib").write_bytes(data)
    started = time.monotonic()

    def start(name: str) -> subprocess.Popen:
        port = str(free_port())
        command = [str(BIN / "trip-duration"), "serve", "--model", f"{name}.joblib", "--port", port]
        return subprocess.Popen(command, cwd=tmp_path, env=env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip

    runs = {name: start(name) for name in bad}
    for name, run in runs.items():
        try:
            out, err = run.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            run.kill()
            raise AssertionError(f"serve --model {name}.joblib is still running") from None
        assert run.returncode == 1 and out == "" and "Traceback" not in err, (name, err)
        assert len(err.splitlines()) == 1 and err.startswith(f"error: {name}.joblib: cannot serve"), err
    # Four at once, each importing scikit-learn: 37 s with load average 12 on 2 cores, 6 s idle.
    assert time.monotonic() - started < 90


@pytest.fixture(scope="module")
def hgb_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_hgb(tmp_path_factory.mktemp("hgb"))


def test_health_answers_while_a_tree_model_scores_a_large_batch(hgb_model: Path, serve: Any) -> None:
    server = serve("--model", str(hgb_model))
    assert wait_ready(server.port)["version"].startswith("local-")
    rng = np.random.default_rng(0)
    zones, miles = rng.integers(1, 266, size=(10_000, 2)), rng.exponential(3.0, size=10_000)
    batch = json.dumps([
        {"PULocationID": int(pu), "DOLocationID": int(do), "trip_distance": round(float(m), 2)}
        for (pu, do), m in zip(zones, miles, strict=True)
    ])  # fmt: skip
    scored: list[float] = []  # when each batch was answered
    stop = threading.Event()

    def client() -> None:  # one 10,000-trip batch after another
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while not stop.is_set():
            connection.request("POST", "/predict", body=batch, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 200 and len(json.loads(response.read())) == 10_000
            scored.append(time.monotonic())
        connection.close()

    thread = threading.Thread(target=client)
    thread.start()
    took: list[float] = []
    try:
        until = time.monotonic() + 30
        while not scored and time.monotonic() < until:
            time.sleep(0.01)
        health = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        first, until = len(scored), time.monotonic() + 3
        while time.monotonic() < until:
            started = time.perf_counter()
            health.request("GET", "/health")
            assert health.getresponse().read() == b'{"status":"alive"}'
            took.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
        health.close()
    finally:
        stop.set()
        thread.join()
    batches = len(scored) - first
    took.sort()
    print(f"{batches} batches scored; /health ms: p50 {took[len(took) // 2]:.1f}, "
          f"p75 {took[len(took) * 3 // 4]:.1f}, max {took[-1]:.1f}, n {len(took)}")  # fmt: skip
    # Measured with load average 12 on 2 cores: predict on the event loop, p50 162 ms and 13 probes
    # in 3 s; in a thread, p50 1.0 ms, p75 under 10 ms (the body's validation and a busy machine
    # still hold the loop now and then: a bound on the worst probe would test the machine).
    # At least one batch answered while the probes ran: scoring went on beside them (how many is the
    # machine's business: the suite runs on every core).
    assert batches >= 1 and took[len(took) * 3 // 4] < 50, took


@pytest.mark.parametrize("lead", [[], ["--lead-seconds", "0"]], ids=["default lead", "no lead"])
def test_two_workers_switch_as_one(registry: Path, tmp_path: Path, serve: Any, lead: list[str]) -> None:
    """Clients on new connections reach both worker processes: no client sees v0.1.0 after v0.1.1.
    With no lead, each worker meets the new manifest on a request after its time: it loads it then."""
    folder = tmp_path / "deploy"
    deploy(registry, folder, "--version", "v0.1.0")
    server = serve("--model-dir", str(folder), "--workers", "2")
    wait_ready(server.port)
    seen: list[list[tuple[int, str]]] = [[] for _ in range(6)]
    stop = threading.Event()

    def client(answers: list[tuple[int, str]]) -> None:
        while not stop.is_set():  # a new connection per request: uvicorn's workers take turns
            status, body, _ = request(server.port, "POST", "/predict", TRIP)
            answers.append((status, body.get("version", "") if isinstance(body, dict) else ""))

    clients = [threading.Thread(target=client, args=(answers,)) for answers in seen]
    for thread in clients:
        thread.start()

    def until(version: str) -> None:
        until_every_client_gets(seen, version, after=21)

    try:
        until("v0.1.0")
        deployed = deploy(registry, folder, "--version", "v0.1.1", *lead)
        until("v0.1.1")
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert deployed.startswith("deploy: trip-duration v0.1.1 -> ")
    assert {status for answers in seen for status, _ in answers} == {200}
    for answers in seen:
        versions = [version for _, version in answers]
        switched = versions.index("v0.1.1")
        assert set(versions[:switched]) == {"v0.1.0"} and set(versions[switched:]) == {"v0.1.1"}, versions
    answered = re.findall(
        r" (\d+) INFO predict: 1 trip\(s\), [\d.]+ ms, trip-duration (v[\d.]+)", server.log.read_text()
    )
    by_version = {version: {pid for pid, v in answered if v == version} for version in ("v0.1.0", "v0.1.1")}
    assert len(by_version["v0.1.0"]) == 2 and by_version["v0.1.1"] == by_version["v0.1.0"], by_version


def test_two_workers_add_up_their_metrics_and_log_json_lines(
    registry: Path, tmp_path: Path, serve: Any
) -> None:
    """GET /metrics from either worker counts every worker's requests; each worker's gauges carry its
    pid; with --log-format json every line of the log is one JSON object, one per request."""
    folder = tmp_path / "deploy"
    deploy(registry, folder, "--version", "v0.1.0")
    reference = json.loads((folder / "manifest.json").read_text())["reference"]
    printed = command("trip-duration serve --model-dir deploy/ --workers 2").split()[2:]  # docs/operations.md
    server = serve(*[str(folder) if arg == "deploy/" else arg for arg in printed])
    wait_ready(server.port)
    sent: list[str] = []

    def client(ids: list[str]) -> None:
        for rid in ids:  # a new connection per request: uvicorn's workers take turns
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            connection.request("POST", "/predict", json.dumps([TRIP, TRIP]), {"X-Request-ID": rid})
            answer = connection.getresponse()
            answer.read()
            assert (answer.status, answer.getheader("x-request-id")) == (200, rid)
            connection.close()

    def answering() -> set[int]:
        """The pids whose request lines are in the log so far (each line is written whole)."""
        lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
        return {line["pid"] for line in lines if line["event"] == "request" and line["route"] == "/predict"}

    while len(answering()) < 2:  # rounds of 40 until both workers have answered (the kernel picks)
        assert len(sent) < 800, "one worker answered every request"
        ids = [f"r-{len(sent) + index}" for index in range(40)]
        sent += ids
        clients = [threading.Thread(target=client, args=(ids[start::4],)) for start in range(4)]
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join()
        time.sleep(0.2)
    time.sleep(1.5)  # each worker's readiness gauge has had a turn
    curl = command("curl -s localhost:8000/metrics").replace("8000", str(server.port))
    for _ in range(4):  # whichever worker answers, the same sums
        text = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, check=True).stdout
        found = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        ok = frozenset({("route", "/predict"), ("method", "POST"), ("status", "200")})
        assert found[("trip_duration_http_requests_total", ok)] == len(sent)
        assert found[("trip_duration_trips_total", frozenset())] == 2 * len(sent)
        assert found[("trip_duration_request_trips_sum", frozenset())] == 2 * len(sent)
        serving = {
            dict(labels)["pid"] for (name, labels), v in found.items() if name == "trip_duration_model_info"
        }
        ready = {
            dict(labels)["pid"]: v for (name, labels), v in found.items() if name == "trip_duration_ready"
        }
        medians = {
            v for (name, _), v in found.items() if name == "trip_duration_model_reference_median_minutes"
        }
        assert len(serving) == 2 and ready == dict.fromkeys(serving, 1.0)
        assert medians == {reference["predicted_minutes_median"]}
    server.stop()
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]
    answered = [line for line in lines if line["event"] == "request" and line["route"] == "/predict"]
    assert sorted(line["request_id"] for line in answered) == sorted(sent)
    assert {(line["status"], line["trips"], line["version"]) for line in answered} == {(200, 2, "v0.1.0")}
    workers = {line["pid"] for line in answered}
    assert len(workers) == 2 and {str(pid) for pid in workers} == serving
    for event in ("load", "start", "shutdown"):
        assert {line["pid"] for line in lines if line["event"] == event} == workers, event
