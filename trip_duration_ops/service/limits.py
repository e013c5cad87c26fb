"""A request body over MAX_BODY_BYTES gets a 413 before it is read whole: an ASGI middleware."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trip_duration_ops.service.schemas import MAX_BATCH

# A trip is 136 bytes as compact JSON and 178 indented by four spaces, with every field at its
# longest (17-digit distance, microseconds and an offset): 512 leaves room for any formatting of
# the largest batch, while a body that could never validate is refused before it is buffered.
BYTES_PER_TRIP = 512
MAX_BODY_BYTES = MAX_BATCH * BYTES_PER_TRIP


class BodyTooLarge(Exception):
    """Raised by the counting receive() once a body passes the limit."""


class BodyLimit:
    """ASGI middleware: a 413 for a request whose Content-Length is over `max_bytes`, before any of
    its body is read; a body sent without one (chunked) is counted as it arrives and cut off there.

    The 413 closes the connection, so the server reads nothing more of the body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_length(scope) > self.max_bytes:
            await self.refuse(scope, receive, send)
            return
        received, started = 0, False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:  # an app that answered before reading its body: nothing left to say
                raise
            await self.refuse(scope, receive, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"detail": f"request body over {self.max_bytes:,} bytes", "max_bytes": self.max_bytes}
        await JSONResponse(body, status_code=413, headers={"Connection": "close"})(scope, receive, send)


def declared_length(scope: Scope) -> int:
    """The request's Content-Length, or 0 when it sends none (the server refuses malformed ones)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
