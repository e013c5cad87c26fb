"""params.yaml against conf/: check, sync and compose on a copy of the real conf/, and real DVC."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from dvc.utils.hydra import compose_and_dump

from stages.conf_sync import Edit, plan, rewrite, switch
from stages.params import ABSENT, Layer, compare, compose, flatten, layers, merge, same, sources, survey

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
OPTIONS = [
    sorted(path.stem for path in (CONF / group).glob("*.yaml")) for group in ("data", "features", "model")
]
# Every option of every group at least once, without composing all 24 combinations.
COMBINATIONS = [
    tuple(options[i % len(options)] for options in OPTIONS) for i in range(max(map(len, OPTIONS)))
]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m stages.params ARGS` in `cwd`, output captured."""
    command = [sys.executable, "-m", "stages.params", *args]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)


def sh(*args: str, cwd: Path) -> str:
    """A command that must succeed (git, dvc); its stdout."""
    done = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of conf/ and the params.yaml that `compose` writes from it."""
    shutil.copytree(CONF, tmp_path / "conf")
    compose_and_dump(tmp_path / "params.yaml", str(tmp_path / "conf"), None, "config", "", [])
    return tmp_path


def edit_params(root: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Edit params.yaml by hand, as a user would; returns the new contents."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def conf_files(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): path.read_text() for path in sorted(root.glob("conf/**/*.yaml"))}


def assert_check_fails_with(root: Path, lines: list[str]) -> subprocess.CompletedProcess:
    done = cli("check", cwd=root)
    assert (done.returncode, done.stdout.splitlines()) == (1, lines)
    return done


def assert_synced(root: Path, edited: dict[str, Any]) -> None:
    """Nothing differs any more, and Hydra composes the synced conf/ into the edited params.yaml."""
    assert survey(root / "conf", root / "params.yaml", "config") == ([], layers(root / "conf", "config", {}))
    assert same(compose(root / "conf", "config", []), flatten(edited))


def test_flatten_keeps_lists_and_empty_mappings_as_values() -> None:
    tree = {"a": {"b": 1, "c": [1, {"d": 2}], "e": {}}, "f": None}
    assert flatten(tree) == {"a.b": 1, "a.c": [1, {"d": 2}], "a.e": {}, "f": None}
    assert flatten({"b": 1}, "model") == {"model.b": 1}


def test_same_tells_apart_what_a_stage_would_see_differently() -> None:
    assert same({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not same(1, 1.0) and not same(True, 1) and not same("1.0", 1.0)
    assert not same([1, 2], [1]) and not same({"a": 1}, {"a": 1, "b": 2})


@pytest.mark.parametrize("data, features, model", COMBINATIONS)
def test_provenance_composition_equals_hydra(data: str, features: str, model: str) -> None:
    picks = {"data": data, "features": features, "model": model}
    hydra = compose(CONF, "config", [f"{group}={option}" for group, option in picks.items()])
    assert merge(layers(CONF, "config", picks)) == hydra


def test_global_package_option_defines_keys_of_other_groups() -> None:
    hgb = sources(layers(CONF, "config", {"model": "hgb"}))
    assert hgb["features.encoding"].path == CONF / "model" / "hgb.yaml"
    assert hgb["features.encoding"].package == ""
    assert hgb["model.max_iter"].path == CONF / "model" / "hgb.yaml"
    assert hgb["features.seed"].path == CONF / "features" / "course.yaml"
    linear = sources(layers(CONF, "config", {}))
    assert linear["features.encoding"].path == CONF / "features" / "course.yaml"
    assert linear["model.fit_intercept"].path == CONF / "model" / "linear.yaml"


@pytest.mark.filterwarnings("ignore:In 'config'")
def test_primary_keys_win_when_the_defaults_list_lacks_self(tmp_path: Path) -> None:
    (tmp_path / "g").mkdir()
    (tmp_path / "config.yaml").write_text("defaults:\n  - g: a\ng:\n  v: 9\n")
    (tmp_path / "g/a.yaml").write_text("v: 2\nw: 3\n")
    stack = layers(tmp_path, "config", {})
    assert merge(stack) == compose(tmp_path, "config", []) == {"g.v": 9, "g.w": 3}
    assert sources(stack)["g.v"].path == tmp_path / "config.yaml"


def test_a_key_missing_from_params_is_removed_from_every_file_that_sets_it() -> None:
    stack = layers(CONF, "config", {"model": "hgb"})
    composed = merge(stack)
    params = {key: value for key, value in composed.items() if key != "features.encoding"}
    edits = plan(compare(params, composed, stack), stack)
    assert [(edit.layer.path, edit.key, edit.old, edit.new) for edit in edits] == [
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
    layer = Layer(path, "model", "", {})  # a `# @package _global_` file
    rewrite(
        path,
        [
            Edit(layer, "model.gone", 1, ABSENT),
            Edit(layer, "other.only", 1, ABSENT),
            Edit(layer, "model.months", ["2021-01"], ["2021-01", "2021-02"]),
            Edit(layer, "model.flags", ["a"], ["a", "b"]),
            Edit(layer, "model.word", "x", "yes"),
            Edit(layer, "model.new.deep", ABSENT, ["off", 1.5]),
        ],
    )
    assert path.read_text() == (
        '# keep me\nmodel:\n  months:\n  - "2021-01"\n  - "2021-02"\n  flags: [a, b] # flow\n'
        '  word: "yes" # a word\n  new:\n    deep: ["off", 1.5]\n'
    )
    assert compose(tmp_path, "hgb", [])["model.word"] == "yes"


def test_compose_writes_what_dvc_writes_and_check_accepts_it(project: Path) -> None:
    dvc_wrote = (project / "params.yaml").read_bytes()
    (project / "params.yaml").unlink()
    assert cli("compose", cwd=project).stdout == "wrote params.yaml from conf/\n"
    assert (project / "params.yaml").read_bytes() == dvc_wrote
    done = cli("check", cwd=project)
    assert (done.returncode, done.stdout) == (0, "params.yaml matches conf/\n")


def test_repository_params_match_its_conf() -> None:
    done = cli("check", cwd=ROOT)
    assert (done.returncode, done.stdout, done.stderr) == (0, "params.yaml matches conf/\n", "")


def test_check_lists_every_changed_scalar_with_both_values_and_its_file(project: Path) -> None:
    def change(params: dict[str, Any]) -> None:
        params["data"]["max_minutes"] = 90
        params["model"]["fit_intercept"] = False
        params["evaluate"]["residual_bin"] = "1.0"

    edit_params(project, change)
    done = assert_check_fails_with(
        project,
        [
            "data.max_minutes: params.yaml has 90, conf/data/course.yaml has 60",
            "model.fit_intercept: params.yaml has false, conf/model/linear.yaml has true",
            "evaluate.residual_bin: params.yaml has '1.0', conf/evaluate/default.yaml has 1.0",
        ],
    )
    assert "stages.params sync" in done.stderr


def test_list_edit_is_one_value_and_syncs_in_flow_style(project: Path) -> None:
    before = (project / "conf/data/course.yaml").read_text()
    edited = edit_params(project, lambda params: params["data"]["train_months"].append("2021-03"))
    assert_check_fails_with(
        project,
        ["data.train_months: params.yaml has [2021-01, 2021-03], conf/data/course.yaml has [2021-01]"],
    )
    done = cli("sync", cwd=project)
    assert (done.returncode, done.stdout) == (
        0,
        "conf/data/course.yaml: data.train_months [2021-01] -> [2021-01, 2021-03]\n",
    )
    after = before.replace('train_months: ["2021-01"]', 'train_months: ["2021-01", "2021-03"]')
    assert (project / "conf/data/course.yaml").read_text() == after != before
    assert_synced(project, edited)


def test_added_and_removed_keys_sync_into_the_defining_files(project: Path) -> None:
    def change(params: dict[str, Any]) -> None:
        params["model"]["positive"] = True
        del params["evaluate"]["residual_bin"]

    edited = edit_params(project, change)
    assert_check_fails_with(
        project,
        [
            "model.positive: params.yaml has true, not in conf/; add it to conf/model/linear.yaml",
            "evaluate.residual_bin: missing from params.yaml, conf/evaluate/default.yaml has 1.0",
        ],
    )
    done = cli("sync", cwd=project)
    assert done.stdout.splitlines() == [
        "conf/evaluate/default.yaml: evaluate.residual_bin removed (was 1.0)",
        "conf/model/linear.yaml: model.positive added: true",
    ]
    evaluate = (project / "conf/evaluate/default.yaml").read_text()
    assert evaluate == (CONF / "evaluate/default.yaml").read_text().replace(
        "residual_bin: 1.0    # minutes per residual histogram bar\n", ""
    )
    assert (project / "conf/model/linear.yaml").read_text() == (CONF / "model/linear.yaml").read_text() + (
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


def test_switched_group_changes_the_defaults_list(project: Path) -> None:
    config = (project / "conf/config.yaml").read_text()
    edited = edit_params(project, switch_to_ridge)
    assert_check_fails_with(
        project,
        [
            "model.name: params.yaml has ridge, conf/config.yaml picks model: linear",
            "model.alpha: params.yaml has 0.5, conf/model/ridge.yaml has 1.0",
        ],
    )
    done = cli("sync", cwd=project)
    assert done.stdout.splitlines() == [
        "conf/config.yaml: defaults model: linear -> ridge",
        "conf/model/ridge.yaml: model.alpha 1.0 -> 0.5",
    ]
    assert (project / "conf/config.yaml").read_text() == config.replace("- model: linear", "- model: ridge")
    ridge = (CONF / "model/ridge.yaml").read_text()
    assert (project / "conf/model/ridge.yaml").read_text() == ridge.replace("alpha: 1.0", "alpha: 0.5")
    assert_synced(project, edited)


def test_dry_run_prints_the_changes_and_writes_nothing(project: Path) -> None:
    edit_params(project, switch_to_ridge)
    before = conf_files(project)
    done = cli("sync", "--dry-run", cwd=project)
    assert done.stdout.splitlines() == [
        "conf/config.yaml: defaults model: linear -> ridge",
        "conf/model/ridge.yaml: model.alpha 1.0 -> 0.5",
    ]
    assert conf_files(project) == before
    assert cli("check", cwd=project).returncode == 1


def test_sync_keeps_comments_and_key_order(project: Path) -> None:
    def change(params: dict[str, Any]) -> None:
        params["model"] = yaml.safe_load((CONF / "model/lasso.yaml").read_text())
        params["model"]["alpha"] = 0.0005

    edited = edit_params(project, change)
    assert cli("sync", cwd=project).stdout.splitlines() == [
        "conf/config.yaml: defaults model: linear -> lasso",
        "conf/model/lasso.yaml: model.alpha 0.001 -> 0.0005",
    ]
    lasso = (CONF / "model/lasso.yaml").read_text()
    assert "alpha: 0.001        # validation RMSE" in lasso  # the comment sync must keep
    expected = lasso.replace("alpha: 0.001        #", "alpha: 0.0005       #")
    assert (project / "conf/model/lasso.yaml").read_text() == expected
    assert_synced(project, edited)


def test_global_package_edit_goes_to_the_option_that_sets_it(project: Path) -> None:
    compose_and_dump(project / "params.yaml", str(project / "conf"), None, "config", "", ["model=hgb"])
    assert_check_fails_with(
        project, ["model.name: params.yaml has hgb, conf/config.yaml picks model: linear"]
    )
    edited = edit_params(project, lambda params: params["features"].update(encoding="onehot"))
    assert_check_fails_with(
        project,
        [
            "model.name: params.yaml has hgb, conf/config.yaml picks model: linear",
            "features.encoding: params.yaml has onehot, conf/model/hgb.yaml has target",
        ],
    )
    assert cli("sync", cwd=project).stdout.splitlines() == [
        "conf/config.yaml: defaults model: linear -> hgb",
        "conf/model/hgb.yaml: features.encoding target -> onehot",
    ]
    hgb = (CONF / "model/hgb.yaml").read_text()
    assert (project / "conf/model/hgb.yaml").read_text() == hgb.replace(
        "encoding: target", "encoding: onehot"
    )
    assert (project / "conf/features/course.yaml").read_text() == (CONF / "features/course.yaml").read_text()
    assert_synced(project, edited)


def test_unknown_group_option_is_reported_and_not_synced(project: Path) -> None:
    edit_params(project, lambda params: params["model"].update(name="xgboost"))
    before = conf_files(project)
    assert_check_fails_with(
        project,
        [
            "model.name: params.yaml has xgboost, conf/config.yaml picks model: linear;"
            " there is no conf/model/xgboost.yaml",
        ],
    )
    done = cli("sync", cwd=project)
    assert (done.returncode, done.stdout) == (1, "")
    assert (
        done.stderr == "error: params.yaml: model.name is xgboost, but there is no conf/model/xgboost.yaml\n"
    )
    assert conf_files(project) == before


def test_bad_yaml_and_missing_files_are_one_line_errors(project: Path) -> None:
    (project / "params.yaml").write_text("model: [linear\n")
    done = cli("check", cwd=project)
    assert done.returncode == 1 and done.stderr.startswith("error: params.yaml: ")
    assert done.stderr.count("\n") == 1
    (project / "params.yaml").unlink()
    assert cli("check", cwd=project).stderr == "error: params.yaml: file not found\n"
    compose_and_dump(project / "params.yaml", str(project / "conf"), None, "config", "", [])
    config = project / "conf/config.yaml"
    config.write_text(config.read_text().replace("- model: linear", "- model: nothere"))
    assert cli("check", cwd=project).stderr == "error: conf/model/nothere.yaml: file not found\n"
    config.write_text(
        "defaults: [{data: course}, {features: course}, {model: linear}, {evaluate: default}]\n"
    )
    edit_params(project, switch_to_ridge)
    done = cli("sync", cwd=project)
    assert (done.returncode, done.stderr) == (
        1,
        "error: conf/config.yaml: no defaults line `- model: linear` to change\n",
    )


def test_conf_location_comes_from_dvc_config(project: Path) -> None:
    (project / "conf").rename(project / "hydra")
    (project / "hydra/config.yaml").rename(project / "hydra/experiment.yaml")
    (project / ".dvc").mkdir()
    (project / ".dvc/config").write_text(
        "[hydra]\n    enabled = true\n    config_dir = hydra\n    config_name = experiment\n"
    )
    assert cli("check", cwd=project).stdout == "params.yaml matches hydra/\n"


def test_dvc_exp_run_keeps_synced_edits_and_drops_others(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CONF, repo / "conf")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh(sys.executable, "-m", "dvc", "init", "-q", cwd=repo)
    (repo / ".dvc/config").write_text("[core]\n    autostage = true\n[hydra]\n    enabled = true\n")
    show = (
        "import yaml; m = yaml.safe_load(open('params.yaml'))['model']; open('model.txt', 'w').write(repr(m))"
    )
    stage = {"cmd": f'python -c "{show}"', "params": ["model"], "outs": ["model.txt"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"show": stage}}))
    assert cli("compose", cwd=repo).returncode == 0
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "pipeline", cwd=repo)

    def fit_intercept() -> tuple[bool, str]:
        params = yaml.safe_load((repo / "params.yaml").read_text())
        return params["model"]["fit_intercept"], (repo / "model.txt").read_text()

    def no_intercept(params: dict[str, Any]) -> None:
        params["model"]["fit_intercept"] = False

    edit_params(repo, no_intercept)
    sh(sys.executable, "-m", "dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert kept is True and "'fit_intercept': True" in seen  # the edit was silently lost

    edit_params(repo, no_intercept)
    assert cli("sync", cwd=repo).stdout == "conf/model/linear.yaml: model.fit_intercept true -> false\n"
    assert cli("compose", "--params", "composed.yaml", cwd=repo).returncode == 0
    sh(sys.executable, "-m", "dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert kept is False and "'fit_intercept': False" in seen
    assert (repo / "params.yaml").read_bytes() == (repo / "composed.yaml").read_bytes()
