"""The two services of the serving benchmark, each as its own process group on a free local port."""

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.make_months import ROOT
from bench.project import project_env

COURSE, PROJECT = "course (Flask, gunicorn sync)", "trip-duration serve"
PROJECT_NO_METRICS = f"{PROJECT} --no-metrics"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(port: int, body: Any) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/predict", json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if response.status == 200 else data
    finally:
        connection.close()


def get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


class Server:
    """A service as its own process group, its output in a log file; stopped by its own pid."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.name, self.port, self.log_path = name, port, log_path
        log(f"starting {name}: {' '.join(command)}")
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, trip: dict[str, Any], seconds: float = 120) -> None:
        """Until it answers a trip with 200 (the course service has no readiness endpoint)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with contextlib.suppress(OSError):  # not listening yet
                if post(self.port, trip)[0] == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its workers
                self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_course(model: Path, workers: int, workdir: Path) -> Server:
    port = free_port()
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    command = [gunicorn, f"--bind=127.0.0.1:{port}", "--workers", str(workers), "bench.course_service:app"]
    env = {**project_env(), "COURSE_MODEL": str(model), "PYTHONPATH": str(ROOT)}
    return Server(COURSE, command, env, port, workdir / "course-service.log")


def deployment(model: Path, folder: Path, version: str = "bench") -> Path:
    """`folder` holding the model file and its manifest, as `trip-duration deploy` writes them."""
    from trip_duration_ops.catalog import file_md5

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, folder / model.name)
    manifest = {"name": "trip-duration", "version": version, "md5": file_md5(model), "file": model.name}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def start_project(
    model: Path, workers: int, workdir: Path, deployed: bool = False, metrics: bool = True
) -> Server:
    """`trip-duration serve --model FILE`, or with `deployed` --model-dir: the file beside a manifest
    (as `trip-duration deploy` writes it), where every request looks at the manifest; with
    `metrics` false, --no-metrics (no /metrics, nothing recorded), as a server of its own name."""
    source = ["--model", str(model)]
    if deployed:
        source = ["--model-dir", str(deployment(model, workdir / "deploy"))]
    if metrics:
        return serve_project(PROJECT, source, workers, workdir / "project-service.log")
    log_path = workdir / "project-service-no-metrics.log"
    return serve_project(PROJECT_NO_METRICS, [*source, "--no-metrics"], workers, log_path)


def serve_project(name: str, arguments: list[str], workers: int, log_path: Path) -> Server:
    """`trip-duration serve ARGUMENTS` on a free port with `workers` processes."""
    port = free_port()
    serve = str(Path(sys.executable).parent / "trip-duration")
    command = [serve, "serve", *arguments, "--port", str(port), "--workers", str(workers)]
    env = {**project_env(), "PYTHONPATH": str(ROOT)}  # this checkout's service, as the course's
    return Server(name, command, env, port, log_path)
