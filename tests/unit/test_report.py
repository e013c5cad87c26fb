"""The pull-request report: its markdown from hand-written DVC diffs, locks and .dvc files."""

import sys
from pathlib import Path
from subprocess import PIPE, Popen

import pytest
import vl_convert
import yaml

from trip_duration.errors import InputError, run
from trip_duration_ops.catalog import out_md5, paths_named
from trip_duration_ops.gate import gate, like_for_like, on_same_trips
from trip_duration_ops.report import main
from trip_duration_ops.report_dvc import diff_results
from trip_duration_ops.report_markdown import (
    backtest_rows,
    backtest_table,
    comparability,
    data_changes,
    markdown,
    metrics_table,
    number,
    params_table,
    plots_markdown,
    verdict,
)
from trip_duration_ops.report_plots import bars_from_zero, relabel, render_plots

PNG = b"\x89PNG\r\n\x1a\n"
VAL = "prepared/val.parquet"


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
        (True, False, "True"),
        ("n/a", False, "n/a"),
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


def test_gate_from_zero_rmse_needs_no_rise() -> None:
    assert gate(rmse(0.0, 0.0), 1.0) is True
    assert gate(rmse(0.0, 0.1), 1.0) is False


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
    assert data_changes(dvc_file(None), dvc_file(None)) == "none"


def lock(val_md5: str | None) -> dict:
    """A dvc.lock whose prepare stage wrote the validation trips with `val_md5` (none if None)."""
    outs = [{"path": "prepared/train.parquet", "md5": "t1"}]
    outs += [{"path": VAL, "md5": val_md5}] if val_md5 else []
    return {"schema": "2.0", "stages": {"prepare": {"cmd": "python -m stages.prepare", "outs": outs}}}


def test_out_md5_finds_an_output_in_any_stage() -> None:
    assert out_md5(lock("v1"), VAL) == "v1"
    assert out_md5(lock(None), VAL) is None
    assert out_md5(None, VAL) is None
    assert out_md5({"stages": {"evaluate": {"cmd": "x"}}}, VAL) is None


WARNING = (
    "> [!WARNING]\n> **Not like for like**: the validation trips (`prepared/val.parquet`) differ from"
    " main's, so the RMSE change mixes a change of model with a change of trips"
    " (months, filters or data)."
)


def test_trips_differ_when_the_validation_md5s_do() -> None:
    assert like_for_like(lock("v1"), lock("v2"), VAL) is False
    assert like_for_like(lock("v1"), lock(None), VAL) is False


def test_trips_are_like_for_like_when_the_same_or_the_base_has_none() -> None:
    assert like_for_like(lock("v1"), lock("v1"), VAL) is True
    assert like_for_like(None, lock("v2"), VAL) is True
    assert like_for_like(lock(None), lock("v2"), VAL) is True
    assert like_for_like({}, lock("v2"), VAL) is True


def test_the_warning_says_what_the_gate_compares() -> None:
    assert comparability(VAL, "main") == WARNING
    assert comparability(VAL, "main", 7.6631) == WARNING + (
        " The gate compares both models on the PR's trips instead: main's model scores RMSE 7.6631 on them."
    )
    assert comparability(VAL, "main", None, "main's model could not be read (PathMissingError: x)") == (
        WARNING + " The gate compares the metrics as they are: main's model could not be read"
        " (PathMissingError: x)."
    )


def test_report_puts_the_verdict_first_and_the_warning_under_it() -> None:
    warning = comparability(VAL, "main")
    text, passed = markdown(rmse(8.0, 7.9), {}, dvc_file({}), dvc_file({}), "none", "main", 1.0, warning)
    assert passed is True
    assert text.split("\n\n") == [
        verdict(rmse(8.0, 7.9), "main", 1.0),
        warning,
        "## Metrics",
        metrics_table(rmse(8.0, 7.9), "main"),
        "## Parameters that changed",
        "none",
        "## Data that changed",
        "none",
        "## Plots",
        "none\n",
    ]
    text, passed = markdown(rmse(8.0, 9.0), {}, dvc_file({}), dvc_file({}), "none", "main", 1.0)
    assert passed is False
    assert text.split("\n\n")[1] == "## Metrics"


def test_on_other_trips_the_gate_takes_the_base_model_on_the_prs_trips() -> None:
    """main's metrics say 6.9 → 7.4 (worse); main's model on the PR's trips scores 7.66: better."""
    same = on_same_trips(rmse(6.9, 7.4), 7.66)
    text, passed = markdown(rmse(6.9, 7.4), {}, dvc_file({}), dvc_file({}), "none", "main", 1.0, "", "", same)
    assert passed is True
    assert text.splitlines()[0] == (
        "✅ **Better**: validation RMSE 7.6600 → 7.4000 (-3.39%) against main's model on the PR's trips;"
        " passes the gate (at most +1%)."
    )
    assert "| rmse | 6.9000 | 7.4000 |" in text  # the table keeps the metrics as DVC diffs them
    _, passed = markdown(
        rmse(6.9, 7.8),
        {},
        dvc_file({}),
        dvc_file({}),
        "none",
        "main",
        1.0,
        "",
        "",
        on_same_trips(rmse(6.9, 7.8), 7.66),
    )
    assert passed is False


SPEC = {
    "data": {
        "values": [
            {"h": "1", "e": "4.0", "rev": "workspace"},
            {"h": "2", "e": "9.5", "rev": "main"},
            {"h": "3", "e": "1.0"},
        ]
    },
    "mark": "bar",
    "encoding": {
        "x": {"field": "e", "type": "quantitative", "scale": {"zero": False}},
        "y": {"field": "h", "type": "nominal"},
        "yOffset": {"field": "rev"},
        "color": {
            "field": "rev",
            "scale": {"domain": ["workspace", "main"], "range": ["#945dd6", "#13adc7"]},
        },
    },
    "layer": [{"mark": "line", "encoding": {"y": {"field": "h", "type": "quantitative"}}}],
}


def test_relabel_renames_revisions_in_rows_and_legend() -> None:
    spec = relabel(SPEC, {"workspace": "PR"})
    assert spec["data"]["values"] == [
        {"h": "1", "e": "4.0", "rev": "PR"},
        {"h": "2", "e": "9.5", "rev": "main"},
        {"h": "3", "e": "1.0"},
    ]
    assert spec["encoding"]["color"]["scale"] == {"domain": ["PR", "main"], "range": ["#945dd6", "#13adc7"]}
    assert {key: spec[key] for key in ("mark", "layer")} == {key: SPEC[key] for key in ("mark", "layer")}
    assert SPEC["data"]["values"][0]["rev"] == "workspace"  # the input is left alone
    assert SPEC["encoding"]["color"]["scale"]["domain"] == ["workspace", "main"]


def test_bars_start_at_zero_other_marks_keep_their_scale() -> None:
    spec = bars_from_zero(SPEC)
    assert spec["encoding"]["x"]["scale"] == {"zero": True}
    assert "scale" not in spec["layer"][0]["encoding"]["y"]  # a line: as the template says
    assert SPEC["encoding"]["x"]["scale"] == {"zero": False}


def test_plots_markdown_lines() -> None:
    images = [("Errors", "img/errors.png"), ("New plot", "img/new.png")]
    assert plots_markdown(images, "main").splitlines() == [
        "Each plot draws main and the PR together (the legend's `rev`).",
        "",
        "![Errors: main and PR](img/errors.png)",
        "![New plot: main and PR](img/new.png)",
    ]
    assert plots_markdown([], "main") == "none"


def test_render_plots_draws_one_image_a_plot_with_both_revisions(tmp_path: Path) -> None:
    spec = {
        "data": {"values": [{"x": "1", "y": "2", "rev": "workspace"}, {"x": "1", "y": "3", "rev": "main"}]},
        "title": {"text": "Errors"},
        "mark": "point",
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
            "color": {
                "field": "rev",
                "scale": {"domain": ["workspace", "main"], "range": ["#945dd6", "#13adc7"]},
            },
        },
    }
    plots = {
        "data": {
            "reports/errors.csv": [{"type": "vega", "revisions": ["workspace", "main"], "content": spec}],
            "reports/picture.png": [{"type": "image", "revisions": ["main"], "url": "x.png"}],
        }
    }
    images = tmp_path / "out/images"
    drawn = render_plots(plots, "main", images, tmp_path / "out")
    assert drawn == [("Errors", "images/reports-errors.png")]
    assert [path.name for path in images.iterdir()] == ["reports-errors.png"]
    assert (images / "reports-errors.png").read_bytes()[:8] == PNG
    relabelled = bars_from_zero(relabel(spec, {"workspace": "PR"}))
    assert (images / "reports-errors.png").read_bytes() == vl_convert.vegalite_to_png(relabelled)


def test_pipeline_paths_come_from_dvc_yaml_vars(tmp_path: Path) -> None:
    dvc_yaml = tmp_path / "dvc.yaml"
    dvc_yaml.write_text("vars:\n  - other.yaml\n  - paths:\n      val: data/val.parquet\nstages: {}\n")
    assert paths_named(["val"], str(dvc_yaml)) == ["data/val.parquet"]
    dvc_yaml.write_text("vars:\n  - paths:\n      train: data/train.parquet\n")
    with pytest.raises(InputError) as caught:
        paths_named(["val"], str(dvc_yaml))
    assert str(caught.value) == f"{dvc_yaml}: vars.paths has no 'val'"


def test_the_projects_dvc_yaml_names_the_validation_trips_and_the_backtest() -> None:
    dvc_yaml = str(Path(__file__).resolve().parents[2] / "dvc.yaml")
    assert paths_named(["val", "backtest"], dvc_yaml) == [VAL, "reports/backtest.csv"]


BACKTEST_HEADER = "month,model,rows,rmse,rmse_threshold,drifted_share,prediction_drift,alert\n"


def backtest(*rows: tuple[str, float, bool]) -> list[dict[str, str]]:
    lines = [
        f"{month},workspace,70000,{rmse},8.9225,0.0,0.02,{str(alert).lower()}" for month, rmse, alert in rows
    ]
    return backtest_rows(BACKTEST_HEADER + "".join(line + "\n" for line in lines))


def test_the_backtest_is_four_lines_per_side() -> None:
    base = backtest(("2021-03", 7.7207, False), ("2021-04", 8.1581, False), ("2022-01", 6.7128, True))
    pr = backtest(("2021-03", 7.5, False), ("2021-04", 7.9, False), ("2022-01", 6.6, False))
    assert backtest_table(base, pr, "main") == (
        "| backtest | main | PR |\n| --- | --- | --- |\n"
        "| months | 3 (2021-03..2022-01) | 3 (2021-03..2022-01) |\n"
        "| mean of monthly RMSE | 7.5305 | 7.3333 |\n"
        "| worst month's RMSE | 8.1581 (2021-04) | 7.9000 (2021-04) |\n"
        "| months alerting | 1 | 0 |"
    )


def test_a_backtest_over_other_months_says_so_and_a_missing_side_is_a_dash() -> None:
    pr = backtest(("2021-04", 7.9, False))
    text = backtest_table(backtest(("2021-03", 7.7, False)), pr, "main")
    assert text.endswith("The months differ from main's: compare month by month in the plot below.")
    assert "| months | — | 1 (2021-04..2021-04) |" in backtest_table([], pr, "main")
    assert backtest_table([], backtest_rows(BACKTEST_HEADER), "main") == (
        "none: data/ holds no month after the validation window"
    )


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        (
            {"name": "default", "max_rmse_increase_pct": "1%"},
            "report.max_rmse_increase_pct: Input should be a valid number, not '1%'",
        ),
        (
            {"name": "default", "max_rmse_pct": 1.0},
            "report.max_rmse_increase_pct: missing;"
            " report.max_rmse_pct: unknown key; report takes name, max_rmse_increase_pct",
        ),
    ],
)
def test_bad_report_section_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: dict, problem: str
) -> None:
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"report": section}))
    out = tmp_path / "none.md"
    with pytest.raises(SystemExit) as exited:
        run(main, ["--params", str(params), "--out", str(out), "--images", str(tmp_path / "images")])
    assert exited.value.code == 1
    assert capsys.readouterr() == ("", f"error: {params}: {problem}\n")
    assert not out.exists() and not (tmp_path / "images").exists()


def printing(script: str) -> Popen:
    """A process standing in for one `dvc ... diff --json`."""
    return Popen([sys.executable, "-c", script], stdout=PIPE, stderr=PIPE, text=True)


def test_dvc_diffs_are_parsed_and_a_failing_one_is_one_line_naming_its_command() -> None:
    params = (["params", "diff", "main"], printing("print('{\"params.yaml\": {}}')"))
    plots = (["plots", "diff", "main"], printing("pass"))
    assert diff_results([params, plots]) == [{"params.yaml": {}}, {}]
    failing = printing("import sys; sys.exit('Traceback (most recent call last):\\nERROR: unknown rev')")
    with pytest.raises(InputError) as caught:
        diff_results([(["metrics", "diff", "main", "--all"], failing)])
    assert str(caught.value) == "dvc metrics diff main --all: ERROR: unknown rev"
    with pytest.raises(InputError) as caught:
        diff_results([(["plots", "diff", "main"], printing("raise SystemExit(3)"))])
    assert str(caught.value) == "dvc plots diff main: exit code 3"
