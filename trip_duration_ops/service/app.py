"""The ASGI app: POST /predict, GET /health, /ready, /model, POST /reload; OpenAPI at /docs.

Configured by environment, so that every uvicorn worker process builds the same app:
TRIP_DURATION_MODEL_DIR (a folder written by `trip-duration deploy`) or TRIP_DURATION_MODEL
(a model file), and TRIP_DURATION_POLL_SECONDS (how often the folder's manifest is checked).
"""

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trip_duration_ops.service import LOG_FORMAT
from trip_duration_ops.service.batching import Batcher
from trip_duration_ops.service.limits import MAX_BODY_BYTES, BodyLimit
from trip_duration_ops.service.schemas import (
    MAX_BATCH,
    InvalidRequest,
    NotReady,
    Prediction,
    Ready,
    TooLarge,
    Trip,
)
from trip_duration_ops.service.state import NOT_READY as NO_MODEL_YET
from trip_duration_ops.service.state import ModelState
from trip_duration_ops.service.supervision import Loop

log = logging.getLogger("trip_duration.service")
ONE, MANY = TypeAdapter(Trip), TypeAdapter(list[Trip])
NOT_READY = {"ready": False, "detail": NO_MODEL_YET}


def validate(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The trips of a request body and whether it was a list; a 422 naming the field otherwise."""
    many = body.lstrip()[:1] == b"["
    try:
        trips = MANY.validate_json(body) if many else [ONE.validate_json(body)]
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False, include_input=False)]
        ) from None
    if len(trips) > MAX_BATCH:
        problem = {"loc": ("body",), "msg": f"at most {MAX_BATCH} trips per request", "type": "too_long"}
        raise RequestValidationError([problem])
    return [trip.__dict__ for trip in trips], many


class VersionHeader:
    """ASGI middleware: every response names the model serving (X-Model-Version), 422s included.

    /predict sets the header itself, to the version that answered it, which a switch in the
    meantime does not change; other responses get the version serving when they are sent.
    """

    def __init__(self, app: ASGIApp, state: ModelState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            current = self.state.current
            if message["type"] == "http.response.start" and current is not None:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-model-version" for name, _ in headers):
                    headers.append((b"x-model-version", current.version.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_version)


def poll_loop(state: ModelState, seconds: float) -> Loop:
    """The deployment folder's poll: every `seconds`, and when a pending model is due."""

    async def step() -> None:
        await asyncio.sleep(state.next_check(seconds))
        await state.reload()

    return Loop("deployment poll", step, backoff=seconds)


def create_app(
    model_dir: Path | None = None, model_file: Path | None = None, poll_seconds: float = 2.0
) -> FastAPI:
    """The service for a deployment folder or a model file (default: from the environment)."""
    if model_dir is None and model_file is None:
        folder, file = os.environ.get("TRIP_DURATION_MODEL_DIR"), os.environ.get("TRIP_DURATION_MODEL")
        model_dir, model_file = (Path(folder) if folder else None), (Path(file) if file else None)
        poll_seconds = float(os.environ.get("TRIP_DURATION_POLL_SECONDS", poll_seconds))
    if not logging.getLogger().handlers:  # a worker process that uvicorn spawned: log as the parent does
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    state, batcher = ModelState(model_dir, model_file), Batcher()
    loops = [Loop("batcher", batcher.step)]
    if model_dir is not None:
        loops.append(poll_loop(state, poll_seconds))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loops[0].start()
        try:
            await state.reload()
        except Exception:  # the poll tries again
            log.exception("loading the deployment failed (retrying every %.1f s)", poll_seconds)
        for loop in loops[1:]:
            loop.start()
        yield
        for loop in loops:
            loop.stop()

    def problem() -> str | None:
        """Why the service cannot answer as it should: a loop that cannot go on, or the model."""
        return next((why for loop in loops if (why := loop.problem())), None) or state.problem()

    app = FastAPI(
        title="trip-duration",
        summary="NYC taxi trip duration in minutes",
        description=f"Request bodies are at most {MAX_BODY_BYTES:,} bytes: any larger gets a 413.",
        lifespan=lifespan,
        responses={413: {"model": TooLarge, "description": f"Request body over {MAX_BODY_BYTES:,} bytes"}},
    )
    app.state.model, app.state.batcher, app.state.loops = state, batcher, loops
    app.add_middleware(BodyLimit)  # inside VersionHeader: a 413 names the version serving too
    app.add_middleware(VersionHeader, state=state)
    many_schema = {"type": "array", "items": Trip.model_json_schema(), "maxItems": MAX_BATCH}
    body_schema = {"oneOf": [Trip.model_json_schema(), many_schema]}

    @app.post(
        "/predict",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": body_schema}}}
        },
        response_model=Prediction | list[Prediction],
        responses={
            422: {"model": InvalidRequest, "description": "Not one trip or a list of trips"},
            503: {"model": NotReady, "description": "Not ready: the detail says why"},
        },
    )
    async def predict(request: Request) -> JSONResponse:
        """Minutes for one trip, or for a list of trips in order."""
        started = time.perf_counter()
        trips, many = validate(await request.body())
        try:
            loaded = await state.serving()
        except Exception as error:  # the model due now did not load in this process
            return JSONResponse({**NOT_READY, "detail": state.problem() or repr(error)}, status_code=503)
        if loaded is None or loops[0].stopped():  # nothing to answer with, or nothing would score it
            return JSONResponse({**NOT_READY, "detail": problem() or NOT_READY["detail"]}, status_code=503)
        minutes: np.ndarray | list[float] = await batcher.predict(loaded, trips) if trips else []
        answers = [
            {"duration": round(float(m), 4), "model": loaded.name, "version": loaded.version} for m in minutes
        ]
        response = JSONResponse(answers if many else answers[0], headers={"X-Model-Version": loaded.version})
        took = (time.perf_counter() - started) * 1000  # the body is rendered: all but sending it
        log.info("predict: %d trip(s), %.2f ms, %s %s", len(trips), took, loaded.name, loaded.version)
        return response

    @app.get("/health")
    async def health() -> dict[str, str]:
        """The process is alive (it may have no model yet: see /ready)."""
        return {"status": "alive"}

    @app.get(
        "/ready",
        responses={
            200: {"model": Ready},
            503: {"model": NotReady, "description": "Not ready: the detail says why"},
        },
    )
    async def ready() -> JSONResponse:
        """200 once a model has loaded and answered its probe; 503 before, or when it cannot go on."""
        with contextlib.suppress(Exception):  # a due switch fails here as it does in /predict: said below
            await state.serving()
        if (why := problem()) is not None:
            return JSONResponse({**NOT_READY, "detail": why}, status_code=503)
        loaded = state.current
        assert loaded is not None
        body = {"ready": True, "model": loaded.name, "version": loaded.version}
        return JSONResponse(body)

    @app.get("/model")
    async def model() -> dict[str, Any]:
        """The manifest of the model served, and the last deployment refused, if any."""
        return state.describe()

    @app.post("/reload")
    async def reload() -> dict[str, Any]:
        """Check the deployment folder now instead of at the next poll."""
        await state.reload()
        return state.describe()

    return app
