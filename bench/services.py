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


def start_project(model: Path, workers: int, workdir: Path, deployed: bool = False) -> Server:
    """`trip-duration serve --model FILE`, or with `deployed` --model-dir: the file beside a manifest
    (as `trip-duration deploy` writes it), where every request looks at the manifest."""
    port = free_port()
    serve = str(Path(sys.executable).parent / "trip-duration")
    source = ["--model", str(model)]
    if deployed:
        from trip_duration_ops.catalog import file_md5

        folder = workdir / "deploy"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(model, folder / model.name)
        manifest = {"name": "trip-duration", "version": "bench", "md5": file_md5(model), "file": model.name}
        (folder / "manifest.json").write_text(json.dumps(manifest))
        source = ["--model-dir", str(folder)]
    command = [serve, "serve", *source, "--port", str(port), "--workers", str(workers)]
    env = {**project_env(), "PYTHONPATH": str(ROOT)}  # this checkout's service, as the course's
    return Server(PROJECT, command, env, port, workdir / "project-service.log")
