"""The soak of the serving benchmark (`python -m bench.serve --soak`): minutes of load on a service
serving a deployment folder whose model changes every few seconds; failures, p99 per slice, the
versions that answered and each worker's resident memory.

wrk runs in slices (a minute each by default) back to back, each slice's p50 and p99 wrk's own; the
gaps between slices (from the end of one run's load to the start of the next wrk process) are
measured and printed. A thread deploys meanwhile: every `switch_seconds` a new version, alternating
two model files, its manifest written by `trip_duration_ops.deploy.switch` with `takes_over_at`, as
`trip-duration deploy` does.
"""

import contextlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import wrk
from bench.services import Server, log

LUA = Path(__file__).with_name("soak.lua")
RSS_DRIFT = 0.10  # the target: each worker's memory at the end within 10 % of after the first slice
NAME = "trip-duration"
SOCKET_ERRORS = ("connect", "read", "write", "timeout")  # wrk's "status" (>= 400) is within non_2xx


@dataclass(frozen=True)
class Slice:
    """One wrk run of the soak (bench/soak.lua's numbers) and when it began (time.time())."""

    run: dict[str, Any]
    started: float

    @property
    def load_ended(self) -> float:
        """When wrk stopped sending: its report comes after."""
        return self.started + self.seconds

    @property
    def seconds(self) -> float:
        return self.run["duration_us"] / 1e6

    @property
    def requests(self) -> int:
        return self.run["requests"]

    @property
    def p50_ms(self) -> float:
        return self.run["p50_us"] / 1000

    @property
    def p99_ms(self) -> float:
        return self.run["p99_us"] / 1000

    @property
    def failed(self) -> int:
        """Responses other than 2xx, and requests that got none (connect, read, write, timeout errors)."""
        return self.run["non_2xx"] + sum(self.run["errors"][key] for key in SOCKET_ERRORS)

    def describe(self) -> str:
        return (
            f"{self.requests / self.seconds:,.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
            f"{self.failed} failed, versions {self.run['versions']}"
        )


@dataclass(frozen=True)
class Soak:
    slices: list[Slice]
    deployed: list[tuple[str, float]]  # (version, takes_over_at) of every deployment, the first included
    memory_first: dict[int, int]  # worker pid -> resident bytes after the first slice
    memory_end: dict[int, int]  # ... after the last

    @property
    def requests(self) -> int:
        return sum(piece.requests for piece in self.slices)

    @property
    def rps(self) -> float:
        return self.requests / sum(piece.seconds for piece in self.slices)

    @property
    def failed(self) -> int:
        return sum(piece.failed for piece in self.slices)

    @property
    def gaps(self) -> list[float]:
        """Seconds without load from one slice to the next: its report, the next wrk's start."""
        return [b.started - a.load_ended for a, b in zip(self.slices, self.slices[1:], strict=False)]

    @property
    def seen(self) -> dict[str, int]:
        """Responses per version, over the whole soak."""
        counts: dict[str, int] = {}
        for piece in self.slices:
            for version, count in piece.run["versions"].items():
                counts[version] = counts.get(version, 0) + count
        return counts

    def due(self, margin: float = 1.0) -> list[str]:
        """The versions that should have answered: the one serving when the load began, and each that
        took over while it ran, `margin` seconds or more before its end."""
        start, end = self.slices[0].started, self.slices[-1].load_ended - margin
        before = [version for version, at in self.deployed if at <= start]
        return before[-1:] + [version for version, at in self.deployed if start < at <= end]


def manifest(model: Path, version: str) -> dict[str, Any]:
    """The manifest's fields that the service reads (deploy writes more, for people)."""
    from trip_duration_ops.catalog import file_md5

    return {"name": NAME, "version": version, "md5": file_md5(model), "file": model.name}


class Deployer(threading.Thread):
    """Every `every` seconds a new version into `folder`: the model files in turn, numbered on."""

    def __init__(self, folder: Path, models: list[Path], every: float, lead: float) -> None:
        super().__init__(name="soak-deployer", daemon=True)
        self.folder, self.every, self.lead = folder, every, lead
        self.manifests = [manifest(model, "") for model in models]  # each file's md5, once
        self.deployed: list[tuple[str, float]] = []
        self.error: BaseException | None = None
        self._stopping = threading.Event()

    def deploy(self, lead: float) -> None:
        from trip_duration_ops.deploy import switch
        from trip_duration_ops.service.deployment import takes_over_at

        count = len(self.deployed)
        version = f"soak-{count + 1}"
        written = switch(
            self.folder, {**self.manifests[count % len(self.manifests)], "version": version}, lead
        )
        self.deployed.append((version, takes_over_at(written)))
        log(f"  deployed {version} ({written['file']}), taking over at {written['takes_over_at']}")

    def run(self) -> None:
        try:
            while not self._stopping.wait(self.every):
                self.deploy(self.lead)
        except BaseException as error:  # raised by stop(), in the soak's thread
            self.error = error

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        if self.error is not None:
            raise RuntimeError(f"deploying during the soak failed: {self.error!r}") from self.error


def worker_memory(server: Server) -> dict[int, int]:
    """Resident bytes per worker process: uvicorn's spawned children, or the service itself alone."""
    import psutil

    parent = psutil.Process(server.process.pid)
    memory = {}
    for child in parent.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "spawn_main" in " ".join(child.cmdline()):  # not multiprocessing's resource tracker
                memory[child.pid] = child.memory_info().rss
    return memory or {parent.pid: parent.memory_info().rss}


def soak(
    server: Server, deployer: Deployer, bodies: Path, connections: int, slices: int, seconds: int
) -> Soak:
    """`slices` wrk runs of `seconds` back to back while `deployer` deploys; memory after the first, last."""
    done: list[Slice] = []
    first: dict[int, int] = {}
    deployer.start()
    try:
        for index in range(slices):
            started = time.time()
            done.append(Slice(wrk(server.port, bodies, connections, seconds, script=LUA), started))
            if index == 0:
                first = worker_memory(server)
            log(f"  slice {index + 1}: {done[-1].describe()}")
        end = worker_memory(server)
    finally:
        deployer.stop()
    return Soak(done, deployer.deployed, first, end)


# --- the report ---------------------------------------------------------------------------------------


def format_slices(result: Soak, seconds: int) -> str:
    lines = [
        "| slice | seconds | requests | requests/s | p50 ms | p99 ms | failed "
        "| versions answering (responses) |",
        "|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for index, piece in enumerate(result.slices):
        versions = "; ".join(f"{v}: {n:,}" for v, n in sorted(piece.run["versions"].items(), key=order))
        span = f"{index * seconds}-{(index + 1) * seconds}"
        lines.append(
            f"| {index + 1} | {span} | {piece.requests:,} | {piece.requests / piece.seconds:,.1f} "
            f"| {piece.p50_ms:.2f} | {piece.p99_ms:.2f} | {piece.failed} | {versions} |"
        )
    lines.append(
        f"| all | 0-{len(result.slices) * seconds} | {result.requests:,} | {result.rps:,.1f} | — | — "
        f"| {result.failed} | {len(result.seen)} versions |"
    )
    return "\n".join(lines)


def order(item: tuple[str, int]) -> tuple[int, str]:
    """soak-2 before soak-10."""
    version = item[0]
    number = version.rpartition("-")[2]
    return (int(number) if number.isdigit() else -1, version)


def format_memory(result: Soak) -> str:
    lines = [
        "| worker pid | RSS MB after slice 1 | RSS MB at the end | change |",
        "|---:|---:|---:|---:|",
    ]
    for pid, first in sorted(result.memory_first.items()):
        end = result.memory_end.get(pid)
        if end is None:
            lines.append(f"| {pid} | {first / 2**20:,.1f} | gone | — |")
        else:
            lines.append(f"| {pid} | {first / 2**20:,.1f} | {end / 2**20:,.1f} | {(end / first - 1):+.1%} |")
    for pid, end in sorted(result.memory_end.items()):
        if pid not in result.memory_first:
            lines.append(f"| {pid} | new | {end / 2**20:,.1f} | — |")
    return "\n".join(lines)


def targets(result: Soak) -> list[tuple[bool, str]]:
    """(passed, line): nothing failed; each worker's memory held; every version due answered."""
    failed = (
        f"soak: no request failed: {result.failed} of {result.requests:,} "
        f"(responses other than 2xx, and connect, read, write and timeout errors)"
    )
    first, end = result.memory_first, result.memory_end
    steady = set(first) == set(end) and all(abs(end[pid] / first[pid] - 1) <= RSS_DRIFT for pid in first)
    changes = ", ".join(
        f"{first[pid] / 2**20:,.1f} -> {end[pid] / 2**20:,.1f} MB ({end[pid] / first[pid] - 1:+.1%})"
        for pid in sorted(first)
        if pid in end
    )
    if set(first) != set(end):
        changes += f"; worker pids {sorted(first)} after slice 1, {sorted(end)} at the end"
    memory = f"soak: each worker's RSS at the end within {RSS_DRIFT:.0%} of after slice 1: {changes}"
    due, seen = result.due(), result.seen
    answered = [version for version in due if version in seen]
    versions = (
        f"soak: every version serving or taking over during the load answered: {len(answered)} of "
        f"{len(due)} ({len(result.deployed)} deployed, {len(seen)} seen in responses)"
    )
    return [(result.failed == 0, failed), (steady, memory), (len(answered) == len(due), versions)]
