"""Serve the deployed model over HTTP (FastAPI under uvicorn), switching versions as they are deployed.

    trip-duration serve --model-dir deploy/ [--host 127.0.0.1] [--port 8000] [--workers 1]
                        [--log-format text|json] [--no-metrics]
    trip-duration serve --model models/trip-duration.joblib      # a file from `dvc repro`

With --model-dir the service polls the folder's manifest every --poll-seconds (and on
POST /reload), loads and probes a newly deployed model before swapping it in, and keeps the old
one if the new one fails. Endpoints: POST /predict, GET /health, /ready, /model, /metrics
(Prometheus); docs at /docs. Logs one line per request (its id, route, status, latency, trips and
model) and one per event (start, load, swap, refusal, shutdown), as text or as JSON.
"""

import argparse
import atexit
import gc
import os
import shutil
import tempfile
from pathlib import Path

from trip_duration.errors import InputError, run

# prometheus-client reads it when imported: set before the service's modules are (metrics.py).
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


def check_model(path: Path) -> None:
    """A model file that cannot serve (not a model, truncated, empty) stops the command here, in one
    line, instead of a service that starts and is never ready."""
    from trip_duration_ops.service.deployment import DeploymentError, load_file

    try:
        load_file(path)
    except DeploymentError as error:
        raise InputError(path, str(error).removeprefix(f"{path}: ")) from None
    gc.collect()  # the workers load it again, each in its own process


def share_metrics() -> None:
    """The folder where the workers write their metrics for /metrics to add up: PROMETHEUS_MULTIPROC_DIR
    as given (emptied of an earlier run's values), or a new one removed at exit."""
    given = os.environ.get(MULTIPROCESS)
    if given:
        folder = Path(given)
        if not folder.is_dir():
            raise InputError(MULTIPROCESS, f"{given} is not a folder")
        for stale in folder.glob("*.db"):
            stale.unlink()
        return
    folder = Path(tempfile.mkdtemp(prefix="trip-duration-metrics-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ[MULTIPROCESS] = str(folder)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration serve", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-dir", type=Path, help="a folder written by trip-duration deploy")
    source.add_argument("--model", type=Path, help="a model file, served as it is")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes (%(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="manifest check interval")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="text, or json: one object per line (%(default)s)")  # fmt: skip
    parser.add_argument("--no-metrics", dest="metrics", action="store_false", help="no GET /metrics")
    args = parser.parse_args(argv)
    if args.model_dir is not None and not args.model_dir.is_dir():
        raise InputError(args.model_dir, "is not a folder (write one: trip-duration deploy --to ...)")
    if args.model is not None and not args.model.is_file():
        raise InputError(args.model, "is not a file (make one: dvc repro)")
    if args.metrics:
        share_metrics()  # before prometheus-client is imported, here or in a worker
    try:
        import uvicorn

        from trip_duration_ops.service.settings import read_settings
    except ImportError as error:
        raise InputError(str(error.name), "not installed: pip install 'nyc-taxi-duration[serve]'") from None

    # uvicorn's workers are separate processes: each builds the app from these.
    os.environ.pop("TRIP_DURATION_MODEL_DIR", None)
    os.environ.pop("TRIP_DURATION_MODEL", None)
    if args.model_dir is not None:
        os.environ["TRIP_DURATION_MODEL_DIR"] = str(args.model_dir.resolve())
    else:
        os.environ["TRIP_DURATION_MODEL"] = str(args.model.resolve())
    os.environ["TRIP_DURATION_POLL_SECONDS"] = str(args.poll_seconds)
    os.environ["TRIP_DURATION_LOG_FORMAT"] = args.log_format
    os.environ["TRIP_DURATION_METRICS"] = str(args.metrics).lower()
    read_settings()  # as each worker will read them: a bad one stops the command here, in one line
    if args.model is not None:
        check_model(args.model)
    from trip_duration_ops.service.observe import configure_logging

    configure_logging(args.log_format)
    uvicorn.run(
        "trip_duration_ops.service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,  # the service's own line per request says more
        log_config=None,  # keep the format set above, in every worker
    )


if __name__ == "__main__":
    run(main)
