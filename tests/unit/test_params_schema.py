"""params.yaml's schemas: conf/ passes as composed; each kind of bad key is one line naming file and key."""

import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from trip_duration.errors import InputError
from trip_duration.model import build_model
from trip_duration.params import (
    SCHEMAS,
    cluster_module,
    parse_params,
    read_compute,
    read_params,
    read_section,
)
from trip_duration_ops import registry
from trip_duration_ops.conf_diff import compose

ROOT = Path(__file__).resolve().parents[2]
GOOD = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
# Every option of every group at least once (model=hgb also switches features.encoding).
OVERRIDES = [
    ["data=course", "features=course", "model=linear"],
    ["data=year2022", "features=time", "model=hgb"],
    ["features=zones", "model=gram_ridge"],
    ["model=lasso"],
    ["model=ridge"],
]


def problem(section: str, **changes: Any) -> str:
    """The one line a copy of the good `section` with `changes` (None: key removed) fails with."""
    values = {**GOOD[section], **changes}
    params = parse_params(yaml.safe_dump({section: {k: v for k, v in values.items() if v is not None}}), "p")
    with pytest.raises(InputError) as caught:
        params.section(section)
    return caught.value.problem


@pytest.mark.parametrize("overrides", OVERRIDES, ids=" ".join)
def test_every_section_accepts_conf_as_composed(tmp_path: Path, overrides: list[str]) -> None:
    compose(ROOT / "conf", "config", overrides, tmp_path / "params.yaml")
    composed = yaml.safe_load((tmp_path / "params.yaml").read_text(encoding="utf-8"))
    params = read_params(tmp_path / "params.yaml")
    assert list(composed) == list(SCHEMAS)
    for section in SCHEMAS:  # validated, and handed on as it was written
        assert params.section(section).model_dump() == composed[section]
    # to the byte: the model file pickles the feature names, and dvc.lock holds the file's md5
    validated = build_model(*(params.section(section).model_dump() for section in ("features", "model")))
    assert pickle.dumps(validated) == pickle.dumps(build_model(composed["features"], composed["model"]))


def test_compute_takes_the_keys_of_its_kind() -> None:
    dask = yaml.safe_load((ROOT / "conf" / "compute" / "dask.yaml").read_text(encoding="utf-8"))
    assert parse_params(yaml.safe_dump({"compute": dask}), "p").section("compute").model_dump() == dask
    local = parse_params("compute: {name: local}", "p").section("compute")
    assert local.model_dump() == {"name": "local"} and local.address == ""  # type: ignore[attr-defined]
    wrong = {
        "compute: {name: local, address: tcp://h:8786}": "compute: address is a key of compute=dask,"
        " not of compute=local",
        "compute: {name: dask, address: ''}": "compute: compute=dask needs n_workers, threads_per_worker,"
        " connect_timeout, worker_root (conf/compute/dask.yaml)",
        "compute: {name: spark}": "compute.name: Input should be 'local' or 'dask', not 'spark'",
    }
    for text, expected in wrong.items():
        with pytest.raises(InputError) as caught:
            parse_params(text, "p").section("compute")
        assert caught.value.problem == expected


def test_a_params_file_without_compute_runs_locally(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("data: {}\n")
    assert read_compute(tmp_path / "params.yaml").name == "local"


def test_compute_dask_without_its_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "trip_duration.cluster", raising=False)
    with pytest.raises(InputError) as caught:
        cluster_module("params.yaml")
    assert str(caught.value).startswith(
        "params.yaml: compute=dask needs the dask extra: pip install 'nyc-taxi-duration[dask]'"
    )


def test_a_section_keeps_its_values_and_types() -> None:
    data = read_section(ROOT / "params.yaml", "data")
    assert (data.taxi, data.train_months, data.min_minutes) == ("green", ["2021-01"], 1.0)
    assert type(data.min_minutes) is float  # `1` is a float
    model = read_section(ROOT / "params.yaml", "model").model_dump()
    assert model == {
        "name": "linear",
        "estimator": "sklearn.linear_model.LinearRegression",
        "fit_intercept": True,
    }


@pytest.mark.parametrize(
    ("section", "changes", "expected"),
    [
        ("data", {"max_minutes": None}, "data.max_minutes: missing"),
        ("data", {"min_minutes": "1"}, "data.min_minutes: Input should be a valid number, not '1'"),
        ("data", {"min_minutes": 60}, "data.max_minutes: must be above min_minutes (60), not 60"),
        ("data", {"min_minutes": -1}, "data.min_minutes: Input should be greater than or equal to 0, not -1"),
        ("data", {"taxi": "blue"}, "data.taxi: Input should be 'green' or 'yellow', not 'blue'"),
        (
            "data",
            {"drop_outside_month": "no"},
            "data.drop_outside_month: Input should be a valid boolean, not 'no'",
        ),
        (
            "data",
            {"train_months": ["2021-1"]},
            "data.train_months[0]: expected a month YYYY-MM, like 2021-01, not '2021-1'",
        ),
        (
            "data",
            {"train_months": "2021-01"},
            "data.train_months: Input should be a valid list, not '2021-01'",
        ),
        (
            "data",
            {"val_months": []},
            "data.val_months: List should have at least 1 item after validation, not 0",
        ),
        ("data", {"val_months": ["2021-02", "2021-02"]}, "data.val_months: lists 2021-02 more than once"),
        (
            "data",
            {"colour": "red"},
            "data.colour: unknown key; data takes name,"
            " taxi, train_months, val_months, min_minutes, max_minutes, drop_outside_month",
        ),
        (
            "features",
            {"categorical": ["zone"]},
            "features.categorical[0]: expected one of zone_pair, PULocationID, DOLocationID,"
            " pickup_hour, pickup_weekday, not 'zone'",
        ),
        ("features", {"categorical": [], "numeric": []}, "features: no features selected"),
        (
            "features",
            {"encoding": "ordinal"},
            "features.encoding: Input should be 'onehot' or 'target', not 'ordinal'",
        ),
        ("features", {"seed": True}, "features.seed: Input should be a valid integer, not True"),
        ("features", {"seed": 4.2}, "features.seed: Input should be a valid integer, not 4.2"),
        ("model", {"estimator": None}, "model.estimator: missing"),
        (
            "model",
            {"estimator": "Ridge"},
            "model.estimator: expected a class's dotted path, like sklearn.linear_model.Ridge, not 'Ridge'",
        ),
        ("training", {"max_rows": 0}, "training.max_rows: Input should be greater than or equal to 1, not 0"),
        ("evaluate", {"residual_bin": 0}, "evaluate.residual_bin: Input should be greater than 0, not 0"),
        (
            "report",
            {"max_rmse_increase_pct": "1%"},
            "report.max_rmse_increase_pct: Input should be a valid number, not '1%'",
        ),
        (
            "monitor",
            {"months": "all"},
            "monitor.months: expected 'later' or a list of YYYY-MM months, not 'all'",
        ),
        (
            "monitor",
            {"months": ["2021-13"]},
            "monitor.months[0]: expected a month YYYY-MM, like 2021-01, not '2021-13'",
        ),
        (
            "monitor",
            {"max_drifted_share": 1.5},
            "monitor.max_drifted_share: Input should be less than or equal to 1, not 1.5",
        ),
        (
            "monitor",
            {"max_prediction_drift": float("nan")},
            "monitor.max_prediction_drift: Input should be a finite number, not nan",
        ),
        (
            "monitor",
            {"drift_sample": 0},
            "monitor.drift_sample: Input should be greater than or equal to 1, not 0",
        ),
        (
            "retrain",
            {"when": "sometimes"},
            "retrain.when: Input should be 'alert', 'always' or 'never', not 'sometimes'",
        ),
        (
            "retrain",
            {"train_window": 0},
            "retrain.train_window: Input should be greater than or equal to 1, not 0",
        ),
        (
            "retrain",
            {"train_window": True},
            "retrain.train_window: Input should be a valid integer, not True",
        ),
        ("retrain", {"auto_merge": "yes"}, "retrain.auto_merge: Input should be a valid boolean, not 'yes'"),
    ],
)
def test_a_bad_key_is_one_line_naming_it(section: str, changes: dict[str, Any], expected: str) -> None:
    assert problem(section, **changes) == expected


def test_every_bad_key_of_a_section_is_on_the_one_line() -> None:
    assert problem("retrain", when=None, train_window="1") == (
        "retrain.when: missing; retrain.train_window: Input should be a valid integer, not '1'"
    )


def test_model_takes_any_hyperparameter_and_hands_it_on() -> None:
    model = parse_params("model: {name: r, estimator: sklearn.linear_model.Ridge, alpah: 1}", "p").section(
        "model"
    )
    assert model.model_dump() == {"name": "r", "estimator": "sklearn.linear_model.Ridge", "alpah": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("model: {name: linear}\n", "data: missing"),
        ("data: [2021-01]\n", "data: expected a mapping of keys, not ['2021-01']"),
        ("- data\n", "expected a mapping of sections, not list"),
        ("", "expected a mapping of sections, not NoneType"),
    ],
)
def test_a_file_without_the_section_is_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_section(path, "data")
    assert str(caught.value) == f"{path}: {expected}"


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    with pytest.raises(InputError) as caught:
        read_section(path, "data")
    assert str(caught.value) == f"{path}: cannot read parameters (No such file or directory)"
    path.write_text("data: [unclosed\n")
    with pytest.raises(InputError) as caught:
        read_section(path, "data")
    assert str(caught.value).startswith(f"{path}: cannot read parameters (while parsing a flow sequence")
    assert "\n" not in str(caught.value)


def test_params_at_a_commit_are_named_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    read = {}

    def read_at(repo: str, path: str, rev: str) -> str:
        read.update(repo=repo, path=path, rev=rev)
        return "data: {name: course}\n"

    monkeypatch.setattr(registry, "read_at", read_at)
    sha = "1a2b3c4d5e6f" + "0" * 28
    with pytest.raises(InputError) as caught:
        registry.params_at(".", sha).section("data")
    assert str(caught.value).startswith(
        "params.yaml@1a2b3c4d: data.taxi: missing; data.train_months: missing"
    )
    assert read == {"repo": ".", "path": "params.yaml", "rev": sha}
    assert registry.params_at("/srv/repo/", sha).where == "/srv/repo/params.yaml@1a2b3c4d"
