"""`dvc plots show` and `dvc plots diff` pages draw offline in a real browser (Chromium, no network).

The project's .dvc/config names .dvc/plots.html, DVC's page with Vega inside: every plot of dvc.yaml
draws, no script fails and nothing is fetched from outside the written dvc_plots/ folder.
"""

import csv
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import copy_of, sh

from tests.e2e.browser import Browser

MONTHS = (
    "2021-03,v0.1.0,80372,7.7207,8.9225,0.0,0.0206,false\n2021-04,v0.1.0,82750,9.1581,8.9225,0.0,0.04,true\n"
)


@pytest.fixture(scope="module")
def project(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of(reproduced, tmp_path_factory.mktemp("plots") / "project")


def declared(project: Path) -> int:
    return len(yaml.safe_load((project / "dvc.yaml").read_text())["plots"])


def test_dvc_plots_show_draws_every_plot_offline(project: Path) -> None:
    out = sh("dvc", "plots", "show", cwd=project).stdout
    page = project / "dvc_plots" / "index.html"
    assert out.strip() == page.as_uri()
    assert "cdn.jsdelivr.net" not in page.read_text()
    with Browser() as browser:
        seen = browser.visit(page, "dvc-plots-show", charts=declared(project))
    assert seen.console_errors == []
    assert seen.outside_requests == []
    assert seen.charts == declared(project) == 6
    assert seen.screenshot.stat().st_size > 10_000


def test_dvc_plots_diff_draws_both_revisions_offline(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(project, copy, symlinks=True)
    residuals = project / "reports" / "plots" / "residuals.csv"
    rows = list(csv.DictReader(residuals.open()))
    with (copy / residuals.relative_to(project)).open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "trips": int(float(row["trips"])) * 2} for row in rows)
    # The two monthly plots have no month at HEAD (no month after validation, nothing served yet).
    for path in ("reports/backtest.csv", "monitoring/history.csv"):
        with (copy / path).open("a") as file:
            file.write(MONTHS)
    sh("dvc", "plots", "diff", "HEAD", cwd=copy)
    page = copy / "dvc_plots" / "index.html"
    text = page.read_text()
    assert '"rev": "HEAD"' in text and '"rev": "workspace"' in text
    with Browser() as browser:
        seen = browser.visit(page, "dvc-plots-diff", charts=declared(copy))
    assert seen.console_errors == []
    assert seen.outside_requests == []
    assert seen.charts == declared(copy) == 6
