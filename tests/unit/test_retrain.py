"""The loop's decisions on hand-made monitoring records: policy, window, reasons, the PR's body."""

import json
from pathlib import Path

import pytest

from trip_duration.errors import InputError
from trip_duration_ops.gitops import git, tool
from trip_duration_ops.retrain import decide, month_summary, newest_record, pr_body, reason_text, trigger

RULES = {"name": "default", "when": "alert", "train_window": 1, "auto_merge": True}
MONTHS = ["2022-01", "2022-02", "2022-03", "2022-04", "2022-05"]
RMSE = {"name": "max_rmse_increase_pct", "value": 11.04, "threshold": 10.0}
DRIFT = {"name": "max_drifted_share", "value": 0.6667, "threshold": 0.5}
FEW = {"name": "min_trips", "value": 812, "threshold": 1000}


def record(month: str = "2022-05", *reasons: dict) -> dict:
    return {"month": month, "alert": bool(reasons), "reasons": list(reasons)}


def test_an_alert_on_the_model_retrains_on_the_month_before_and_validates_on_the_month() -> None:
    assert decide(record("2022-05", RMSE, DRIFT), RULES, MONTHS) == {
        "retrain": True,
        "when": "alert",
        "why": "alert: max_rmse_increase_pct 11.04 > 10.0; max_drifted_share 0.6667 >= 0.5",
        "train_months": ["2022-04"],
        "val_months": ["2022-05"],
    }
    wider = decide(record("2022-05", RMSE), {**RULES, "train_window": 3}, MONTHS)
    assert wider["train_months"] == ["2022-02", "2022-03", "2022-04"]


def test_no_alert_no_retrain_unless_always_and_never_means_never() -> None:
    assert decide(record(), RULES, MONTHS)["retrain"] is False
    assert decide(record(), RULES, MONTHS)["why"] == "no alert"
    assert decide(record(), {**RULES, "when": "always"}, MONTHS)["retrain"] is True
    assert decide(record("2022-05", RMSE), {**RULES, "when": "never"}, MONTHS)["why"] == "policy: never"


def test_too_few_trips_is_a_data_problem_and_retrains_nothing_even_always() -> None:
    for when in ("alert", "always"):
        found = decide(record("2022-05", FEW), {**RULES, "when": when}, MONTHS)
        assert found["retrain"] is False
        assert found["why"] == "a data problem, not the model's: min_trips 812 < 1000"


def test_no_month_to_train_on_retrains_nothing_and_says_why() -> None:
    found = decide(record("2022-01", RMSE), RULES, MONTHS)
    assert found["retrain"] is False
    assert found["why"].endswith("but data.dvc holds no month before 2022-01 to train on")


def test_reasons_read_with_their_comparison() -> None:
    assert [reason_text(r) for r in (RMSE, DRIFT, FEW)] == [
        "max_rmse_increase_pct 11.04 > 10.0",
        "max_drifted_share 0.6667 >= 0.5",
        "min_trips 812 < 1000",
    ]


def test_the_pull_request_body_holds_the_trigger_the_plan_and_the_report_without_plots() -> None:
    found = {
        **record("2022-05", RMSE),
        "model": {"name": "trip-duration", "version": "v0.1.0"},
        "reference": {"months": ["2022-02"], "rows": 66097, "rmse": 6.9014},
        "metrics": {"rows": 72868, "rmse": 7.6631, "rmse_increase_pct": 11.04},
        "drift": {"drifted_share": 0.0, "prediction": {"score": 0.0834}},
    }
    found["decision"] = decide(found, RULES, MONTHS)
    report = "✅ **Better**: ...\n\n## Metrics\n\n| a |\n\n## Plots\n\n![x](y.png)\n"
    body = pr_body(found, report, True, True)
    assert body.splitlines()[:6] == [
        "Retrain on 2022-05: alert: max_rmse_increase_pct 11.04 > 10.0.",
        "",
        "- monitored model: trip-duration v0.1.0 (`prod`), validated on 2022-02 (rmse 6.9014)",
        "- 2022-05: 72,868 trips, rmse 7.6631 (+11.04% against validation), drifted share 0.0,"
        " prediction drift 0.0834",
        "- new window: train on 2022-04, validate on 2022-05",
        "- gate: passes; merges itself once the checks pass (retrain.auto_merge: true)",
    ]
    assert "## Metrics" in body and "y.png" not in body
    assert "a person reviews and merges" in pr_body(found, report, False, False)


def decided(month: str, rules: dict, *reasons: dict) -> dict:
    found = record(month, *reasons)
    return {**found, "decision": decide(found, rules, MONTHS)}


def test_the_record_says_whether_a_retrain_came_from_an_alert_or_from_the_policy() -> None:
    always, never = {**RULES, "when": "always"}, {**RULES, "when": "never"}
    assert month_summary(decided("2022-05", RULES, RMSE)) == (
        "2022-05 ALERT (max_rmse_increase_pct 11.04 > 10.0): retrain"
    )
    assert month_summary(decided("2022-05", always)) == "2022-05 ok: retrain (policy: always)"
    assert month_summary(decided("2022-05", always, RMSE)) == (
        "2022-05 ALERT (max_rmse_increase_pct 11.04 > 10.0): retrain (policy: always)"
    )
    assert month_summary(decided("2022-05", never, RMSE)) == (
        "2022-05 ALERT (max_rmse_increase_pct 11.04 > 10.0): no retrain (policy: never)"
    )
    assert month_summary(decided("2022-05", RULES)) == "2022-05 ok"
    assert trigger(decided("2022-05", always)) == "policy: always; no alert"
    assert trigger(decided("2022-05", RULES, RMSE)) == "alert: max_rmse_increase_pct 11.04 > 10.0"


def test_a_policy_retrain_without_an_alert_says_so_in_its_pull_request() -> None:
    found = {
        **decided("2022-05", {**RULES, "when": "always"}),
        "model": {"name": "trip-duration", "version": "v0.1.0"},
        "reference": {"months": ["2022-02"], "rows": 66097, "rmse": 6.9014},
        "metrics": {"rows": 72868, "rmse": 7.0, "rmse_increase_pct": 1.43},
        "drift": {"drifted_share": 0.0, "prediction": {"score": 0.01}},
    }
    body = pr_body(found, "report\n", True, True)
    assert body.splitlines()[0] == "Retrain on 2022-05: policy: always; no alert."
    assert "ALERT" not in body and "alert:" not in body


def test_the_newest_record_is_the_latest_month(tmp_path: Path) -> None:
    assert newest_record(tmp_path) is None
    for month in ("2022-04", "2022-05", "2022-03"):
        (tmp_path / f"{month}.json").write_text(json.dumps({"month": month}))
    (tmp_path / "history.csv").write_text("month\n")
    assert newest_record(tmp_path) == {"month": "2022-05"}


def test_a_failing_tool_is_one_line_naming_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not a git repository
    with pytest.raises(InputError) as caught:
        git("log", "-1")
    assert str(caught.value).startswith("git log: fatal: not a git repository")
    with pytest.raises(InputError) as caught:
        tool("git", "--no-pager", "frobnicate", "now")
    assert str(caught.value).startswith("git frobnicate: git: 'frobnicate' is not a git command")
