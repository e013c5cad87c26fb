"""The site in a real browser: built by `trip-duration site` from the closed loop's real history
(tests/e2e/loop.py: v0.1.0 and v0.2.0 in prod in turn, monthly records with alerts, an open
retrain branch) after one more human step — a commit that changes the model, published by
main.yml as a third version, and an experiment pushed with `dvc exp push` — and from a fresh
clone of this repository. Each page opens from file:// in Debian's Chromium with no request
leaving the site; what it shows is checked against GTO and DVC's own answers.
"""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, sh

from tests.e2e.browser import Browser
from tests.e2e.loop import MONTHS, Story, World
from tests.e2e.test_readme import command, inline, run

PAGES = ["index", "registry", "experiments", "compare", "monitoring", "pipeline", "docs/index"]
LINKS = "() => Array.from(document.querySelectorAll('article a')).map(a => a.getAttribute('href'))"
PLOTS = 6  # dvc.yaml's plots: the pipeline page and the compare view draw each once


@pytest.fixture(scope="module")
def history(story: Story) -> Path:
    return site_history(story.world)


def site_history(world: World) -> Path:
    """A runner's clone of the loop's origin after a third version and a pushed experiment."""
    dev = world.runner()
    world.bash(
        "dvc pull -q && dvc exp run -q -S model=ridge -S model.alpha=0.5 --name ridge-half"
        " && dvc exp push -q origin ridge-half",
        dev,
    )
    world.bash("dvc exp run -q -S model=ridge && trip-duration params sync", dev)
    world.bash("git add -A && git commit -qm 'model: ridge'", dev)
    world.bash("git push -q origin main", dev)
    world.main_workflow()  # registers the third version
    clone = world.runner()
    fetch = inline("git fetch origin 'refs/exps/*:refs/exps/*'")
    world.bash(f"{fetch} && {command('trip-duration site')}", clone)
    return clone


@pytest.fixture(scope="module")
def browser() -> Any:
    with Browser() as opened:
        yield opened


def visit(browser: Browser, site: Path, page: str, name: str, charts: int = 0, then: Any = None) -> Any:
    seen = browser.visit(site / f"{page}.html", name, charts=charts, site=site, then=then)
    assert seen.console_errors == [], seen.console_errors
    assert seen.outside_requests == [], seen.outside_requests
    return seen


def test_every_page_opens_offline_with_no_error_and_draws_its_charts(history: Path, browser: Browser) -> None:
    site = history / "site"
    versions = sorted(path.stem for path in (site / "versions").glob("*.html"))
    charts = {"registry": 1, "experiments": 1, "monitoring": 3, "pipeline": PLOTS, "compare": PLOTS}
    for page in [*PAGES, *(f"versions/{version}" for version in versions)]:
        seen = visit(browser, site, page, f"site-{page.replace('/', '-')}", charts.get(page, 0))
        assert seen.charts >= charts.get(page, 0), (page, seen.charts)
    assert len(versions) >= 3
    assert max(path.stat().st_size for path in site.rglob("*.html")) < 3_000_000


def rows(selector: str, attributes: list[str]) -> str:
    """A script that reads each row's attributes (or the cells' text) in the order shown."""
    return f"""() => Array.from(document.querySelectorAll({selector!r})).filter(row => !row.hidden)
        .map(row => ({{{", ".join(f"{a!r}: row.getAttribute({a!r})" for a in attributes)},
                      cells: Array.from(row.cells).map(cell => cell.textContent.trim())}}))"""


def test_the_registry_shows_what_gto_shows(history: Path, browser: Browser) -> None:
    shown = json.loads(sh("gto", "show", "trip-duration", "--json", cwd=history).stdout)
    expected = {entry["version"]: sorted(stage["stage"] for stage in entry["stages"]) for entry in shown}
    seen = visit(
        browser,
        history / "site",
        "registry",
        "site-registry-rows",
        then=lambda page: page.evaluate(rows("#versions tbody tr", ["data-version", "data-stages"])),
    )
    found = {row["data-version"]: sorted(filter(None, row["data-stages"].split(","))) for row in seen.result}
    assert found == expected
    prods = [v for v, stages in expected.items() if "prod" in stages]
    assert len(prods) == 1 and f"{prods[0]}" in (history / "site" / "index.html").read_text()


def test_each_runs_metrics_are_what_dvc_metrics_show_says_at_its_commit(
    history: Path, browser: Browser
) -> None:
    seen = visit(
        browser,
        history / "site",
        "experiments",
        "site-experiments-rows",
        then=lambda page: page.evaluate(rows("#runs tbody tr", ["data-commit"])),
    )
    shown = json.loads(sh("dvc", "metrics", "show", "--json", "--all-commits", cwd=history).stdout)
    files = {rev: found["data"].get("reports/metrics.json", {}) for rev, found in shown.items()}
    by_commit = {rev: file["data"] for rev, file in files.items() if "data" in file}  # not an error
    mains = [row for row in seen.result if row["cells"][2] == "main"]
    assert len(mains) >= 4 and all(row["data-commit"] in by_commit for row in mains)
    checked = [row for row in seen.result if row["data-commit"] in by_commit]
    for row in checked:  # after pick, run, kind, version, time, message: rmse, mae, r2
        metrics = by_commit[row["data-commit"]]
        assert [float(cell) for cell in row["cells"][6:9]] == [metrics[k] for k in ("rmse", "mae", "r2")]


def test_sorting_a_column_reorders_the_rows_and_the_filter_hides_the_others(
    history: Path, browser: Browser
) -> None:
    def sort_then_filter(page: Any) -> dict[str, Any]:
        read = rows("#runs tbody tr", ["data-key"])
        before = page.evaluate(read)
        page.click("#runs thead th:has-text('rmse')")
        ascending = page.evaluate(read)
        page.click("#runs thead th:has-text('rmse')")
        descending = page.evaluate(read)
        page.fill("#filter", "retrain/")
        return {"before": before, "up": ascending, "down": descending, "filtered": page.evaluate(read)}

    seen = visit(browser, history / "site", "experiments", "site-experiments-sorted", then=sort_then_filter)
    rmse = lambda found: [float(row["cells"][6]) for row in found]  # noqa: E731
    assert rmse(seen.result["up"]) == sorted(rmse(seen.result["before"]))
    assert rmse(seen.result["down"]) == sorted(rmse(seen.result["before"]), reverse=True)
    assert rmse(seen.result["up"]) != rmse(seen.result["before"]) or rmse(seen.result["down"]) != rmse(
        seen.result["before"]
    )
    filtered = seen.result["filtered"]
    assert filtered and all("retrain/" in " ".join(row["cells"]) for row in filtered)
    assert len(filtered) < len(seen.result["before"])


def test_the_compare_view_shows_both_runs_differing_params_and_their_plots_in_one_chart(
    history: Path, browser: Browser
) -> None:
    site = history / "site"
    runs = json.loads((site / "compare.html").read_text().split('id="runs-data">')[1].split("</script>")[0])
    by_label = {run["label"]: run for run in runs}
    experiment, branch = by_label["ridge-half"], by_label["retrain/2022-07"]
    differ = sorted(
        k
        for k in {*experiment["params"], *branch["params"]}
        if experiment["params"].get(k) != branch["params"].get(k)
    )
    assert "model.estimator" in differ
    url = f"{(site / 'compare.html').as_uri()}?a={experiment['key']}&b={branch['key']}"
    seen = browser.visit(
        url,
        "site-compare-two",
        charts=PLOTS,
        site=site,
        then=lambda page: page.evaluate(rows("#comparison-table tbody tr.param", ["data-name"])),
    )
    assert seen.console_errors == [] and seen.outside_requests == []
    assert sorted(row["data-name"] for row in seen.result) == differ
    assert seen.charts == PLOTS  # one chart per plot, both runs in it


def test_monitoring_shows_each_month_its_alerts_and_what_their_retrains_became(
    history: Path, browser: Browser
) -> None:
    seen = visit(
        browser,
        history / "site",
        "monitoring",
        "site-monitoring-rows",
        charts=3,
        then=lambda page: page.evaluate(rows("#months tbody tr", ["data-month", "class"])),
    )
    months = {row["data-month"]: row for row in seen.result}
    assert list(months) == MONTHS
    assert [m for m, row in months.items() if "alert" in (row["class"] or "")] == ["2022-05", "2022-07"]
    assert "retrain/2022-05: merged into main" in " ".join(months["2022-05"]["cells"])
    assert "retrain/2022-07: open" in " ".join(months["2022-07"]["cells"])


def test_a_fresh_clone_of_this_repository_builds_a_site_with_its_docs(
    tmp_path: Path, browser: Browser
) -> None:
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(ROOT), str(clone), cwd=tmp_path)
    out = run(command("trip-duration site"), clone).stdout
    assert out.startswith("site: ")
    site = clone / "site"
    docs = sorted(path.stem for path in (site / "docs").glob("*.html"))
    expected = sorted(["index", *(path.stem for path in (clone / "docs").glob("*.md"))])
    assert docs == expected
    for doc in docs:
        seen = visit(
            browser,
            site,
            f"docs/{doc}",
            f"repo-docs-{doc}",
            then=lambda page: page.evaluate(
                "() => Array.from(document.querySelectorAll('article a')).map(a => a.getAttribute('href'))"
            ),
        )
        local = [
            href.split("#")[0]
            for href in seen.result
            if href and "://" not in href and not href.startswith("#")
        ]
        assert all((site / "docs" / href).is_file() for href in local if href.endswith(".html")), local
    visit(browser, site, "index", "repo-index")
    shutil.rmtree(site)
