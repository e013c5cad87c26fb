"""The pull-request report: its markdown from hand-written diffs, then the command on a real PR branch."""

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import make_project, sh

from stages.report import (
    data_changes,
    gate,
    gate_limit,
    metrics_table,
    number,
    one_revision,
    params_table,
    plots_table,
    render_plots,
    verdict,
)

PNG = b"\x89PNG\r\n\x1a\n"


def rmse(old: float | None, new: float | None) -> dict:
    return {"reports/metrics.json": {"rmse": {"old": old, "new": new}}}


@pytest.mark.parametrize(
    ("value", "sign", "shown"),
    [
        (7.7587, False, "7.7587"),
        (5.357, False, "5.3570"),  # errors always show 4 decimals
        (0.14109999999999978, True, "+0.1411"),
        (-0.014900000000000024, True, "-0.0149"),
        (0.123456, False, "0.12346"),  # a fifth decimal kept, as `dvc metrics diff --md` keeps it
        (1234.5, False, "1,234.5000"),
        (-1e-9, True, "0.0000"),
        (61921, False, "61,921"),
        (0, True, "0"),
        (12, True, "+12"),
        (None, False, "—"),
    ],
)
def test_number_rounds_as_dvc_with_separators(value: float | None, sign: bool, shown: str) -> None:
    assert number(value, sign) == shown


def test_metrics_table_lines() -> None:
    diff = {
        "reports/metrics.json": {
            "rmse": {"old": 7.7587, "new": 7.8998, "diff": 0.14109999999999978},
            "val_rows": {"old": 61921, "new": 61921, "diff": 0},
            "r2": {"old": 0.5937, "new": 0.5788, "diff": -0.014900000000000024},
            "mae": {"old": None, "new": 5.357},
        }
    }
    assert metrics_table(diff, "main").splitlines() == [
        "| metric | main | PR | change | change % |",
        "| --- | --- | --- | --- | --- |",
        "| mae | — | 5.3570 | — | — |",
        "| r2 | 0.5937 | 0.5788 | -0.0149 | -2.51% |",
        "| rmse | 7.7587 | 7.8998 | +0.1411 | +1.82% |",
        "| val_rows | 61,921 | 61,921 | 0 | 0.00% |",
    ]
    assert metrics_table({}, "main") == "none"


@pytest.mark.parametrize(
    ("old", "new", "limit", "line"),
    [
        (
            8.0,
            7.9,
            1.0,
            "✅ **Better**: validation RMSE 8.0000 → 7.9000 (-1.25%) against main; passes the gate",
        ),
        (
            3.3,
            3.333,
            1.0,
            "✅ **Worse**: validation RMSE 3.3000 → 3.3330 (+1.00%) against main; passes the gate",
        ),
        (
            3.3,
            3.3331,
            1.0,
            "❌ **Worse**: validation RMSE 3.3000 → 3.3331 (+1.0030%) against main; fails the gate",
        ),
        (7.7587, 7.7587, 0.0, "✅ **Unchanged**: validation RMSE 7.7587, as on main; passes the gate"),
        (
            10.0,
            9.95,
            -0.5,
            "✅ **Better**: validation RMSE 10.0000 → 9.9500 (-0.50%) against main; passes the gate",
        ),
        (
            10.0,
            9.96,
            -0.5,
            "❌ **Better**: validation RMSE 10.0000 → 9.9600 (-0.40%) against main; fails the gate",
        ),
        (None, 7.8998, 1.0, "✅ **First metrics**: validation RMSE 7.8998, main has none; passes the gate"),
        (7.7587, None, 1.0, "❌ **No RMSE**: the PR's metrics have no `rmse`; fails the gate"),
    ],
)
def test_verdict_and_gate_at_the_boundary(
    old: float | None, new: float | None, limit: float, line: str
) -> None:
    # 3.3 -> 3.333 is exactly +1%, which floats make 1.0000000000000109%: the limit itself passes.
    assert verdict(rmse(old, new), "main", limit) == f"{line} (at most {limit:+g}%)."
    assert gate(rmse(old, new), limit) is line.startswith("✅")


def test_gate_limit_takes_numbers_only() -> None:
    assert gate_limit(name="default", max_rmse_increase_pct=1) == 1.0
    for bad in ("1%", True, None):
        with pytest.raises(ValueError, match="must be a number"):
            gate_limit(name="default", max_rmse_increase_pct=bad)


def test_params_table_lines() -> None:
    diff = {
        "params.yaml": {
            "model.name": {"old": "linear", "new": "ridge"},
            "model.alpha": {"old": None, "new": 2.0},
            "model.fit_intercept": {"old": True, "new": None},
            "data.train_months": {"old": ["2021-01"], "new": ["2021-01", "2021-03"]},
            "report.note": {"old": "a|b", "new": "c"},
        }
    }
    assert params_table(diff, "main").splitlines() == [
        "| param | main | PR |",
        "| --- | --- | --- |",
        '| data.train_months | `["2021-01"]` | `["2021-01", "2021-03"]` |',
        "| model.alpha | — | `2.0` |",
        "| model.fit_intercept | `true` | — |",
        "| model.name | `linear` | `ridge` |",
        "| report.note | `a\\|b` | `c` |",
    ]
    two_files = {"a.yaml": {"x": {"old": 1, "new": 2}}, "b.yaml": {"x": {"old": 3, "new": 4}}}
    assert params_table(two_files, "v1").splitlines()[2:] == [
        "| a.yaml: x | `1` | `2` |",
        "| b.yaml: x | `3` | `4` |",
    ]
    assert params_table({}, "main") == "none"


def dvc_file(files: dict[str, str] | None, md5: str = "f0.dir") -> dict:
    return {
        "outs": [{"md5": md5, "path": "data"}],
        **({"meta": {"files": files}} if files is not None else {}),
    }


def test_data_changes_lists_added_removed_and_changed_months() -> None:
    base = dvc_file({"m-01.parquet": "aaaaaaaa11", "m-02.parquet": "bbbbbbbb22", "m-03.parquet": "cc"})
    pr = dvc_file(
        {"m-01.parquet": "aaaaaaaa11", "m-02.parquet": "dddddddd44", "m-04.parquet": "ee"}, "f1.dir"
    )
    assert data_changes(base, pr).splitlines() == [
        "- added: `m-04.parquet`",
        "- removed: `m-03.parquet`",
        "- changed: `m-02.parquet` (md5 bbbbbbbb → dddddddd)",
    ]
    assert data_changes(base, base) == "none"
    assert data_changes(None, dvc_file({"m-01.parquet": "aa"})) == "- added: `m-01.parquet`"
    assert data_changes(dvc_file(None), dvc_file(None, "f1.dir")) == (
        "the data changed, but `meta.files` does not say which files"
    )


def test_one_revision_keeps_its_rows_on_axes_shared_with_the_other() -> None:
    spec = {
        "data": {
            "values": [{"h": "1", "e": "4.0", "rev": "workspace"}, {"h": "2", "e": "9.5", "rev": "main"}]
        },
        "mark": "bar",
        "encoding": {
            "x": {"field": "e", "type": "quantitative", "scale": {"zero": False}},
            "y": {"field": "h", "type": "nominal"},
            "color": {
                "field": "rev",
                "scale": {"domain": ["workspace", "main"], "range": ["#945dd6", "#13adc7"]},
            },
        },
        "layer": [{"mark": "line", "encoding": {"y": {"field": "h", "type": "quantitative"}}}],
    }
    main = one_revision(spec, "main", "main")
    assert main["data"]["values"] == [{"h": "2", "e": "9.5", "rev": "main"}]
    assert main["encoding"]["x"]["scale"] == {"zero": False, "domain": [0, 9.5], "nice": True}  # bars from 0
    assert main["encoding"]["color"]["scale"] == {"domain": ["main"], "range": ["#13adc7"]}
    assert main["layer"][0]["encoding"]["y"]["scale"] == {"domain": [0, 2.0], "nice": True}
    pr = one_revision(spec, "workspace", "PR")
    assert pr["data"]["values"] == [{"h": "1", "e": "4.0", "rev": "PR"}]
    assert pr["encoding"]["x"]["scale"]["domain"] == [0, 9.5]
    assert spec["data"]["values"][0]["rev"] == "workspace"  # the input is left alone


def test_plots_table_lines() -> None:
    images = [("Errors", "img/e-base.png", "img/e-pr.png"), ("New plot", None, "img/n-pr.png")]
    assert plots_table(images, "main").splitlines() == [
        "| main | PR |",
        "| --- | --- |",
        "| ![Errors: main](img/e-base.png) | ![Errors: PR](img/e-pr.png) |",
        "| — | ![New plot: PR](img/n-pr.png) |",
    ]


def test_render_plots_draws_the_sides_a_revision_has(tmp_path: Path) -> None:
    spec = {
        "data": {"values": [{"x": "1", "y": "2", "rev": "workspace"}]},
        "title": {"text": "New plot"},
        "mark": "point",
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
        },
    }
    plots = {"data": {"reports/new.csv": [{"type": "vega", "revisions": ["workspace"], "content": spec}]}}
    images = tmp_path / "out/images"
    images.mkdir(parents=True)
    (images / "reports-new-base.png").write_bytes(b"left from an earlier run")
    drawn = render_plots(plots, "main", images, tmp_path / "out")
    assert drawn == [("New plot", None, "images/reports-new-pr.png")]
    assert [path.name for path in images.iterdir()] == ["reports-new-pr.png"]
    assert (images / "reports-new-pr.png").read_bytes()[:8] == PNG


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


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"name": "default", "max_rmse_increase_pct": "1%"},
            "max_rmse_increase_pct must be a number, not '1%'",
        ),
        (
            {"name": "default", "max_rmse_pct": 1.0},
            "missing a required argument: 'max_rmse_increase_pct'",
        ),
    ],
)
def test_bad_report_section_fails_in_one_line(pr: Path, section: dict, problem: str) -> None:
    set_params(pr, report=section)
    try:
        done = sh("python", "stages.report", "--out", "none.md", cwd=pr, check=False)
    finally:
        set_params(pr, report={"name": "default", "max_rmse_increase_pct": 1.0})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"error: params.yaml: report: {problem}"]
    assert not (pr / "none.md").exists()
