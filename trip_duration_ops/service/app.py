"""The ASGI app: the routes (routes.py) over the state, background loops, middleware and lifespan
built here; OpenAPI at /docs, Prometheus metrics at /metrics.

`create_app(settings)` builds it for a deployment folder or a model file (settings.py). Called
without settings, as uvicorn's factory, it reads them from the environment: every uvicorn worker
process builds the same app that way.
"""

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trip_duration_ops.service.batching import Batcher
from trip_duration_ops.service.limits import MAX_BODY_BYTES, BodyLimit
from trip_duration_ops.service.metrics import Metrics, forget, forget_dead_workers
from trip_duration_ops.service.observe import Observe, configure_logging
from trip_duration_ops.service.routes import SWAGGER_ASSETS, SWAGGER_UI, problem, router
from trip_duration_ops.service.schemas import TooLarge
from trip_duration_ops.service.settings import Settings, from_environment
from trip_duration_ops.service.state import ModelState
from trip_duration_ops.service.supervision import Loop

log = logging.getLogger("trip_duration.service")


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


def readiness_loop(state: ModelState, loops: list[Loop], metrics: Metrics, seconds: float = 1.0) -> Loop:
    """Every `seconds`, the ready gauge: 1 when this worker would answer /ready with 200."""

    async def step() -> None:
        metrics.ready.set(0 if problem(state, loops) else 1)
        await asyncio.sleep(seconds)

    return Loop("readiness gauge", step, backoff=seconds)


def poll_loop(state: ModelState, seconds: float) -> Loop:
    """The deployment folder's poll: every `seconds`, and when a pending model is due."""

    async def step() -> None:
        await asyncio.sleep(state.next_check(seconds))
        await state.reload()

    return Loop("deployment poll", step, backoff=seconds)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the batcher, load the model, then start the poll (which retries a failed load); stop
    the loops at shutdown."""
    state: ModelState = app.state.model
    batcher, *others = loops = app.state.loops
    settings: Settings = app.state.settings
    batcher.start()
    started = time.perf_counter()
    try:
        await state.reload()
    except Exception:  # the poll tries again
        log.exception("loading the deployment failed (retrying every %.1f s)", settings.poll_seconds,
                      extra={"event": "poll_failed"})  # fmt: skip
    for loop in others:
        loop.start()
    serving = state.current
    log.info("worker started in %.0f ms, serving %s", (time.perf_counter() - started) * 1000,
             serving.version if serving else "nothing yet",
             extra={"event": "start", "version": serving.version if serving else None})  # fmt: skip
    yield
    log.info("worker shutting down: its requests are answered", extra={"event": "shutdown"})
    for loop in loops:
        loop.stop()
    forget(os.getpid())


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for `settings`; without them, for the environment's (exiting in one line on a bad one)."""
    if settings is None:
        settings = from_environment()
    if not logging.getLogger().handlers:  # a worker process that uvicorn spawned: log as the parent does
        configure_logging(settings.log_format)
    metrics = Metrics() if settings.metrics else None
    if metrics is not None:
        forget_dead_workers()
    state = ModelState(settings.model_dir, settings.model, metrics)
    batcher = Batcher(metrics=metrics)
    loops = [Loop("batcher", batcher.step)]
    if settings.model_dir is not None:
        loops.append(poll_loop(state, settings.poll_seconds))
        if metrics is not None:
            metrics.polls_every(settings.poll_seconds)
    if metrics is not None:
        loops.append(readiness_loop(state, loops[:], metrics))
    app = FastAPI(
        title="trip-duration",
        summary="NYC taxi trip duration in minutes",
        description=f"Request bodies are at most {MAX_BODY_BYTES:,} bytes: any larger gets a 413.",
        lifespan=lifespan,
        docs_url=None,  # routes.docs: Swagger UI from the service itself, not from a CDN
        redoc_url=None,  # ReDoc has no page without its CDN script
        responses={413: {"model": TooLarge, "description": f"Request body over {MAX_BODY_BYTES:,} bytes"}},
        middleware=[  # outermost first
            Middleware(Observe, metrics=metrics),  # every answer logged and counted, 413s included
            Middleware(VersionHeader, state=state),  # a 413 names the version serving too
            Middleware(BodyLimit),
        ],
    )
    app.state.settings, app.state.model, app.state.batcher, app.state.loops = settings, state, batcher, loops
    app.state.metrics = metrics
    app.include_router(router)
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=SWAGGER_UI), name="swagger-ui")
    return app
