"""`python -m bench.serve`, tiny: both services under wrk, every row of the table, the targets as measured;
and `--soak`, seconds long, with a new version deployed every few seconds.

Short cases on a shared machine decide nothing about the targets, so the tests check that the
report is whole and says what its own numbers say: each PASS or FAIL agrees with the figures it
prints, and those figures are the table's. What no machine's load excuses is checked as such: the
soak's versions switch and no request fails while they do.
"""

import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, sh

COURSE, PROJECT = "course (Flask, gunicorn sync)", "trip-duration serve"
NO_METRICS = "trip-duration serve --no-metrics"
ROW = re.compile(r"^\| (.+?) \| (.+?) \| (\d+) \| ([\d,]+\.\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \|$")
TARGET_A = re.compile(
    r"^(PASS|FAIL)  single trip at concurrency (\d+): trip-duration serve >= 2x the course service's "
    r"requests/s with p99 no worse: (\d+\.\d\d)x \(([\d,]+\.\d) vs ([\d,]+\.\d) req/s\), "
    r"p99 (\d+\.\d\d) vs (\d+\.\d\d) ms$"
)
TARGET_B = re.compile(
    r"^(PASS|FAIL)  a 1,000-trip batch in under 50 ms server time: p50 (\d+\.\d\d) ms "
    r"\(request to response, concurrency 1\)$"
)
TARGET_C = re.compile(r"^(PASS|FAIL)  every request of these cases answered 200: (\d+) failed of ([\d,]+)$")
METRICS_COST = re.compile(
    r"^\| (\d+) \| ([\d,]+\.\d) \| ([\d,]+\.\d) \| (\d+\.\d\d)x \| (\d+\.\d\d) \| (\d+\.\d\d) \|$"
)
SERVER_LOG = re.compile(
    r"^trip-duration serve's own log \('predict: 1000 trip\(s\), X ms'\), (\d+) requests: "
    r"p50 (\d+\.\d\d) ms, max (\d+\.\d\d) ms$"
)


def number(text: str) -> float:
    return float(text.replace(",", ""))


def one(pattern: re.Pattern, lines: list[str]) -> re.Match:
    found = [match for line in lines if (match := pattern.match(line))]
    assert len(found) == 1, f"{pattern.pattern} matched {len(found)} lines"
    return found[0]


def test_serve_benchmark_reports_every_case_and_its_real_outcome(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: the serve benchmark's load generator (apt-get install -y wrk)")
    done = sh("python", "bench.serve", "--seconds", "2", "--rounds", "1", "--warmup", "1", "--workers", "2",
              "--connections", "1,4", "--trips", "2000", "--workdir", str(tmp_path), cwd=ROOT)  # fmt: skip
    lines = done.stdout.splitlines()

    rows = {(m[1], m[2], int(m[3])): [number(v) for v in m.groups()[3:]] for m in map(ROW.match, lines) if m}
    assert set(rows) == {
        (COURSE, "1 trip per request", 1),
        (PROJECT, "1 trip per request", 1),
        (NO_METRICS, "1 trip per request", 1),
        (COURSE, "1 trip per request", 4),
        (PROJECT, "1 trip per request", 4),
        (NO_METRICS, "1 trip per request", 4),
        (PROJECT, "1,000 trips per request", 1),
    }
    for rps, p50, p99 in rows.values():
        assert rps > 0 and 0 < p50 <= p99

    # What /metrics costs, at concurrency 1 and the highest: the table's own rows, side by side.
    costs = {int(m[1]): [number(v) for v in m.groups()[1:]] for m in map(METRICS_COST.match, lines) if m}
    assert set(costs) == {1, 4}
    for concurrency, (on_rps, off_rps, ratio, on_p99, off_p99) in costs.items():
        on = rows[(PROJECT, "1 trip per request", concurrency)]
        off = rows[(NO_METRICS, "1 trip per request", concurrency)]
        assert [on_rps, on_p99, off_rps, off_p99] == [on[0], on[2], off[0], off[2]]
        assert ratio == pytest.approx(on_rps / off_rps, abs=0.006)

    a = one(TARGET_A, lines)  # the service as it starts by default: with /metrics
    assert int(a[2]) == 4  # the highest concurrency asked for
    ratio, project_rps, course_rps = number(a[3]), number(a[4]), number(a[5])
    project_p99, course_p99 = number(a[6]), number(a[7])
    assert [project_rps, project_p99] == [rows[(PROJECT, "1 trip per request", 4)][i] for i in (0, 2)]
    assert [course_rps, course_p99] == [rows[(COURSE, "1 trip per request", 4)][i] for i in (0, 2)]
    assert ratio == pytest.approx(project_rps / course_rps, abs=0.006)
    if abs(ratio - 2) > 0.01:  # the printed figures are rounded: at the edge they cannot tell
        assert (a[1] == "PASS") == (ratio >= 2 and project_p99 <= course_p99)

    b = one(TARGET_B, lines)
    batch_p50 = number(b[2])
    assert batch_p50 == rows[(PROJECT, "1,000 trips per request", 1)][1]
    assert (b[1] == "PASS") == (batch_p50 < 50)

    c = one(TARGET_C, lines)
    assert number(c[3]) > 0 and (c[1] == "PASS") == (int(c[2]) == 0)

    # Every worker process logs its requests (uvicorn's workers too), so the server's own time is read.
    logged = one(SERVER_LOG, lines)
    assert int(logged[1]) > 0 and 0 < number(logged[2]) <= number(logged[3])
    assert number(logged[2]) <= batch_p50  # inside the server: no more than the client waited


SLICE = re.compile(
    r"^\| (\d+) \| (\d+)-(\d+) \| ([\d,]+) \| ([\d,]+\.\d) \| (\d+\.\d\d) \| (\d+\.\d\d) \| (\d+) \| (.*) \|$"
)
ALL_SLICES = re.compile(
    r"^\| all \| 0-(\d+) \| ([\d,]+) \| ([\d,]+\.\d) \| — \| — \| (\d+) \| (\d+) versions \|$"
)
VERSION = re.compile(r"(soak-\d+): ([\d,]+)")
MEMORY = re.compile(r"^\| (\d+) \| ([\d,]+\.\d) \| ([\d,]+\.\d) \| ([+-]\d+\.\d)% \|$")
SOAK_FAILED = re.compile(
    r"^(PASS|FAIL)  soak: no request failed: (\d+) of ([\d,]+) "
    r"\(responses other than 2xx, and connect, read, write and timeout errors\)$"
)
SOAK_MEMORY = re.compile(
    r"^(PASS|FAIL)  soak: each worker's RSS at the end within 10% of after slice 1: (.+)$"
)
SOAK_VERSIONS = re.compile(
    r"^(PASS|FAIL)  soak: every version serving or taking over during the load answered: (\d+) of (\d+) "
    r"\((\d+) deployed, (\d+) seen in responses\)$"
)


def test_soak_switches_versions_under_load_and_reports_each_slice(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.fail("wrk is not installed: the serve benchmark's load generator (apt-get install -y wrk)")
    done = sh("python", "bench.serve", "--soak", "--soak-minutes", "0.2", "--slice-seconds", "4",
              "--switch-seconds", "3", "--warmup", "1", "--workers", "2", "--trips", "2000",
              "--workdir", str(tmp_path), cwd=ROOT)  # fmt: skip
    lines = done.stdout.splitlines()

    slices = [match for match in map(SLICE.match, lines) if match]
    assert [(int(m[1]), int(m[2]), int(m[3])) for m in slices] == [(1, 0, 4), (2, 4, 8), (3, 8, 12)]
    seen: dict[str, int] = {}
    for m in slices:
        requests, rps, p50, p99 = number(m[4]), number(m[5]), number(m[6]), number(m[7])
        versions = {version: number(count) for version, count in VERSION.findall(m[9])}
        assert requests > 0 and rps > 0 and 0 < p50 <= p99
        assert sum(versions.values()) == requests  # every response named the version that answered
        for version, count in versions.items():
            seen[version] = seen.get(version, 0) + int(count)
    total = one(ALL_SLICES, lines)
    assert int(total[1]) == 12 and number(total[2]) == sum(number(m[4]) for m in slices)
    assert int(total[4]) == sum(int(m[8]) for m in slices) and int(total[5]) == len(seen)
    # A version every 3 s over 12 s of load: the deployments reached the responses.
    assert len(seen) >= 3, seen

    # Swapping models under load answers every request: no load on the machine excuses a failure.
    failed = one(SOAK_FAILED, lines)
    assert (int(failed[2]), number(failed[3])) == (int(total[4]), number(total[2]))
    assert failed[1] == "PASS", failed[0]

    versions = one(SOAK_VERSIONS, lines)
    answered, due, deployed = int(versions[2]), int(versions[3]), int(versions[4])
    assert int(versions[5]) == len(seen) and deployed >= due >= len(seen) - 1 and due >= 3
    assert (versions[1] == "PASS") == (answered == due)

    memory = [match for match in map(MEMORY.match, lines) if match]
    assert len(memory) == 2 and len({m[1] for m in memory}) == 2  # one row per worker process
    changes = []
    for m in memory:
        first, end, change = number(m[2]), number(m[3]), float(m[4])
        assert first > 50 and end > 50  # MB: a Python process with the model loaded
        assert change == pytest.approx((end / first - 1) * 100, abs=0.1)
        changes.append(change)
    rss = one(SOAK_MEMORY, lines)
    if all(abs(abs(change) - 10) > 0.1 for change in changes):  # rounded figures cannot tell at the edge
        assert (rss[1] == "PASS") == all(abs(change) <= 10 for change in changes)
