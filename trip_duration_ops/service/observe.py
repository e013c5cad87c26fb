"""What the service says about itself: one log line per request, a request id, the request metrics.

`Observe` is an ASGI middleware around the whole app: it takes the request's id from its
X-Request-ID header (or makes one), echoes it in the answer's headers, and once the answer is sent,
logs one line (route, status, latency, and for /predict its trips and the model that answered)
and records the request in the metrics. `configure_logging` sets the format every process of the
service logs in: `text`, or `json` (one object per line, for a log shipper).
"""

import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trip_duration_ops.service.metrics import Metrics

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(process)d %(levelname)s %(message)s"
REQUEST_ID = b"x-request-id"
log = logging.getLogger("trip_duration.service")


class JsonLines(JsonFormatter):
    """One JSON object per record: time (UTC, ms), level, pid, event, message, then the record's extras."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(process)d %(message)s",
            rename_fields={"levelname": "level", "process": "pid"},
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, said: dict[str, Any]) -> None:
        moment = datetime.fromtimestamp(record.created, UTC)
        log_data["time"] = moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"
        super().add_fields(log_data, record, said)
        log_data.setdefault("event", "log")
        log_data.pop("color_message", None)  # uvicorn's message again, with terminal colours
        if record.name != log.name:
            log_data.setdefault("logger", record.name)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        first = ("time", "level", "pid", "event", "message")
        return {**{key: log_data.pop(key) for key in first if key in log_data}, **log_data}


def configure_logging(form: LogFormat) -> None:
    """Log at INFO to stderr in `form`, for this process and the libraries it runs (uvicorn's too)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is 1 to 128 printable ASCII characters; a new one otherwise."""
    for name, value in scope["headers"]:
        if name == REQUEST_ID:
            if 0 < len(value) <= 128 and all(0x21 <= byte <= 0x7E for byte in value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The route's template (a bounded set of label values), or `unmatched`."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class Observe:
    """ASGI middleware: a request id in and out, then one log line and the request metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        status = 500  # unless an answer starts

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (REQUEST_ID, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_of(scope)
            if self.metrics is not None:
                self.metrics.answered(route, scope["method"], status, seconds)
            said = scope.get("state") or {}
            trips, model = said.get("trips"), said.get("model")
            answered = {"request_id": rid, "method": scope["method"], "route": route, "status": status,
                        "latency_ms": round(seconds * 1000, 3)}  # fmt: skip
            if trips is not None:
                answered["trips"] = trips
            if model is not None:
                answered["model"], answered["version"] = model
            log.info(text_line(answered), extra={"event": "request", **answered})


def text_line(answered: dict[str, Any]) -> str:
    """The request's line in the text format."""
    if answered["route"] == "/predict" and answered["status"] == 200:
        return (f"predict: {answered['trips']} trip(s), {answered['latency_ms']:.2f} ms, "
                f"{answered['model']} {answered['version']} [{answered['request_id']}]")  # fmt: skip
    return (f"{answered['method']} {answered['route']} {answered['status']}, {answered['latency_ms']:.2f} ms "
            f"[{answered['request_id']}]")  # fmt: skip
