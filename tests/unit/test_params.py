"""params.yaml against conf/: check, sync and compose in-process, on copies of the real conf/."""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import call_main
from dvc.utils.hydra import compose_and_dump

from trip_duration_ops.conf_diff import ABSENT, Source, composed, flatten, home, same, sources, survey
from trip_duration_ops.conf_sync import Edit, plan, rewrite, switch
from trip_duration_ops.params_cli import main

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
OPTIONS = [
    sorted(path.stem for path in (CONF / group).glob("*.yaml")) for group in ("data", "features", "model")
]
# Every option of every group at least once, without composing all 24 combinations.
COMBINATIONS = [
    tuple(options[i % len(options)] for options in OPTIONS) for i in range(max(map(len, OPTIONS)))
]
ADVICE = "`trip-duration params sync` keeps these edits, `compose` drops them\n"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of conf/ and the params.yaml that `dvc exp run` composes from it."""
    shutil.copytree(CONF, tmp_path / "conf")
    compose_and_dump(tmp_path / "params.yaml", str(tmp_path / "conf"), None, "config", "", [])
    return tmp_path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`trip-duration params COMMAND --conf ROOT/conf --params ROOT/params.yaml ARGS` in-process.

    Returns (exit code, stdout, stderr).
    """

    def call(root: Path, command: str, *args: str, params: str = "params.yaml") -> tuple[int, str, str]:
        argv = [command, "--conf", str(root / "conf"), "--params", str(root / params), *args]
        return call_main(main, argv, capsys)

    return call


def edit_params(root: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Edit params.yaml by hand, as a user would; returns the new contents."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def conf_files(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.glob("conf/**/*.yaml"))}


def assert_check_fails_with(cli: Cli, root: Path, lines: list[str]) -> None:
    code, out, err = cli(root, "check")
    assert (code, out.splitlines(), err) == (1, lines, ADVICE)


def assert_synced(root: Path, edited: dict[str, Any]) -> None:
    """Nothing differs any more, and Hydra composes the synced conf/ into the edited params.yaml."""
    conf = root / "conf"
    assert survey(conf, root / "params.yaml", "config") == ([], sources(conf, "config", []))
    assert same(composed(conf, "config", []), flatten(edited))


def merged(files: list[Source]) -> dict[str, Any]:
    """The sources' keys, later files winning, as Hydra merges them."""
    keys: dict[str, Any] = {}
    for source in files:
        keys.update(source.values)
    return keys


def test_flatten_keeps_lists_and_empty_mappings_as_values() -> None:
    tree = {"a": {"b": 1, "c": [1, {"d": 2}], "e": {}}, "f": None}
    assert flatten(tree) == {"a.b": 1, "a.c": [1, {"d": 2}], "a.e": {}, "f": None}
    assert flatten({"b": 1}, "model") == {"model.b": 1}


def test_same_tells_apart_what_a_stage_would_see_differently() -> None:
    assert same({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not same(1, 1.0) and not same(True, 1) and not same("1.0", 1.0)
    assert not same([1, 2], [1]) and not same({"a": 1}, {"a": 1, "b": 2})


@pytest.mark.parametrize(("data", "features", "model"), COMBINATIONS)
def test_sources_merge_to_what_hydra_composes(data: str, features: str, model: str) -> None:
    overrides = [f"data={data}", f"features={features}", f"model={model}"]
    files = sources(CONF, "config", overrides)
    assert [source.path.relative_to(CONF).as_posix() for source in files] == [
        f"data/{data}.yaml",
        f"features/{features}.yaml",
        f"model/{model}.yaml",
        "training/default.yaml",
        "evaluate/default.yaml",
        "report/default.yaml",
        "monitor/default.yaml",
        "retrain/default.yaml",
        "compute/local.yaml",
        "config.yaml",
    ]
    assert merged(files) == composed(CONF, "config", overrides)


def test_global_package_option_defines_keys_of_other_groups() -> None:
    hgb = sources(CONF, "config", ["model=hgb"])
    assert home("features.encoding", hgb).path == CONF / "model" / "hgb.yaml"
    assert home("features.encoding", hgb).package == ""
    assert home("model.max_iter", hgb).path == CONF / "model" / "hgb.yaml"
    assert home("features.seed", hgb).path == CONF / "features" / "course.yaml"
    linear = sources(CONF, "config", [])
    assert home("features.encoding", linear).path == CONF / "features" / "course.yaml"
    assert home("model.fit_intercept", linear).path == CONF / "model" / "linear.yaml"
    # a key no file sets belongs to its group's file, else to the primary config
    assert home("model.positive", linear).path == CONF / "model" / "linear.yaml"
    assert home("extra.key", linear).path == CONF / "config.yaml"


@pytest.mark.filterwarnings("ignore:In 'config'")
def test_primary_keys_win_when_the_defaults_list_lacks_self(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "config.yaml").write_text("defaults:\n  - g: a\ng:\n  v: 9\n")
    (tmp_path / "g/a.yaml").write_text("v: 2\nw: 3\n")
    files = sources(tmp_path, "config", [])
    assert merged(files) == composed(tmp_path, "config", []) == {"g.v": 9, "g.w": 3}
    assert home("g.v", files).path == tmp_path / "config.yaml"


def test_a_key_missing_from_params_is_removed_from_every_file_that_sets_it(tmp_path: Path) -> None:
    params = composed(CONF, "config", ["model=hgb"])
    del params["features.encoding"]
    nested: dict[str, Any] = {}
    for key, value in params.items():
        section, name = key.split(".")
        nested.setdefault(section, {})[name] = value
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(nested, sort_keys=False))
    found, stack = survey(CONF, tmp_path / "params.yaml", "config")
    edits = plan(found, stack)
    assert [(edit.source.path, edit.key, edit.old, edit.new) for edit in edits] == [
        (CONF / "features/course.yaml", "features.encoding", "onehot", ABSENT),
        (CONF / "model/hgb.yaml", "features.encoding", "target", ABSENT),
    ]


def test_switch_changes_only_the_group_entry_and_keeps_its_comment() -> None:
    text = "defaults:\n  - model: linear  # why\n  - model_extra: linear\n  - _self_\n"
    assert switch(text, "model", "linear", "ridge") == text.replace("model: linear  #", "model: ridge  #")
    assert switch("defaults:\n  - override model@m: linear\n", "model", "linear", "ridge") == (
        "defaults:\n  - override model@m: ridge\n"
    )
    assert switch("defaults:\n  - model: linear_v2\n", "model", "linear", "ridge") is None
    assert switch("defaults: [{model: linear}]\n", "model", "linear", "ridge") is None


def test_rewrite_keeps_styles_and_comments_and_quotes_what_hydra_would_misread(tmp_path: Path) -> None:
    path = tmp_path / "hgb.yaml"
    path.write_text(
        '# keep me\nmodel:\n  months:\n  - "2021-01"\n  flags: [a]   # flow\n  gone: 1\n'
        "  word: x    # a word\nother:\n  only: 1\n"
    )
    source = Source(path, "model", "", {})  # a `# @package _global_` file
    rewrite(
        path,
        [
            Edit(source, "model.gone", 1, ABSENT),
            Edit(source, "other.only", 1, ABSENT),
            Edit(source, "model.months", ["2021-01"], ["2021-01", "2021-02"]),
            Edit(source, "model.flags", ["a"], ["a", "b"]),
            Edit(source, "model.word", "x", "yes"),
            Edit(source, "model.new.deep", ABSENT, ["off", 1.5]),
        ],
    )
    assert path.read_text() == (
        '# keep me\nmodel:\n  months:\n  - "2021-01"\n  - "2021-02"\n  flags: [a, b] # flow\n'
        '  word: "yes" # a word\n  new:\n    deep: ["off", 1.5]\n'
    )
    assert composed(tmp_path, "hgb", [])["model.word"] == "yes"


def test_edit_lines_say_what_changes() -> None:
    source = Source(Path("conf/model/ridge.yaml"), "model", "model", {})
    assert str(Edit(source, "model.alpha", 1.0, 0.5)) == "conf/model/ridge.yaml: model.alpha 1.0 -> 0.5"
    assert str(Edit(source, "model.tol", ABSENT, "0.5")) == "conf/model/ridge.yaml: model.tol added: '0.5'"
    assert str(Edit(source, "model.x", [1], ABSENT)) == "conf/model/ridge.yaml: model.x removed (was [1])"


def test_compose_writes_what_dvc_writes_and_check_accepts_it(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    dvc_wrote = params.read_bytes()
    params.unlink()
    assert cli(project, "compose") == (0, f"wrote {params} from {conf}/\n", "")
    assert params.read_bytes() == dvc_wrote
    assert cli(project, "check") == (0, f"{params} matches {conf}/\n", "")


def test_compose_takes_hydra_overrides_as_dvc_exp_run_does(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    compose_and_dump(project / "dvc.yaml", str(conf), None, "config", "", ["model=ridge", "model.alpha=0.5"])
    code, out, err = cli(project, "compose", "model=ridge", "model.alpha=0.5")
    assert (code, out, err) == (0, f"wrote {params} from {conf}/ model=ridge model.alpha=0.5\n", "")
    assert params.read_bytes() == (project / "dvc.yaml").read_bytes()
    assert yaml.safe_load(params.read_text())["model"]["alpha"] == 0.5


def test_repository_params_match_its_conf(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check", "--conf", str(CONF), "--params", str(ROOT / "params.yaml")])
    assert capsys.readouterr() == (f"{ROOT / 'params.yaml'} matches {CONF}/\n", "")


def test_check_lists_every_changed_scalar_with_both_values_and_its_file(project: Path, cli: Cli) -> None:
    def change(params: dict[str, Any]) -> None:
        params["data"]["max_minutes"] = 90
        params["model"]["fit_intercept"] = False
        params["evaluate"]["residual_bin"] = "1.0"

    edit_params(project, change)
    params, conf = project / "params.yaml", project / "conf"
    assert_check_fails_with(
        cli,
        project,
        [
            f"data.max_minutes: {params} has 90, {conf}/data/course.yaml has 60",
            f"model.fit_intercept: {params} has false, {conf}/model/linear.yaml has true",
            f"evaluate.residual_bin: {params} has '1.0', {conf}/evaluate/default.yaml has 1.0",
        ],
    )


def test_list_edit_is_one_value_and_syncs_in_flow_style(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    before = (conf / "data/course.yaml").read_text()
    edited = edit_params(project, lambda params: params["data"]["train_months"].append("2021-03"))
    assert_check_fails_with(
        cli,
        project,
        [f"data.train_months: {params} has [2021-01, 2021-03], {conf}/data/course.yaml has [2021-01]"],
    )
    assert cli(project, "sync") == (
        0,
        f"{conf}/data/course.yaml: data.train_months [2021-01] -> [2021-01, 2021-03]\n",
        "",
    )
    after = before.replace('train_months: ["2021-01"]', 'train_months: ["2021-01", "2021-03"]')
    assert (conf / "data/course.yaml").read_text() == after != before
    assert_synced(project, edited)


def test_added_and_removed_keys_sync_into_the_defining_files(project: Path, cli: Cli) -> None:
    def change(params: dict[str, Any]) -> None:
        params["model"]["positive"] = True
        del params["evaluate"]["residual_bin"]

    edited = edit_params(project, change)
    params, conf = project / "params.yaml", project / "conf"
    assert_check_fails_with(
        cli,
        project,
        [
            f"model.positive: {params} has true, not in {conf}/; add it to {conf}/model/linear.yaml",
            f"evaluate.residual_bin: missing from {params}, {conf}/evaluate/default.yaml has 1.0",
        ],
    )
    code, out, err = cli(project, "sync")
    assert (code, err, out.splitlines()) == (
        0,
        "",
        [
            f"{conf}/evaluate/default.yaml: evaluate.residual_bin removed (was 1.0)",
            f"{conf}/model/linear.yaml: model.positive added: true",
        ],
    )
    evaluate = (conf / "evaluate/default.yaml").read_text()
    assert evaluate == (CONF / "evaluate/default.yaml").read_text().replace(
        "residual_bin: 1.0    # minutes per residual histogram bar\n", ""
    )
    assert (conf / "model/linear.yaml").read_text() == (CONF / "model/linear.yaml").read_text() + (
        "positive: true\n"
    )
    assert_synced(project, edited)


def switch_to_ridge(params: dict[str, Any]) -> None:
    params["model"] = {
        "name": "ridge",
        "estimator": "sklearn.linear_model.Ridge",
        "alpha": 0.5,
        "random_state": 42,
    }


def test_switched_group_changes_the_defaults_list(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    config = (conf / "config.yaml").read_text()
    edited = edit_params(project, switch_to_ridge)
    assert_check_fails_with(
        cli,
        project,
        [
            f"model.name: {params} has ridge, {conf}/config.yaml picks model: linear",
            f"model.alpha: {params} has 0.5, {conf}/model/ridge.yaml has 1.0",
        ],
    )
    code, out, err = cli(project, "sync")
    assert (code, err, out.splitlines()) == (
        0,
        "",
        [
            f"{conf}/config.yaml: defaults model: linear -> ridge",
            f"{conf}/model/ridge.yaml: model.alpha 1.0 -> 0.5",
        ],
    )
    assert (conf / "config.yaml").read_text() == config.replace("- model: linear", "- model: ridge")
    ridge = (CONF / "model/ridge.yaml").read_text()
    assert (conf / "model/ridge.yaml").read_text() == ridge.replace("alpha: 1.0", "alpha: 0.5")
    assert_synced(project, edited)


def test_dry_run_prints_the_changes_and_writes_nothing(project: Path, cli: Cli) -> None:
    conf = project / "conf"
    edit_params(project, switch_to_ridge)
    before = conf_files(project)
    code, out, err = cli(project, "sync", "--dry-run")
    assert (code, err, out.splitlines()) == (
        0,
        "",
        [
            f"{conf}/config.yaml: defaults model: linear -> ridge",
            f"{conf}/model/ridge.yaml: model.alpha 1.0 -> 0.5",
        ],
    )
    assert conf_files(project) == before
    assert cli(project, "check")[0] == 1


def test_sync_with_nothing_to_do_says_so(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    before = conf_files(project)
    assert cli(project, "sync") == (0, f"{params} matches {conf}/; nothing to sync\n", "")
    assert conf_files(project) == before


def test_sync_keeps_comments_and_key_order(project: Path, cli: Cli) -> None:
    def change(params: dict[str, Any]) -> None:
        params["model"] = yaml.safe_load((CONF / "model/lasso.yaml").read_text())
        params["model"]["alpha"] = 0.0005

    edited = edit_params(project, change)
    conf = project / "conf"
    code, out, err = cli(project, "sync")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{conf}/config.yaml: defaults model: linear -> lasso",
        f"{conf}/model/lasso.yaml: model.alpha 0.001 -> 0.0005",
    ]
    lasso = (CONF / "model/lasso.yaml").read_text()
    assert "alpha: 0.001        # validation RMSE" in lasso  # the comment sync must keep
    expected = lasso.replace("alpha: 0.001        #", "alpha: 0.0005       #")
    assert (conf / "model/lasso.yaml").read_text() == expected
    assert_synced(project, edited)


def test_global_package_edit_goes_to_the_option_that_sets_it(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    compose_and_dump(params, str(conf), None, "config", "", ["model=hgb"])
    assert_check_fails_with(
        cli, project, [f"model.name: {params} has hgb, {conf}/config.yaml picks model: linear"]
    )
    edited = edit_params(project, lambda params: params["features"].update(encoding="onehot"))
    assert_check_fails_with(
        cli,
        project,
        [
            f"model.name: {params} has hgb, {conf}/config.yaml picks model: linear",
            f"features.encoding: {params} has onehot, {conf}/model/hgb.yaml has target",
        ],
    )
    code, out, err = cli(project, "sync")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{conf}/config.yaml: defaults model: linear -> hgb",
        f"{conf}/model/hgb.yaml: features.encoding target -> onehot",
    ]
    hgb = (CONF / "model/hgb.yaml").read_text()
    assert (conf / "model/hgb.yaml").read_text() == hgb.replace("encoding: target", "encoding: onehot")
    assert (conf / "features/course.yaml").read_text() == (CONF / "features/course.yaml").read_text()
    assert_synced(project, edited)


def test_unknown_group_option_is_reported_and_not_synced(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    edit_params(project, lambda params: params["model"].update(name="xgboost"))
    before = conf_files(project)
    assert_check_fails_with(
        cli,
        project,
        [
            f"model.name: {params} has xgboost, {conf}/config.yaml picks model: linear;"
            f" there is no {conf}/model/xgboost.yaml",
        ],
    )
    assert cli(project, "sync") == (
        1,
        "",
        f"error: {params}: model.name is xgboost, but there is no {conf}/model/xgboost.yaml\n",
    )
    assert conf_files(project) == before


def test_bad_yaml_and_missing_files_are_one_line_errors(project: Path, cli: Cli) -> None:
    params, conf = project / "params.yaml", project / "conf"
    params.write_text("model: [linear\n")
    code, out, err = cli(project, "check")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {params}: ") and err.count("\n") == 1
    params.unlink()
    assert cli(project, "check") == (1, "", f"error: {params}: file not found\n")
    compose_and_dump(params, str(conf), None, "config", "", [])
    config = conf / "config.yaml"
    config.write_text(config.read_text().replace("- model: linear", "- model: nothere"))
    code, out, err = cli(project, "check")
    assert (code, out) == (1, "")
    assert err == (
        f"error: {conf}: In 'config': Could not find 'model/nothere' Available options in 'model':"
        f" gram_ridge hgb lasso linear ridge Config search path: provider=hydra, path=pkg://hydra.conf"
        f" provider=main, path=file://{conf} provider=schema, path=structured://\n"
    )
    groups = ["data: course", "features: course", "model: linear", "evaluate: default", "report: default"]
    config.write_text(f"defaults: [{', '.join(f'{{{group}}}' for group in groups)}]\n")
    edit_params(project, switch_to_ridge)
    assert cli(project, "sync") == (
        1,
        "",
        f"error: {conf}/config.yaml: no defaults line `- model: linear` to change\n",
    )


def test_conf_location_comes_from_dvc_config(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "conf").rename(project / "hydra")
    (project / "hydra/config.yaml").rename(project / "hydra/experiment.yaml")
    (project / ".dvc").mkdir()
    (project / ".dvc/config").write_text(
        "[hydra]\n    enabled = true\n    config_dir = hydra\n    config_name = experiment\n"
    )
    monkeypatch.chdir(project)  # .dvc/config is read from the working directory, as DVC reads it
    main(["check"])
    assert capsys.readouterr() == ("params.yaml matches hydra/\n", "")
