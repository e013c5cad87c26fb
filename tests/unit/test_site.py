"""The site's readers and views on small, exact inputs (the browser tests build it from real history)."""

import subprocess
from pathlib import Path

import pytest

from trip_duration_ops.site import docs, pipeline_view, registry_view, runs
from trip_duration_ops.site.gitdata import Blobs, commits, refs


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "--initial-branch=main")
    git(tmp_path, "config", "user.email", "a@b.c")
    git(tmp_path, "config", "user.name", "a")
    for number, text in enumerate(["one\n", "two: é\n"]):
        (tmp_path / "params.yaml").write_text(text, encoding="utf-8")
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-qm", f"commit {number}")
    return tmp_path


def test_blobs_read_each_commits_file_and_none_where_it_has_none(repo: Path) -> None:
    first, second = commits(repo, "main")
    assert [first.subject, second.subject] == ["commit 0", "commit 1"]
    with Blobs(repo) as blobs:
        assert blobs.read(first.sha, "params.yaml") == "one\n"
        assert blobs.read(second.sha, "params.yaml") == "two: é\n"
        assert blobs.read(second.sha, "dvc.lock") is None
        assert blobs.read(second.sha, "params.yaml") == "two: é\n"  # after a miss, still in step
        assert blobs.names(second.sha, ".") == ["params.yaml"]
        assert blobs.names(second.sha, "monitoring") == []
    assert refs(repo, "refs/heads") == {"refs/heads/main": second.sha}


def test_params_flatten_to_dotted_keys_and_only_differing_ones_are_columns() -> None:
    assert runs.flatten(
        {"model": {"alpha": 1, "name": "ridge"}, "data": {"months": ["2021-01", "2021-02"]}}
    ) == {
        "model.alpha": 1,
        "model.name": "ridge",
        "data.months": "2021-01, 2021-02",
    }
    one = runs.Run("a", "main", "a", None, {"x": 1, "y": 2}, {}, None, None)  # type: ignore[arg-type]
    two = runs.Run("b", "main", "b", None, {"x": 1, "y": 3, "z": 0}, {}, None, None)  # type: ignore[arg-type]
    assert runs.differing([one, two]) == ["y", "z"]


def test_plot_rows_parse_numbers_and_keep_text() -> None:
    assert runs.plot_rows("month,rmse,alert\n2022-05,8.25,true\n") == [
        {"month": "2022-05", "rmse": 8.25, "alert": "true"}
    ]
    assert runs.plot_rows('[{"a": 1}]') == [{"a": 1}]
    assert runs.plot_rows(None) == []


def assignment(version: str, time: str, stage: str = "prod") -> dict:
    return {
        "event": "assignment",
        "stage": stage,
        "version": version,
        "timestamp": time,
        "message": f"{stage}: {version}",
    }


def test_stage_spans_end_at_the_next_assignment_and_the_last_is_open() -> None:
    events = [
        {"event": "registration", "version": "v1", "timestamp": "t1", "stage": None, "message": ""},
        assignment("v1", "t1"),
        assignment("v2", "t3"),
    ]
    spans = registry_view.stage_spans(events, now="t9")
    assert [(s["version"], s["start"], s["end"], s["open"]) for s in spans] == [
        ("v1", "t1", "t3", ""),
        ("v2", "t3", "t9", "yes"),
    ]


def test_a_version_never_promoted_says_what_prod_stayed_on() -> None:
    events = [
        {"event": "registration", "version": "v1", "timestamp": "t1", "stage": None, "message": ""},
        assignment("v1", "t1"),
        {"event": "registration", "version": "v2", "timestamp": "t2", "stage": None, "message": ""},
    ]
    version = lambda name, rmse: registry_view.Version(name, "", "", "", "", [], {"rmse": rmse}, {}, None, {})  # noqa: E731
    notes = registry_view.held(events, [version("v1", 7.5), version("v2", 8.1)])
    assert notes == {
        "v2": "not in prod: prod stayed on v1 (val rmse 8.1 against 7.5 on their own validation months)"
    }


def test_windows_name_each_month_with_its_files_md5() -> None:
    params = {"data": {"taxi": "green", "train_months": ["2021-01"], "val_months": ["2021-02"]}}
    data_dvc = {
        "meta": {"files": {"green_tripdata_2021-01.parquet": "aa", "yellow_tripdata_2021-02.parquet": "bb"}}
    }
    assert registry_view.windows(params, data_dvc) == {
        "train": [("2021-01", "aa")],
        "val": [("2021-02", None)],
    }


def test_param_changes_list_added_removed_and_changed_keys() -> None:
    assert registry_view.changes({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == [("b", 2, 3), ("c", None, 4)]


def test_markdown_links_between_docs_become_page_links() -> None:
    html = docs.render(
        "[s](docs/serving.md#run) [r](../README.md) [w](https://x.org/a.md) [c](stages/train.py)"
    )
    assert 'href="serving.html#run"' in docs.rewrite(html, from_readme=True)
    assert 'href="index.html"' in docs.rewrite(html, from_readme=False)
    assert 'href="https://x.org/a.md"' in docs.rewrite(html, from_readme=False)
    assert 'href="stages/train.py"' in docs.rewrite(html, from_readme=True)
    assert "<table>" in docs.render("| a |\n|---|\n| 1 |\n")


def test_dvc_yaml_plots_become_series_of_files_and_columns() -> None:
    pipeline = {
        "plots": [
            {"reports/plots/residuals.csv": {"template": "linear", "x": "residual", "y": "trips"}},
            {
                "Backtest": {
                    "template": "months",
                    "x": "month",
                    "y": {"reports/backtest.csv": ["rmse", "rmse_threshold"]},
                }
            },
        ]
    }
    plots = pipeline_view.plot_definitions(pipeline)
    assert [plot["series"] for plot in plots] == [
        [("reports/plots/residuals.csv", "trips")],
        [("reports/backtest.csv", "rmse"), ("reports/backtest.csv", "rmse_threshold")],
    ]
    assert [plot["title"] for plot in plots] == ["reports/plots/residuals.csv", "Backtest"]


def test_the_dag_links_each_output_to_the_stages_that_read_it() -> None:
    stages = [
        {"name": "prepare", "deps": ["data"], "outs": ["prepared/train.parquet"]},
        {"name": "train", "deps": ["prepared/train.parquet"], "outs": ["models/m.joblib"]},
        {"name": "monitor", "deps": ["models/m.joblib", "data"], "outs": []},
    ]
    links = pipeline_view.edges(stages, {"data": "data.dvc"})
    assert links == [
        ("data.dvc", "monitor"),
        ("data.dvc", "prepare"),
        ("prepare", "train"),
        ("train", "monitor"),
    ]
    svg = pipeline_view.dag_svg(["data.dvc", "prepare", "train", "monitor"], links)
    assert svg.count("<rect") == 4 and svg.count("<line") == 4


def test_headings_get_githubs_anchors_so_links_to_them_land() -> None:
    html = docs.render("## Using the published model\n\n## Data: `data.dvc`'s months\n")
    assert '<h2 id="using-the-published-model">' in html
    assert '<h2 id="data-datadvcs-months">' in html
