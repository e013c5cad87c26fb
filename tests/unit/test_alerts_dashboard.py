"""ops/: the alert rules and the Grafana dashboard read only the metrics the service defines, and
every alert has a panel showing its signal. (The rules' behaviour: promtool's unit tests,
ops/prometheus/alerts.test.yml; with a real Prometheus scraping the service: tests/e2e/test_prometheus.py.)
The thresholds' bench reads a histogram as Prometheus does.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import ROOT

from bench.alert_thresholds import histogram_quantile
from trip_duration_ops.service.metrics import OPTIONAL, Metrics

RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "trip-duration.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
# A panel says which alert it shows in its description: "Alert: <name> (...)".
ALERT_NAMED = re.compile(r"\bAlert: (\w+)")
# What Grafana puts in a query before Prometheus sees it, as it would for the whole range.
GRAFANA_VARIABLES = {"$job": ".*", "$__rate_interval": "1m"}


def defined_names() -> set[str]:
    """The series names /metrics can give: each metric of the service's registry with its type's
    suffixes (prometheus-client names a counter's family without `_total`), and Prometheus' `up`."""
    metrics, names = Metrics(), {"up"}
    for name in OPTIONAL:  # the per-worker gauges that only some services have, made on first use
        metrics.gauge(name)
    for family in metrics.registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: what is left once strings, label matchers,
    ranges, label lists (by, on, ...), functions, keywords and numbers are taken out."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    words = re.findall(r"(?<![\w.])[A-Za-z_:][\w:]*\b(?!\s*\()", expr)
    return set(words) - {"and", "or", "unless", "bool", "offset", "by", "without", "inf", "nan"}


def alerts() -> list[dict[str, Any]]:
    [group] = yaml.safe_load(RULES.read_text())["groups"]
    return group["rules"]


def panels() -> list[dict[str, Any]]:
    found = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        found += [panel, *panel.get("panels", [])]  # a collapsed row holds its own
    return [panel for panel in found if panel["type"] != "row"]


def queries(panel: dict[str, Any]) -> list[str]:
    return [target["expr"] for target in panel.get("targets", [])]


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(a_bucket{route="/p{x}", job=~"$job"}[5m])))'
        " > 0.1 and on (job) b_total offset 1h or up == 0 unless 5 * c{pid='1'} > 1e3"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up", "c"}
    assert metric_names("timestamp(g) - g > 5 * h") == {"g", "h"}


def test_the_alerts_read_only_the_service_metrics_and_carry_what_a_page_needs() -> None:
    defined = defined_names()
    rules = alerts()
    assert [rule["alert"] for rule in rules] == [
        "TripDurationNotReady",
        "TripDuration5xx",
        "TripDurationSlow",
        "TripDurationDeploymentRefused",
        "TripDurationPollStalled",
        "TripDurationPredictionsShifted",
        "TripDurationUnseenZones",
    ]
    for rule in rules:
        name = rule["alert"]
        assert metric_names(rule["expr"]) <= defined, (name, metric_names(rule["expr"]) - defined)
        assert re.fullmatch(r"\d+[smhd]", rule["for"]), name
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook"}, name
        assert annotations["runbook"] == f"docs/operations.md#{name.lower()}"
        assert "$value" in annotations["description"], name


def test_every_panel_reads_only_the_service_metrics() -> None:
    defined = defined_names()
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["schemaVersion"] >= 39
    [datasource] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert datasource["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            [selected] = re.findall(r"label_values\((\w+),", variable["definition"])
            assert selected in defined, variable["name"]
    chosen = {"type": "prometheus", "uid": f"${{{datasource['name']}}}"}  # the variable's value
    for panel in panels():
        assert panel["datasource"] == chosen, panel["title"]
        assert queries(panel), panel["title"]
        for expr in queries(panel):
            assert metric_names(expr) and metric_names(expr) <= defined, (panel["title"], expr)


def test_every_alert_has_a_panel_showing_its_signal() -> None:
    """The panel naming an alert queries every metric the alert's expression reads."""
    shown: dict[str, list[str]] = {}
    for panel in panels():
        for name in ALERT_NAMED.findall(panel.get("description", "")):
            shown.setdefault(name, []).append(panel["title"])
            read = set().union(*(metric_names(expr) for expr in queries(panel)))
            [rule] = [rule for rule in alerts() if rule["alert"] == name]
            assert metric_names(rule["expr"]) <= read, (name, panel["title"])
    assert {name: len(titles) for name, titles in shown.items()} == {rule["alert"]: 1 for rule in alerts()}


def test_the_dashboard_queries_are_promql_that_promtool_accepts(tmp_path: Path) -> None:
    """Each panel's query, its Grafana variables filled in, as a recording rule `promtool check rules`
    parses (it names the first rule whose expression does not parse)."""
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: Prometheus' checker (apt-get install -y prometheus)")
    rules = []
    for panel in panels():
        for index, expr in enumerate(queries(panel)):
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            rules.append({"record": f"dashboard:panel_{panel['id']}_{index}", "expr": expr})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout


def test_the_thresholds_bench_reads_a_quantile_from_buckets_as_prometheus_does() -> None:
    """On the counts of alerts.test.yml, what promtool rendered there: a p99 of 242.5 ms, a shifted
    median of 18.18 minutes. A value on a bound is in that bucket; past the last, the last bound."""
    slow = np.repeat([0.01, 0.2], [100, 25])
    assert histogram_quantile(0.99, slow, (0.05, 0.1, 0.25)) == pytest.approx(0.2425)
    shifted = np.repeat([9.0, 13.0, 14.5, 19.0, 30.0], [50, 50, 50, 550, 300])
    assert histogram_quantile(0.5, shifted, (10, 14, 15, 20)) == pytest.approx(15 + 5 * 350 / 550)
    assert histogram_quantile(0.5, np.array([1.0, 2.0, 2.0, 3.0]), (1, 2, 3)) == 1.5
    assert histogram_quantile(0.5, np.array([50.0, 60.0]), (1, 2)) == 2.0
