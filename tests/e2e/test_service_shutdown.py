"""`trip-duration serve` stopped by SIGTERM: under load the requests in flight finish and the process
exits 0; a request that outlives --graceful-seconds does not keep it alive.

uvicorn does the work (docs/serving.md): the supervisor of `--workers N` passes SIGTERM on to every
worker; a worker stops accepting, closes its idle connections, waits for the requests in flight
(at most --graceful-seconds), then runs the app's shutdown, which stops the batcher. The model is
gradient boosting, predicted in a worker thread, on requests of 10,000 trips: hundreds of ms each.
"""

import collections
import concurrent.futures
import http.client
import json
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from tests.e2e.serving import Server, fit_hgb, wait_ready

TRIPS = 10_000  # per request, the most the service takes
CLIENTS = 12
GRACE = 20.0  # --graceful-seconds under load: far more than the requests in flight need
# A request whose body was sent this long before SIGTERM has been read and begun by its worker,
# which must answer it; one sent later may still sit unread in a socket (or in the kernel's queue of
# connections) when its worker stops, and be refused: a race no server can win.
MARGIN = 1.0


@pytest.fixture(scope="module")
def hgb_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fit_hgb(tmp_path_factory.mktemp("hgb"))


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """The servers a test starts: any still running at its end is killed."""
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=30)


@dataclass
class Exchange:
    """One request as its client saw it; times are time.monotonic()."""

    request_id: str
    batch: int  # which of the request bodies it sent
    sent: float | None = None  # when its body was written whole; None: it failed before
    ended: float = 0.0
    status: int | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None

    def answer(self, response: http.client.HTTPResponse) -> None:
        self.status, self.body = response.status, response.read()
        self.headers = {name.lower(): value for name, value in response.getheaders()}


def batches(model: Path, count: int = 4) -> tuple[list[bytes], list[np.ndarray]]:
    """`count` request bodies of TRIPS random trips, and the minutes the model gives each."""
    rng, predictor = np.random.default_rng(0), joblib.load(model)
    bodies, minutes = [], []
    for _ in range(count):
        zones, miles = rng.integers(1, 266, size=(TRIPS, 2)), rng.exponential(3.0, size=TRIPS)
        trips = [{"PULocationID": int(pu), "DOLocationID": int(do), "trip_distance": round(float(m), 2)}
                 for (pu, do), m in zip(zones, miles, strict=True)]  # fmt: skip
        bodies.append(json.dumps(trips).encode())
        with threadpool_limits(1):  # beside the service starting: OpenMP threads would spin
            minutes.append(predictor.predict(pd.DataFrame(trips)))
    return bodies, minutes


def client(name: str, port: int, bodies: list[bytes], seen: list[Exchange], stop: threading.Event) -> None:
    """Requests one after another on a keep-alive connection, until `stop` or the first error."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        while not stop.is_set():
            exchange = Exchange(f"{name}-{len(seen)}", len(seen) % len(bodies))
            seen.append(exchange)
            headers = {"Content-Type": "application/json", "X-Request-ID": exchange.request_id}
            try:
                connection.request("POST", "/predict", body=bodies[exchange.batch], headers=headers)
                exchange.sent = time.monotonic()
                exchange.answer(connection.getresponse())
            except Exception as error:  # refused, reset, or worse: the test tells them apart
                exchange.error = error
                return
            finally:
                exchange.ended = time.monotonic()
    finally:
        connection.close()


def start_upload(port: int, exchange: Exchange, length: int) -> socket.socket:
    """A request that /predict has begun (it asked for the body: uvicorn answered the client's
    `Expect: 100-continue`), whose body is not sent yet."""
    upload = socket.create_connection(("127.0.0.1", port), timeout=30)
    upload.sendall(f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {length}\r\nX-Request-ID: {exchange.request_id}\r\n"
                   "Expect: 100-continue\r\n\r\n".encode())  # fmt: skip
    interim = b""
    while not interim.endswith(b"\r\n\r\n"):
        interim += upload.recv(100) or b"(closed)\r\n\r\n"
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    return upload


def finish_upload(upload: socket.socket, exchange: Exchange, body: bytes) -> None:
    with upload:
        try:
            upload.sendall(body)
            exchange.sent = time.monotonic()
            response = http.client.HTTPResponse(upload)
            response.begin()
            exchange.answer(response)
        except Exception as error:
            exchange.error = error
        exchange.ended = time.monotonic()


def answered(exchange: Exchange, minutes: list[np.ndarray]) -> bool:
    """A complete 200 with the predictions of the request's own trips."""
    echoed = exchange.headers.get("x-request-id", exchange.request_id)  # a service that echoes it
    if exchange.status != 200 or echoed != exchange.request_id:
        return False
    try:
        durations = np.array([answer["duration"] for answer in json.loads(exchange.body)])
    except (ValueError, KeyError, TypeError):
        return False
    return len(durations) == TRIPS and np.allclose(durations, minutes[exchange.batch], atol=1e-3)


def refused(exchange: Exchange) -> bool:
    """No answer at all, as a service that has stopped gives: refused, reset, or closed before a byte
    of one (http.client.RemoteDisconnected is a ConnectionResetError)."""
    return isinstance(exchange.error, ConnectionError)


def test_sigterm_under_load_finishes_the_requests_in_flight(
    hgb_model: Path, tmp_path: Path, servers: list[Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One OpenMP thread per worker: two workers' threads on a busy 2-core machine score several
    # times slower, which would only make this test longer.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the requests made while the service starts
        made = pool.submit(batches, hgb_model)
        server = Server("--model", str(hgb_model), "--workers", "2", "--graceful-seconds", str(GRACE),
                        cwd=tmp_path)  # fmt: skip
        servers.append(server)
        bodies, minutes = made.result()
    wait_ready(server.port)
    seen: list[list[Exchange]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    clients = [threading.Thread(target=client, args=(f"client{number}", server.port, bodies, exchanges, stop))
               for number, exchanges in enumerate(seen)]  # fmt: skip
    for thread in clients:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while not all(len(exchanges) > 1 for exchanges in seen):  # each has had an answer
            assert time.monotonic() < deadline, "the clients got no answers"
            time.sleep(0.05)
        # In flight for certain: two requests begun before SIGTERM, whose bodies are sent only once
        # both workers are shutting down.
        uploads = [Exchange(f"upload{number}", number) for number in range(2)]
        sockets = [start_upload(server.port, upload, len(bodies[upload.batch])) for upload in uploads]
        term = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        while server.log.read_text().count("Shutting down") < 2:  # uvicorn/server.py: Server.shutdown
            assert time.monotonic() < term + 10, "the workers did not begin to shut down"
            time.sleep(0.05)
        for upload, sock in zip(uploads, sockets, strict=True):
            finish_upload(sock, upload, bodies[upload.batch])
        try:
            code = server.process.wait(timeout=term + GRACE + 5 - time.monotonic())
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {GRACE + 5} s after SIGTERM") from None
        took = time.monotonic() - term
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in clients), "a client still waits for an answer"
    everything = [exchange for exchanges in seen for exchange in exchanges]
    accepted = [e for e in everything if e.sent is not None and e.sent <= term - MARGIN]
    late = [e for e in everything if e not in accepted]
    errors = collections.Counter(type(e.error).__name__ for e in late if e.error)
    after = sum(e.ended > term for e in accepted)
    print(f"exit {code} {took:.2f} s after SIGTERM; {len(accepted)} requests accepted ({after} answered "
          f"after it), 2 uploads; {len(late)} late: {sum(answered(e, minutes) for e in late)} answered, "
          f"{dict(errors)}")  # fmt: skip
    assert code == 0, server.log.read_text()
    due = accepted + uploads + [e for e in late if e.ended < term]  # and whatever ended before SIGTERM
    failed = [(e.request_id, e.status, repr(e.error), e.body[:200]) for e in due if not answered(e, minutes)]
    assert not failed, failed
    wrong = [(e.request_id, e.status, repr(e.error), e.body[:200])
             for e in late if not (answered(e, minutes) or refused(e))]  # fmt: skip
    assert not wrong, wrong


def test_graceful_seconds_bound_the_wait(hgb_model: Path, tmp_path: Path, servers: list[Server]) -> None:
    """A request whose body never comes in full (a stalled upload) is cut at --graceful-seconds."""
    grace = 2.0
    server = Server("--model", str(hgb_model), "--graceful-seconds", str(grace), cwd=tmp_path)  # 1 worker
    servers.append(server)
    wait_ready(server.port)
    with start_upload(server.port, Exchange("stalled", 0), 1000) as stalled:
        stalled.sendall(b'[{"PULocationID": 74, ')  # and never the rest
        term = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=grace + 20)
        took = time.monotonic() - term
        stalled.settimeout(5)
        cut = stalled.recv(1000)
    print(f"exit {code} {took:.2f} s after SIGTERM; the stalled request got {cut[:40]!r}")
    # With one worker uvicorn raises the signal it caught again once it has shut down
    # (uvicorn/server.py, Server.capture_signals): the process ends by SIGTERM, with no handler.
    assert code == -signal.SIGTERM
    assert grace <= took < grace + 3
    assert cut.startswith(b"HTTP/1.1 500 ")  # uvicorn's answer to a request it cancels
