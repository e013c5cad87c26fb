"""The alert rules and the dashboard's queries on a real Prometheus scraping a real service.

`trip-duration serve --workers 2` serves the pipeline's model from a deployment folder; Debian's
/usr/bin/prometheus scrapes its /metrics and evaluates ops/prometheus/alerts.yml every second, with
only the rules' time scales shortened, here, as the file is copied: every range window becomes
10 s and every nonzero `for` 3 s. Thresholds and expressions stay as written; the real windows and
durations are promtool's to test (ops/prometheus/alerts.test.yml). Trips of the validation month
raise no alert, and every dashboard query answers on them; the same trips on zone pairs the model
never saw, three times as long, fire the unseen-zone and the shifted-median alerts; a new version
deployed shows in every worker's trip_duration_model_info. Everything listens on 127.0.0.1 and is
stopped in a `finally`.
"""

import http.client
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import yaml
from conftest import ROOT, tlc_file
from prometheus_client.parser import text_string_to_metric_families

from bench.services import free_port
from tests.e2e.serving import Server, request, wait_ready
from tests.e2e.test_readme import shell_lines
from trip_duration.tlc import read_trips, to_numpy
from trip_duration_ops.catalog import file_md5
from trip_duration_ops.deploy import switch
from trip_duration_ops.service.deployment import known_zones

PROMETHEUS = Path("/usr/bin/prometheus")
WINDOW, FOR = "10s", "3s"  # every range window, every nonzero `for`
BATCH = 50  # trips per request, 20 requests a second: 1,000 trips a second, past the rules' minimum
DATA_ALERTS = {"TripDurationUnseenZones", "TripDurationPredictionsShifted"}
# A query that selects only 5xx answers has no series (no data) on a service that answered none.
ERRORS_ONLY = re.compile(r'status=~"5\.\."')


def shortened_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """alerts.yml with each range window WINDOW and each nonzero `for` FOR."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[\d+[smhdwy]\]", f"[{WINDOW}]", rule["expr"])
            if re.fullmatch(r"0+[smhdwy]", rule.get("for", "0s")) is None:
                rule["for"] = FOR
    return rules


class Prometheus:
    """/usr/bin/prometheus on a free port of 127.0.0.1, scraping `target` every second."""

    def __init__(self, folder: Path, target: str) -> None:
        folder.mkdir()
        rules = shortened_rules(yaml.safe_load((ROOT / "ops" / "prometheus" / "alerts.yml").read_text()))
        (folder / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yml"],
            "scrape_configs": [{"job_name": "trip-duration", "static_configs": [{"targets": [target]}]}],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.log = folder / "prometheus.log"
        self.process = subprocess.Popen(
            [str(PROMETHEUS), f"--config.file={folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not self.ready():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise AssertionError(f"Prometheus did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def ready(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", "/-/ready")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def get(self, path: str) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            answer = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        assert answer["status"] == "success", answer
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))["result"]

    def alerts(self) -> dict[str, str]:
        """Each pending or firing alert's name and state."""
        return {
            alert["labels"]["alertname"]: alert["state"] for alert in self.get("/api/v1/alerts")["alerts"]
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Traffic(threading.Thread):
    """Batches of `trips`, BATCH at a time, 20 a second, until stopped; `trips` may be swapped."""

    def __init__(self, port: int, trips: list[dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.port, self.trips = port, trips
        self.statuses: set[int] = set()
        self.stopping = threading.Event()

    def run(self) -> None:
        start = 0
        while not self.stopping.wait(0.05):
            trips = self.trips
            batch = [trips[(start + index) % len(trips)] for index in range(BATCH)]
            start += BATCH
            self.statuses.add(request(self.port, "POST", "/predict", batch)[0])

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def firing(alerts: dict[str, str]) -> set[str]:
    return {name for name, state in alerts.items() if state == "firing"}


def until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    """condition()'s first truthy answer, asked every 0.25 s for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answer := condition():
            return answer
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds} s: {what}")


def month_trips(path: Path) -> list[dict[str, Any]]:
    """A TLC month's trips as clients send them (distances up to 60 miles: 3 times that is still a
    trip), shuffled: the file runs in pickup order, and a window of seconds stands here for the rules'
    day, so it must hold every hour's trips (the first night's alone are longer than the month's)."""
    table = read_trips(path)
    zones = [to_numpy(table[name]).astype(int) for name in ("PULocationID", "DOLocationID")]
    miles = to_numpy(table["trip_distance"])
    pickups = to_numpy(table["pickup_datetime"]).astype("datetime64[s]")
    keep = np.random.default_rng(0).permutation(np.flatnonzero((miles <= 60) & ~np.isnat(pickups)))
    return [
        {"PULocationID": int(zones[0][i]), "DOLocationID": int(zones[1][i]),
         "trip_distance": float(miles[i]), "pickup_datetime": str(pickups[i])}
        for i in keep
    ]  # fmt: skip


def shifted(trips: list[dict[str, Any]], model: Any) -> list[dict[str, Any]]:
    """The trips three times as long, each on a zone pair the model never saw in training."""
    [(_, known, _)] = known_zones(model)
    pairs = np.arange(1, 264)[:, None] * 1000 + np.arange(1, 264)[None, :]
    unseen = np.setdiff1d(pairs.ravel(), known)
    chosen = np.random.default_rng(0).choice(unseen, size=len(trips))
    return [
        {**trip, "PULocationID": int(pair // 1000), "DOLocationID": int(pair % 1000),
         "trip_distance": trip["trip_distance"] * 3}
        for trip, pair in zip(trips, chosen, strict=True)
    ]  # fmt: skip


def place(project: Path, folder: Path, version: str, lead: float) -> dict[str, Any]:
    """The pipeline's model in `folder` as `version` (each version the same model), its manifest
    written as `trip-duration deploy` writes it, with the metrics and the reference median the
    service's alerts compare with; it takes over `lead` seconds after."""
    folder.mkdir(exist_ok=True)
    model = folder / f"trip-duration-{version}.joblib"
    shutil.copy2(project / "models" / "trip-duration.joblib", model)
    reports = {
        name: json.loads((project / "reports" / f"{name}.json").read_text())
        for name in ("metrics", "reference")
    }
    manifest = {"name": "trip-duration", "version": version, "md5": file_md5(model), "file": model.name,
                "train_months": ["2021-01"], "val_months": ["2021-02"], **reports}  # fmt: skip
    return switch(folder, manifest, lead)


def dashboard_queries() -> list[tuple[str, str]]:
    """Each panel's title and queries, with the values Grafana would put in for its variables."""
    dashboard = json.loads((ROOT / "ops" / "grafana" / "trip-duration.json").read_text())
    variables = {"$job": "trip-duration", "$__rate_interval": "4s"}  # 4 scrapes
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(name, value)
            found.append((panel["title"], expr))
    return found


def worker_pids(port: int) -> set[str]:
    """The workers that report themselves ready in the service's own /metrics."""
    text = request(port, "GET", "/metrics")[1].decode()
    return {
        sample.labels["pid"]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "trip_duration_ready" and sample.value == 1
    }


def serving(prometheus: Prometheus) -> dict[str, str]:
    """Each worker's version, as Prometheus last scraped trip_duration_model_info."""
    return {
        found["metric"]["pid"]: found["metric"]["version"]
        for found in prometheus.query("trip_duration_model_info == 1")
    }


@pytest.fixture
def running(reproduced: Path, tmp_path: Path) -> Iterator[tuple[Server, Prometheus, Path]]:
    """The service on the pipeline's model v0.1.0, both workers ready, and Prometheus scraping it."""
    if not PROMETHEUS.is_file():
        pytest.fail(f"no {PROMETHEUS}: Prometheus (Debian's package: apt-get install -y prometheus)")
    folder = tmp_path / "deploy"
    place(reproduced, folder, "v0.1.0", lead=0)
    server = Server("--model-dir", str(folder), "--workers", "2", cwd=tmp_path, poll_seconds=1.0)
    prometheus = None
    try:
        wait_ready(server.port)
        until(lambda: len(worker_pids(server.port)) == 2, 30, "both workers ready")
        prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{server.port}")
        until(lambda: prometheus.query('up{job="trip-duration"} == 1'), 30, "Prometheus scraping the service")
        yield server, prometheus, folder
    finally:
        if prometheus is not None:
            prometheus.stop()
        server.stop()


def test_alerts_stay_silent_on_a_real_month_and_fire_on_shifted_trips_and_versions_follow_a_deploy(
    reproduced: Path, mirror: Path, running: tuple[Server, Prometheus, Path]
) -> None:
    server, prometheus, folder = running
    started = time.monotonic()
    month = month_trips(mirror / tlc_file("2021-02"))
    traffic = Traffic(server.port, month)
    traffic.start()
    try:
        # A real month for a window and then some: every rule evaluated on it, none ever pending.
        until(lambda: prometheus.query(f"increase(trip_duration_trips_total[{WINDOW}]) >= 1000"), 30, "trips")
        quiet = time.monotonic() + 12
        while time.monotonic() < quiet:
            assert prometheus.alerts() == {}
            time.sleep(0.5)
        [share] = prometheus.query(
            f"sum(rate(trip_duration_unseen_zone_trips_total[{WINDOW}]))"
            f" / sum(rate(trip_duration_trips_total[{WINDOW}]))"
        )
        assert 0.02 < float(share["value"][1]) < 0.25  # 9% over the whole month
        [median] = prometheus.query(
            f"histogram_quantile(0.5, sum by (le) (rate(trip_duration_predicted_minutes_bucket[{WINDOW}])))"
            " - on () avg(trip_duration_model_reference_median_minutes)"
        )
        assert abs(float(median["value"][1])) < 3
        pids = worker_pids(server.port)
        assert serving(prometheus) == dict.fromkeys(pids, "v0.1.0")
        for title, expr in dashboard_queries():
            assert prometheus.query(expr) or ERRORS_ONLY.search(expr), (title, expr)

        # The same trips, on zone pairs the model never saw and three times as long.
        traffic.trips = shifted(month, joblib.load(folder / "trip-duration-v0.1.0.joblib"))
        fired = until(
            lambda: (alerts := prometheus.alerts()) and firing(alerts) >= DATA_ALERTS and alerts,
            40,
            "the unseen-zone and shifted-median alerts firing",
        )
        assert set(fired) == DATA_ALERTS, fired

        # A new version: every worker swaps to it at its time, and Prometheus sees each one switch.
        traffic.trips = month
        place(reproduced, folder, "v0.1.1", lead=1.0)
        until(lambda: serving(prometheus) == dict.fromkeys(pids, "v0.1.1"), 30, f"v0.1.1 in workers {pids}")
        replaced = prometheus.query('trip_duration_model_info{version="v0.1.0"}')
        assert {(found["metric"]["pid"], found["value"][1]) for found in replaced} == {
            (pid, "0") for pid in pids
        }
        [swaps] = prometheus.query("trip_duration_model_swaps_total")
        assert swaps["value"][1] == "4"  # each worker's first load, then its swap
    finally:
        traffic.stop()
    assert traffic.statuses == {200}
    print(f"prometheus e2e: {time.monotonic() - started:.1f} s from the first trip")


def test_the_promtool_lines_the_docs_print_pass() -> None:
    """docs/operations.md's promtool lines, run as printed from the repository's root."""
    lines = [line for line in shell_lines() if line.startswith("promtool ")]
    assert [line.split()[1:3] for line in lines] == [
        ["check", "rules"],
        ["test", "rules"],
        ["check", "config"],
    ]
    for line in lines:
        done = subprocess.run(["bash", "-c", line], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"{line}:\n{done.stdout}{done.stderr}"
        assert "SUCCESS" in done.stdout + done.stderr, line
