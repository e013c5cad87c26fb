"""The pull-request report, end to end: `trip-duration report` on real PR branches with real git and DVC.

main holds the course's linear model on 2021-01 / 2021-02, and 2021-03 for the backtest. Two
branches, each in its own copy:
- pr: a model change only, ridge with alpha 2.0 (worse by 1.41%): like for like;
- trips: the same model on other trips: one more month in data/ (2021-04) and validation trips of
  at most 30 minutes (data.max_minutes): not like for like.
"""

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import vl_convert
import yaml
from conftest import make_project, sh

from trip_duration import metrics
from trip_duration.model import load_model
from trip_duration_ops.report_plots import relabel

PNG = b"\x89PNG\r\n\x1a\n"
RIDGE = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 2.0}
WARNING = (
    "> [!WARNING]\n> **Not like for like**: the validation trips (`prepared/val.parquet`) differ from main's,"
    " so the RMSE change mixes a change of model with a change of trips (months, filters or data)."
)
MONTHS = ["2021-01", "2021-02", "2021-03"]
WORSE = "**Worse**: validation RMSE 7.7587 → 7.8679 (+1.41%) against main;"


def set_params(project: Path, **sections: dict) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({**params, **sections}, sort_keys=False))


def update_section(project: Path, section: str, **values: object) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    set_params(project, **{section: {**params[section], **values}})


@pytest.fixture(scope="module")
def main(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project on main: the course months and the next recorded in data.dvc, reproduced, committed."""
    project = make_project(tmp_path_factory.mktemp("report") / "main", MONTHS)
    sh("trip-duration", "fetch", *MONTHS, cwd=project)  # records meta.files
    sh("dvc", "add", "-q", "data", cwd=project)
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    return project


def branch(main: Path, folder: Path, name: str) -> Path:
    """A copy of `main` (history and DVC cache included) on a new branch `name`."""
    project = folder / name
    shutil.copytree(main, project, symlinks=True)
    sh("git", "checkout", "-qb", name, cwd=project)
    return project


def posted(project: Path) -> tuple[int, str]:
    """Exit code and markdown of `trip-duration report --base main`."""
    done = sh("trip-duration", "report", "--base", "main", cwd=project, check=False)
    assert done.stdout.splitlines() == [
        (project / "report.md").read_text().splitlines()[0],
        "wrote report.md",
    ]
    return done.returncode, (project / "report.md").read_text()


@pytest.fixture(scope="module")
def pr(main: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Branch `pr`, reproduced: ridge with alpha 2.0 instead of least squares, nothing else."""
    project = branch(main, tmp_path_factory.mktemp("report"), "pr")
    set_params(project, model=RIDGE)
    out = sh("dvc", "repro", cwd=project).stdout
    assert "Stage 'prepare' didn't change, skipping" in out.splitlines()
    return project


@pytest.fixture(scope="module")
def pr_report(pr: Path) -> tuple[int, str]:
    return posted(pr)


def sections(markdown: str) -> list[str]:
    return markdown.rstrip("\n").split("\n\n")


def numbers(markdown: str, columns: slice) -> dict[str, list[float | None]]:
    """Metric name -> numbers of a markdown metrics table, from either DVC's layout or the report's."""
    found = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0] in ("metric", "Path") or set(cells[0]) <= set("-: "):
            continue
        name, *values = cells[columns]
        found[name] = [None if v in ("-", "—") else float(v.replace(",", "")) for v in values]
    return found


def test_metrics_are_those_of_dvc_metrics_diff(pr: Path, pr_report: tuple[int, str]) -> None:
    _, markdown = pr_report
    table = markdown.split("## Metrics")[1].split("##")[0]
    ours = numbers(table, slice(0, 4))  # metric | main | PR | change
    everything = numbers(sh("dvc", "metrics", "diff", "main", "--md", "--all", cwd=pr).stdout, slice(1, 5))
    changed = numbers(sh("dvc", "metrics", "diff", "main", "--md", cwd=pr).stdout, slice(1, 5))
    assert ours == everything
    assert sorted(changed) == ["mae", "r2", "rmse", "train_rmse"]
    assert changed.items() <= ours.items()
    assert sorted(ours) == ["features", "mae", "r2", "rmse", "train_rmse", "train_rows", "val_rows"]
    assert ours["rmse"] == [7.7587, 7.8679, 0.1092]
    assert "| val_rows | 61,921 | 61,921 | 0 | 0.00% |" in table.splitlines()


def test_verdict_comes_first_and_the_gate_sets_the_exit_code(pr: Path, pr_report: tuple[int, str]) -> None:
    code, markdown = pr_report
    assert markdown.splitlines()[0] == f"❌ {WORSE} fails the gate (at most +1%)."
    assert code == 1
    update_section(pr, "report", max_rmse_increase_pct=2.0)
    try:
        assert sh("dvc", "status", "-q", cwd=pr, check=False).returncode == 0  # no stage reads `report`
        code, loose = posted(pr)
    finally:
        update_section(pr, "report", max_rmse_increase_pct=1.0)
    assert code == 0
    assert loose.splitlines()[0] == f"✅ {WORSE} passes the gate (at most +2%)."


def test_changed_params_are_listed_and_no_data_changed(pr_report: tuple[int, str]) -> None:
    _, markdown = pr_report
    params = markdown.split("## Parameters that changed\n\n")[1].split("\n\n")[0]
    assert params.splitlines() == [
        "| param | main | PR |",
        "| --- | --- | --- |",
        "| model.alpha | — | `2.0` |",
        "| model.estimator | `sklearn.linear_model.LinearRegression` | `sklearn.linear_model.Ridge` |",
        "| model.fit_intercept | `true` | — |",
        "| model.name | `linear` | `ridge` |",
    ]
    assert markdown.split("## Data that changed\n\n")[1].split("\n\n")[0] == "none"


def test_each_plot_is_one_png_with_main_and_the_pr(pr: Path, pr_report: tuple[int, str]) -> None:
    _, markdown = pr_report
    intro, lines = markdown.split("## Plots\n\n")[1].rstrip("\n").split("\n\n")
    assert intro == "Each plot draws main and the PR together (the legend's `rev`)."
    images = [
        re.fullmatch(r"!\[([^]]*): main and PR\]\((reports/pr-images/[^)]+)\)", line)
        for line in lines.splitlines()
    ]
    declared = [next(iter(plot)) for plot in yaml.safe_load((pr / "dvc.yaml").read_text())["plots"]]
    # All but the served model's monitoring history, which has no month yet on either side.
    assert all(images) and len(images) == len(declared) - 1 == 5
    assert not any("Monitoring" in line for line in lines.splitlines()) and declared[-1].startswith(
        "Monitoring"
    )
    assert all((pr / image[2]).read_bytes()[:8] == PNG for image in images)
    # The picture is DVC's spec of both revisions, the PR's named "PR".
    diff = json.loads(sh("dvc", "plots", "diff", "main", "--json", cwd=pr).stdout)
    [residuals] = [entry for entry in diff["data"]["reports/plots/residuals.csv"] if entry["type"] == "vega"]
    assert {row["rev"] for row in residuals["content"]["data"]["values"]} == {"main", "workspace"}
    drawn = vl_convert.vegalite_to_png(relabel(residuals["content"], {"workspace": "PR"}))
    assert (pr / "reports/pr-images/reports-plots-residuals.png").read_bytes() == drawn


def test_unknown_base_fails_in_one_line(pr: Path) -> None:
    done = sh("trip-duration", "report", "--base", "no-such-branch", "--out", "none.md", cwd=pr, check=False)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        "error: no-such-branch: unknown git revision (a CI checkout needs it fetched: fetch-depth: 0)"
    ]
    assert not (pr / "none.md").exists()


def test_the_backtest_compares_both_models_on_the_same_later_months(
    main: Path, pr: Path, pr_report: tuple[int, str]
) -> None:
    _, markdown = pr_report
    backtest = markdown.split("## Later months (backtest)\n\n")[1].split("\n\n")[0]
    rmse = [
        (project / "reports" / "backtest.csv").read_text().splitlines()[1].split(",")[3]
        for project in (main, pr)
    ]
    assert backtest.splitlines() == [
        "| backtest | main | PR |",
        "| --- | --- | --- |",
        "| months | 1 (2021-03..2021-03) | 1 (2021-03..2021-03) |",
        f"| mean of monthly RMSE | {rmse[0]} | {rmse[1]} |",
        f"| worst month's RMSE | {rmse[0]} (2021-03) | {rmse[1]} (2021-03) |",
        "| months alerting | 0 | 0 |",
    ]
    assert rmse[0] == "7.7207" and rmse[1] != rmse[0]


def test_a_model_only_change_is_like_for_like(pr_report: tuple[int, str]) -> None:
    _, markdown = pr_report
    assert "Not like for like" not in markdown
    assert sections(markdown)[1].startswith("## Metrics")


def test_other_validation_trips_are_flagged_not_like_for_like(main: Path, tmp_path: Path) -> None:
    project = branch(main, tmp_path, "trips")
    sh("trip-duration", "fetch", "2021-04", cwd=project)
    sh("dvc", "add", "-q", "data", cwd=project)
    update_section(project, "data", max_minutes=30)
    out = sh("dvc", "repro", cwd=project).stdout
    assert "Running stage 'prepare':" in out.splitlines()
    code, markdown = posted(project)
    parts = sections(markdown)
    # Trips of at most 30 minutes have smaller errors, whichever model: the gate scores main's model
    # on the PR's trips, and compares the two models there.
    main_model = load_model(main / "models" / "trip-duration.joblib")
    val = pd.read_parquet(project / "prepared" / "val.parquet")
    champion = round(metrics.rmse(val["duration"], main_model.predict(val)), 4)
    assert 4.6695 < champion < 7.7587
    change = (Decimal("4.6695") - Decimal(repr(champion))) / Decimal(repr(champion)) * 100
    assert (code, parts[0]) == (
        0,
        f"✅ **Better**: validation RMSE {champion:.4f} → 4.6695 ({change:+.2f}%) against main's model on"
        " the PR's trips; passes the gate (at most +1%).",
    )
    assert parts[1] == WARNING + (
        f" The gate compares both models on the PR's trips instead: main's model scores RMSE {champion:.4f}"
        " on them."
    )
    assert "| rmse | 7.7587 | 4.6695 |" in markdown  # the metrics table keeps DVC's diff
    assert markdown.count("Not like for like") == 1
    params = markdown.split("## Parameters that changed\n\n")[1].split("\n\n")[0]
    assert params.splitlines()[2:] == ["| data.max_minutes | `60` | `30` |"]
    data = markdown.split("## Data that changed\n\n")[1].split("\n\n")[0]
    assert data == "- added: `green_tripdata_2021-04.parquet`"
    backtest = markdown.split("## Later months (backtest)\n\n")[1].split("\n\n## ")[0]
    assert backtest.splitlines()[2] == "| months | 1 (2021-03..2021-03) | 2 (2021-03..2021-04) |"
    assert backtest.endswith("The months differ from main's: compare month by month in the plot below.")
