"""Serve the deployed model over HTTP (FastAPI under uvicorn), switching versions as they are deployed.

    trip-duration serve --model-dir deploy/ [--host 127.0.0.1] [--port 8000] [--workers 1]
    trip-duration serve --model models/trip-duration.joblib      # a file from `dvc repro`

With --model-dir the service polls the folder's manifest every --poll-seconds (and on
POST /reload), loads and probes a newly deployed model before swapping it in, and keeps the old
one if the new one fails. Endpoints: POST /predict, GET /health, /ready, /model; docs at /docs.
Logs one line per request with its trip count and latency.
"""

import argparse
import gc
import logging
import os
from pathlib import Path

from trip_duration.errors import InputError, run
from trip_duration_ops.service import LOG_FORMAT


def check_model(path: Path) -> None:
    """A model file that cannot serve (not a model, truncated, empty) stops the command here, in one
    line, instead of a service that starts and is never ready."""
    from trip_duration_ops.service.deployment import DeploymentError, load_file

    try:
        load_file(path)
    except DeploymentError as error:
        raise InputError(path, str(error).removeprefix(f"{path}: ")) from None
    gc.collect()  # the workers load it again, each in its own process


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration serve", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model-dir", type=Path, help="a folder written by trip-duration deploy")
    source.add_argument("--model", type=Path, help="a model file, served as it is")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1, help="processes (%(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=2.0, help="manifest check interval")
    parser.add_argument("--graceful-seconds", type=float, default=30.0, help="wait at SIGTERM (%(default)s)")
    args = parser.parse_args(argv)
    if not 0 < args.graceful_seconds < float("inf"):
        raise InputError("--graceful-seconds", f"must be finite and above 0 (got {args.graceful_seconds})")
    if args.model_dir is not None and not args.model_dir.is_dir():
        raise InputError(args.model_dir, "is not a folder (write one: trip-duration deploy --to ...)")
    if args.model is not None and not args.model.is_file():
        raise InputError(args.model, "is not a file (make one: dvc repro)")
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
    read_settings()  # as each worker will read them: a bad one stops the command here, in one line
    if args.model is not None:
        check_model(args.model)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    uvicorn.run(
        "trip_duration_ops.service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,  # the service's own line per request says more
        timeout_graceful_shutdown=args.graceful_seconds,  # annotated int; asyncio.timeout takes a float
        log_config=None,  # keep the format set above, in every worker
    )


if __name__ == "__main__":
    run(main)
