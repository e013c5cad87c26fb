"""`trip-duration serve` as its own process on a free port of 127.0.0.1, and requests to it."""

import http.client
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import joblib
import yaml
from conftest import BIN, ROOT, env, mirror_dir

from bench.services import free_port


def request(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode() if not isinstance(body, bytes) else body
        connection.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        headers = {key.lower(): value for key, value in response.getheaders()}
        parsed = json.loads(data) if headers.get("content-type", "").startswith("application/json") else data
        return response.status, parsed, headers
    finally:
        connection.close()


class Server:
    """`trip-duration serve` as its own process; stops with the test that started it."""

    def __init__(self, *args: str, cwd: Path, poll_seconds: float = 0.3) -> None:
        self.port = free_port()
        command = [
            str(BIN / "trip-duration"),
            "serve",
            *args,
            "--port",
            str(self.port),
            "--poll-seconds",
            str(poll_seconds),
        ]
        self.log = cwd / f"serve-{self.port}.log"
        self.process = subprocess.Popen(
            command, cwd=cwd, env=env(), stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if request(self.port, "GET", "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"the service did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def wait_ready(port: int) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body, _ = request(port, "GET", "/ready")
        if status == 200:
            return body
        time.sleep(0.1)
    raise AssertionError("the service never became ready")


def fit_hgb(folder: Path) -> Path:
    """model=hgb (gradient boosting on target-encoded zones, no numpy scorer), fit on 2021-01: the
    service predicts it in a worker thread, a batch at a time."""
    from threadpoolctl import threadpool_limits

    from trip_duration.model import build_model, fit, input_columns
    from trip_duration.trips import cleaning, read_window

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    hgb = yaml.safe_load((ROOT / "conf" / "model" / "hgb.yaml").read_text())
    features = {**params["features"], **hgb["features"]}
    trips = read_window(mirror_dir(), "green", ["2021-01"], **cleaning(params["data"]))
    columns = input_columns(features)
    frame = trips.select([*columns, "duration"]).to_pandas()
    model = build_model(features, hgb["model"])
    with threadpool_limits(1):  # OpenMP threads spinning on a busy 2-core machine: 1 s becomes 80 s
        fit(model, frame[columns], frame["duration"].to_numpy())
    path = folder / "hgb.joblib"
    joblib.dump(model, path)
    return path
