"""`python -m bench.serve`, tiny: both services under wrk, every row of the table, the targets as measured.

Short cases on a shared machine decide nothing about the targets, so the test checks that the
report is whole and says what its own numbers say: each PASS or FAIL agrees with the figures it
prints, and those figures are the table's.
"""

import re
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, sh

COURSE, PROJECT = "course (Flask, gunicorn sync)", "trip-duration serve"
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
        (COURSE, "1 trip per request", 4),
        (PROJECT, "1 trip per request", 4),
        (PROJECT, "1,000 trips per request", 1),
    }
    for rps, p50, p99 in rows.values():
        assert rps > 0 and 0 < p50 <= p99

    a = one(TARGET_A, lines)
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
