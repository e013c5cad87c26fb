"""Level 4, offline and end to end: the story of tests/e2e/loop.py, told once per session
(the `story` fixture), and what it must show."""

from conftest import ROOT

from tests.e2e.loop import HALVED, MONTHS, Story, run_steps, tags


def test_every_month_has_its_monitoring_record_on_main(story: Story) -> None:
    assert all(story.records[month]["month"] == month for month in MONTHS)
    assert {record["model"]["version"] for record in story.records.values()} == {"v0.1.0", "v0.2.0"}


def test_a_retrain_pull_request_exists_exactly_for_the_alerting_months(story: Story) -> None:
    alerting = [month for month, record in story.records.items() if record["alert"]]
    assert alerting == ["2022-05", HALVED]
    assert [pull["head"] for pull in story.world.pulls()] == [f"retrain/{month}" for month in alerting]
    assert all(record["decision"]["retrain"] is record["alert"] for record in story.records.values())
    assert story.records["2022-05"]["decision"]["why"].startswith("alert: max_rmse_increase_pct 11.07 > 10.0")


def test_only_a_challenger_that_passes_the_gate_is_merged_and_promoted(story: Story) -> None:
    assert story.world.gates == {"retrain/2022-05": True, f"retrain/{HALVED}": False}
    pulls = {pull["head"]: pull for pull in story.world.pulls()}
    assert pulls["retrain/2022-05"]["state"] == "merged"
    assert pulls[f"retrain/{HALVED}"]["state"] == "open"
    assert "gate: fails" in pulls[f"retrain/{HALVED}"]["body"]
    prods = [story.world.served_after[month][0] for month in MONTHS]
    assert prods == ["v0.1.0", "v0.1.0", "v0.2.0", "v0.2.0", "v0.2.0", "v0.2.0"]
    assert tags(story.world.origin) >= {"trip-duration@v0.1.0", "trip-duration@v0.2.0"}
    assert not [tag for tag in tags(story.world.origin) if tag.startswith("trip-duration@v0.3")]


def test_the_service_follows_prod_with_no_failed_request(story: Story) -> None:
    assert all(prod == served for prod, served in story.world.served_after.values())
    assert story.client.failed == []
    assert set(story.client.versions) == {"v0.1.0", "v0.2.0"}


def test_a_second_run_of_the_same_month_changes_nothing(story: Story) -> None:
    assert story.after_again == story.before_again


def test_a_failing_run_leaves_main_the_registry_and_the_service_as_they_were(story: Story) -> None:
    error, left = story.broken
    assert "trip-duration retrain check failed" in error
    assert "error: data/green_tripdata_2022-09.parquet: " in error
    assert left == story.after_again


def test_mains_log_reads_as_the_story_of_the_loop(story: Story) -> None:
    assert story.log[:2] == ["project", "baseline: train on 2022-01, validate on 2022-02"]
    story_lines = [line.split(" monitored on ")[0] + " ALERT" * ("ALERT" in line) for line in story.log[2:]]
    assert story_lines == [
        "data: 2022-03",
        "data: 2022-04",
        "data: 2022-05 ALERT",
        "Retrain: train on 2022-04, validate on 2022-05 (#1)",
        "data: 2022-06",
        f"data: {HALVED} ALERT",
        "data: 2022-08",
    ]


def test_the_loop_page_prints_the_loops_commands_as_the_workflow_runs_them() -> None:
    """docs/loop.md's commands of the loop are retrain.yml's, which the story above runs."""
    page = (ROOT / "docs" / "loop.md").read_text()
    block = page.split("```bash\n")[1].split("```")[0]
    printed = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    assert printed == [
        script for script in run_steps("retrain.yml", "retrain") if script.startswith("trip-duration")
    ]
