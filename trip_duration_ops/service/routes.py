"""The service's routes on one APIRouter: POST /predict, GET /health, /ready, /model, POST /reload,
GET /metrics (Prometheus) and GET /docs (Swagger UI, its assets served by the app).

They hold no state: the model state, the batcher and the background loops are the app's
(`create_app` puts them on `app.state`), reached through the dependencies below.
"""

import contextlib
import importlib.resources
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import TypeAdapter, ValidationError

from trip_duration_ops.service.batching import Batcher
from trip_duration_ops.service.metrics import CONTENT_TYPE, Metrics
from trip_duration_ops.service.schemas import MAX_BATCH, InvalidRequest, NotReady, Prediction, Ready, Trip
from trip_duration_ops.service.state import NOT_READY as NO_MODEL_YET
from trip_duration_ops.service.state import ModelState
from trip_duration_ops.service.supervision import Loop

ONE, MANY = TypeAdapter(Trip), TypeAdapter(list[Trip])
NOT_READY = {"ready": False, "detail": NO_MODEL_YET}
NOT_READY_ANSWER: dict[int | str, dict[str, Any]] = {
    503: {"model": NotReady, "description": "Not ready: the detail says why"}
}


# The dependencies are coroutines: FastAPI would call plain functions in a worker thread.
async def model_state(request: Request) -> ModelState:
    return request.app.state.model


async def batcher(request: Request) -> Batcher:
    return request.app.state.batcher


async def loops(request: Request) -> list[Loop]:
    """The background loops: the batcher's first, then the deployment poll when there is one."""
    return request.app.state.loops


State = Annotated[ModelState, Depends(model_state)]
Scoring = Annotated[Batcher, Depends(batcher)]
Loops = Annotated[list[Loop], Depends(loops)]

router = APIRouter()

# Swagger UI's script, styles and icon, as the fastapi-swagger wheel ships them, served under
# SWAGGER_ASSETS (create_app mounts them): /docs needs no CDN, so it works offline or behind a proxy.
SWAGGER_UI = str(importlib.resources.files("fastapi_swagger") / "resources")
SWAGGER_ASSETS = "/docs/assets"


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


def problem(state: ModelState, loops: list[Loop]) -> str | None:
    """Why the service cannot answer as it should: a loop that cannot go on, or the model."""
    return next((why for loop in loops if (why := loop.problem())), None) or state.problem()


def not_ready(detail: str) -> JSONResponse:
    return JSONResponse({**NOT_READY, "detail": detail}, status_code=503)


# The body is read and validated by `validate`, one pydantic call for a trip or a list: its schema
# is written here, as a body parameter would have documented it.
MANY_SCHEMA = {"type": "array", "items": Trip.model_json_schema(), "maxItems": MAX_BATCH}
BODY_SCHEMA = {"oneOf": [Trip.model_json_schema(), MANY_SCHEMA]}


@router.post(
    "/predict",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BODY_SCHEMA}}}
    },
    response_model=Prediction | list[Prediction],
    responses={
        422: {"model": InvalidRequest, "description": "Not one trip or a list of trips"},
        **NOT_READY_ANSWER,
    },
)
async def predict(request: Request, state: State, batcher: Scoring, loops: Loops) -> JSONResponse:
    """Minutes for one trip, or for a list of trips in order."""
    trips, many = validate(await request.body())
    try:
        loaded = await state.serving()
    except Exception as error:  # the model due now did not load in this process
        return not_ready(state.problem() or repr(error))
    if loaded is None or loops[0].stopped():  # nothing to answer with, or nothing would score it
        return not_ready(problem(state, loops) or NO_MODEL_YET)
    minutes: np.ndarray | list[float] = await batcher.predict(loaded, trips) if trips else []
    answers = [
        {"duration": round(float(m), 4), "model": loaded.name, "version": loaded.version} for m in minutes
    ]
    # For the request's log line and metrics (observe.Observe): what was answered, by which model.
    request.state.trips, request.state.model = len(trips), (loaded.name, loaded.version)
    metrics: Metrics | None = request.app.state.metrics
    if metrics is not None:
        metrics.request_trips.observe(len(trips))
    return JSONResponse(answers if many else answers[0], headers={"X-Model-Version": loaded.version})


@router.get("/health")
async def health() -> dict[str, str]:
    """The process is alive (it may have no model yet: see /ready)."""
    return {"status": "alive"}


@router.get("/ready", responses={200: {"model": Ready}, **NOT_READY_ANSWER})
async def ready(state: State, loops: Loops) -> JSONResponse:
    """200 once a model has loaded and answered its probe; 503 before, or when it cannot go on."""
    with contextlib.suppress(Exception):  # a due switch fails here as it does in /predict: said below
        await state.serving()
    if (why := problem(state, loops)) is not None:
        return not_ready(why)
    loaded = state.current
    assert loaded is not None
    return JSONResponse({"ready": True, "model": loaded.name, "version": loaded.version})


@router.get("/model")
async def model(state: State) -> dict[str, Any]:
    """The manifest of the model served, and the last deployment refused, if any."""
    return state.describe()


@router.post("/reload")
async def reload(state: State) -> dict[str, Any]:
    """Check the deployment folder now instead of at the next poll."""
    await state.reload()
    return state.describe()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The Prometheus metrics of every worker (trip_duration_ops.service.metrics); 404 when turned off."""
    found: Metrics | None = request.app.state.metrics
    if found is None:
        raise HTTPException(404, "metrics are off (TRIP_DURATION_METRICS=false)")
    return Response(found.render(), media_type=CONTENT_TYPE)


@router.get("/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    """Swagger UI for the OpenAPI document, its assets served by the service (FastAPI's self-hosting)."""
    root = request.scope.get("root_path", "").rstrip("/")
    assets = f"{root}{SWAGGER_ASSETS}"
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},  # no call to validator.swagger.io
    )
