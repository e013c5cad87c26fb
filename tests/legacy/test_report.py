"""The pull-request report, end to end: the command on a real PR branch with real git and DVC.

The markdown pieces (verdict, gate, tables, data changes, plots, comparability) and the bad
`report` section are in-process unit tests now: tests/unit/test_report.py.
"""

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import make_project, sh

PNG = b"\x89PNG\r\n\x1a\n"


# End to end: main with the course's linear model, a PR branch with ridge and one more month of data.


def set_params(project: Path, **sections: dict) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    (project / "params.yaml").write_text(yaml.safe_dump({**params, **sections}, sort_keys=False))


@pytest.fixture(scope="module")
def pr(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose branch `pr`, checked out and reproduced, changes the model and adds 2021-03."""
    project = make_project(tmp_path_factory.mktemp("report") / "project", ["2021-01", "2021-02"])
    set_params(project, report={"name": "default", "max_rmse_increase_pct": 1.0})
    sh("python", "stages.fetch", "2021-01", "2021-02", cwd=project)  # records meta.files
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    sh("git", "checkout", "-qb", "pr", cwd=project)
    set_params(project, model={"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 2.0})
    sh("python", "stages.fetch", "2021-03", cwd=project)
    sh("dvc", "add", "-q", "data", cwd=project)
    sh("dvc", "repro", cwd=project)
    return project


@pytest.fixture(scope="module")
def posted(pr: Path) -> tuple[int, str]:
    """Exit code and markdown of `python -m stages.report --base main` on the PR."""
    done = sh("python", "stages.report", "--base", "main", cwd=pr, check=False)
    return done.returncode, (pr / "report.md").read_text()


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


def test_metrics_are_those_of_dvc_metrics_diff(pr: Path, posted: tuple[int, str]) -> None:
    _, markdown = posted
    table = markdown.split("## Metrics")[1].split("##")[0]
    ours = numbers(table, slice(0, 4))  # metric | main | PR | change
    everything = numbers(sh("dvc", "metrics", "diff", "main", "--md", "--all", cwd=pr).stdout, slice(1, 5))
    changed = numbers(sh("dvc", "metrics", "diff", "main", "--md", cwd=pr).stdout, slice(1, 5))
    assert ours == everything
    assert changed.items() <= ours.items() and "rmse" in changed
    assert ours["val_rows"] == [61_921, 61_921, 0]
    assert "| val_rows | 61,921 | 61,921 | 0 | 0.00% |" in table


def test_verdict_comes_first_and_the_gate_sets_the_exit_code(pr: Path, posted: tuple[int, str]) -> None:
    code, markdown = posted
    old = json.loads(sh("git", "show", "main:reports/metrics.json", cwd=pr).stdout)["rmse"]
    new = json.loads((pr / "reports/metrics.json").read_text())["rmse"]
    change = (new - old) / old * 100
    assert change > 1.0  # ridge with alpha 2 is worse than the course's linear model
    assert markdown.splitlines()[0] == (
        f"❌ **Worse**: validation RMSE {old:.4f} → {new:.4f} ({change:+.2f}%) against main;"
        " fails the gate (at most +1%)."
    )
    assert code == 1
    set_params(pr, report={"name": "default", "max_rmse_increase_pct": 2.0})
    try:
        assert sh("dvc", "status", "-q", cwd=pr, check=False).returncode == 0  # no stage reads `report`
        done = sh("python", "stages.report", "--base", "main", "--out", "loose.md", cwd=pr, check=False)
        assert done.returncode == 0, done.stderr
        assert (pr / "loose.md").read_text().startswith("✅ **Worse**")
        assert done.stdout.splitlines() == [(pr / "loose.md").read_text().splitlines()[0], "wrote loose.md"]
    finally:
        set_params(pr, report={"name": "default", "max_rmse_increase_pct": 1.0})


def test_changed_params_and_data_months_are_listed(posted: tuple[int, str]) -> None:
    _, markdown = posted
    params = markdown.split("## Parameters that changed\n\n")[1].split("\n\n")[0]
    assert params.splitlines() == [
        "| param | main | PR |",
        "| --- | --- | --- |",
        "| model.alpha | — | `2.0` |",
        "| model.estimator | `sklearn.linear_model.LinearRegression` | `sklearn.linear_model.Ridge` |",
        "| model.fit_intercept | `true` | — |",
        "| model.name | `linear` | `ridge` |",
    ]
    data = markdown.split("## Data that changed\n\n")[1].split("\n\n")[0]
    assert data == "- added: `green_tripdata_2021-03.parquet`"


def test_plots_of_both_sides_are_png_files_beside_the_report(pr: Path, posted: tuple[int, str]) -> None:
    _, markdown = posted
    rows = [line for line in markdown.split("## Plots")[1].splitlines() if line.startswith("| ![")]
    assert len(rows) == len(yaml.safe_load((pr / "dvc.yaml").read_text())["plots"])
    for row in rows:
        base, head = re.findall(r"!\[[^]]*\]\(([^)]+)\)", row)
        assert not Path(base).is_absolute() and base.startswith("reports/pr-images/")
        assert (pr / base).read_bytes()[:8] == PNG
        assert (pr / head).read_bytes()[:8] == PNG
        assert (pr / base).read_bytes() != (pr / head).read_bytes()


def test_unknown_base_fails_in_one_line(pr: Path) -> None:
    done = sh("python", "stages.report", "--base", "no-such-branch", "--out", "none.md", cwd=pr, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: no-such-branch: unknown git revision (a CI checkout needs it fetched: fetch-depth: 0)"
    ]
    assert not (pr / "none.md").exists()
