"""The load of the serving benchmark: wrk runs (bench/serve.lua) per case, merged exactly."""

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.services import Server, log

LUA = Path(__file__).with_name("serve.lua")


@dataclass(frozen=True)
class Case:
    """One case (who, what, how many connections) over its wrk runs: what wrk measured, merged."""

    service: str
    case: str
    concurrency: int
    requests: int
    seconds: float
    latency_us: dict[int, int]  # the histogram: microseconds -> responses
    errors: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile_ms(self, p: float) -> float:
        """As wrk computes it, on the merged histogram."""
        rank, seen = round(p / 100 * sum(self.latency_us.values()) + 0.5), 0
        for value in sorted(self.latency_us):
            seen += self.latency_us[value]
            if seen >= rank:
                return value / 1000
        return 0.0

    @property
    def p50_ms(self) -> float:
        return self.percentile_ms(50)

    @property
    def p99_ms(self) -> float:
        return self.percentile_ms(99)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def wrk(port: int, bodies: Path, connections: int, seconds: int, script: Path = LUA) -> dict[str, Any]:
    """One wrk run; its numbers as its script (bench/serve.lua, or one built on it) prints them."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    command += [f"http://127.0.0.1:{port}/predict", "--", str(bodies)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not last.startswith("{"):
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return json.loads(last)


def merge(service: str, case: str, concurrency: int, runs: list[dict[str, Any]]) -> Case:
    """wrk runs of one case as one: counts summed, histograms merged."""
    latency: dict[int, int] = {}
    errors: dict[str, int] = {}
    for run in runs:
        for value, count in run["latency_us"]:
            latency[value] = latency.get(value, 0) + count
        for key, count in run["errors"].items():
            if count:
                errors[key] = errors.get(key, 0) + count
    requests = sum(run["requests"] for run in runs)
    seconds = sum(run["duration_us"] for run in runs) / 1e6
    return Case(service, case, concurrency, requests, seconds, latency, errors)


def describe(case: Case) -> str:
    failed = f", errors {case.errors}" if case.failed else ""
    return (
        f"{case.service}, {case.case}, c={case.concurrency}: {case.rps:,.0f} req/s, "
        f"p50 {case.p50_ms:.2f} ms, p99 {case.p99_ms:.2f} ms{failed}"
    )


def run_cases(
    servers: list[Server], case: str, bodies: Path, connections: int, seconds: int, rounds: int
) -> list[Case]:
    """The case for each server, in `rounds` turns of seconds/rounds, the servers' order alternating:
    a load that comes and goes on the machine falls on both alike."""
    runs: dict[str, list[dict[str, Any]]] = {server.name: [] for server in servers}
    each = max(1, seconds // rounds)
    for turn in range(rounds):
        for server in servers if turn % 2 == 0 else servers[::-1]:
            runs[server.name].append(wrk(server.port, bodies, connections, each))
    cases = [merge(server.name, case, connections, runs[server.name]) for server in servers]
    for result in cases:
        log(f"  {describe(result)}")
    return cases
