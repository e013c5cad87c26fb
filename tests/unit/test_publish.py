"""Publishing rules: the model's lineage, the version bump, promotion and the model card."""

import subprocess
from pathlib import Path

import pytest
import yaml

from trip_duration_ops import release
from trip_duration_ops.card import Decision, model_card
from trip_duration_ops.catalog import data_months
from trip_duration_ops.publish import should_promote
from trip_duration_ops.versioning import bump_kind, changed_stages, model_lineage

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = "trip-duration"
MODEL = "models/trip-duration.joblib"


def stage(deps: list[str], outs: list[str], params: dict | None = None, md5: str = "a") -> dict:
    """A dvc.lock stage entry with one md5 for every dependency."""
    entry = {"cmd": "python -m x", "deps": [{"path": dep, "md5": md5} for dep in deps]}
    return {**entry, "params": {"params.yaml": params or {}}, "outs": [{"path": out} for out in outs]}


LOCK = {
    "prepare": stage(["data", "stages/prepare.py"], ["prepared/train.parquet", "prepared/val.parquet"]),
    "train": stage(
        ["prepared/train.parquet", "prepared/val.parquet", "stages/train.py"],
        [MODEL, "predictions/val.parquet", "predictions/train.json"],
    ),
    "evaluate": stage(["predictions/val.parquet", "predictions/train.json"], ["reports/plots"]),
}


def test_model_lineage_follows_dependencies_up_from_the_model() -> None:
    assert model_lineage(LOCK, MODEL) == ("train", {"prepare"})
    assert model_lineage(LOCK, "prepared/val.parquet") == ("prepare", set())
    assert model_lineage(LOCK, "reports/plots") == ("evaluate", {"train", "prepare"})
    with pytest.raises(ValueError, match=r"^no stage writes models/other\.joblib$"):
        model_lineage(LOCK, "models/other.joblib")


def test_the_projects_own_lock_gives_train_and_its_upstream_stages() -> None:
    stages = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    pipeline = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    paths = next(entry["paths"] for entry in pipeline["vars"] if "paths" in entry)
    assert pipeline["artifacts"][ARTIFACT]["path"] == "${paths.model}" and paths["model"] == MODEL
    assert model_lineage(stages, MODEL) == ("train", {"prepare"})


def _changed(stage_name: str, **change: object) -> set[str]:
    head = {**LOCK, stage_name: {**LOCK[stage_name], **change}}
    return changed_stages(LOCK, head)


def test_changed_stages_compares_command_dependencies_and_params_not_outputs() -> None:
    assert changed_stages(LOCK, LOCK) == set()
    assert _changed("prepare", deps=[{"path": "data", "md5": "b"}]) == {"prepare"}
    assert _changed("train", params={"params.yaml": {"model": {"alpha": 2.0}}}) == {"train"}
    assert _changed("evaluate", cmd="python -m y") == {"evaluate"}
    assert _changed("train", outs=[{"path": MODEL, "md5": "c"}]) == set()
    assert changed_stages(LOCK, {**LOCK, "report": stage([], ["x"])}) == {"report"}
    assert changed_stages({}, LOCK) == {"prepare", "train", "evaluate"}


@pytest.mark.parametrize(
    ("changed", "expected"),
    [({"prepare"}, "minor"), ({"prepare", "train", "evaluate"}, "minor"), ({"train"}, "patch"),
     ({"train", "evaluate"}, "patch"), ({"evaluate"}, None), (set(), None)],
)  # fmt: skip
def test_bump_kind(changed: set[str], expected: str | None) -> None:
    assert bump_kind(changed, "train", {"prepare"}) == expected


@pytest.mark.parametrize(
    ("challenger", "champion", "tolerance", "expected"),
    [(7.0, None, 0.0, True), (7.5, 7.5, 0.0, True), (7.5001, 7.5, 0.0, False),
     (7.5001, 7.5, 0.001, True), (7.6, 7.5, 0.05, False), (6.0, 7.5, 0.0, True)],
)  # fmt: skip
def test_should_promote(challenger: float, champion: float | None, tolerance: float, expected: bool) -> None:
    assert should_promote(challenger, champion, tolerance) is expected


def test_data_months_come_from_meta_files() -> None:
    files = {"green_tripdata_2021-02.parquet": "x", "green_tripdata_2021-01.parquet": "y"}
    assert data_months({"outs": [], "meta": {"files": files}}) == ["2021-01", "2021-02"]
    assert data_months({"outs": []}) == []
    assert data_months(None) == []


def test_data_months_of_one_taxi_leave_the_other_taxis_out() -> None:
    files = {"yellow_tripdata_2021-03.parquet": "x", "green_tripdata_2021-01.parquet": "y"}
    assert data_months({"meta": {"files": files}}, "green") == ["2021-01"]
    assert data_months({"meta": {"files": files}}, "yellow") == ["2021-03"]
    assert data_months(None, "green") == []


PARAMS = {
    "data": {"train_months": ["2021-01"], "val_months": ["2021-02"]},
    "model": {"alpha": 1.0},
    "report": {"max_rmse_increase_pct": 1.0},
}


def test_model_card_of_a_challenger_that_is_not_promoted() -> None:
    kept = Decision("prod", 7.91234, "v0.1.1", 7.6, 0.0, promoted=False)
    card = model_card(
        ARTIFACT, "v0.1.2", "abc123", "ORIGIN", "patch", {"rmse": 7.9123}, PARAMS, ["2021-01"], kept
    )
    assert (
        card
        == """# trip-duration v0.1.2

- tag: `trip-duration@v0.1.2` (patch)
- commit: `abc123`
- stage: not promoted: `prod` stays on v0.1.1

## Champion and challenger (validation RMSE, minutes; tolerance 0)

| role | version | rmse |
|---|---|---|
| challenger | v0.1.2 | 7.9123 |
| champion (`prod`) | v0.1.1 | 7.6000 |

## Metrics

| metric | value |
|---|---|
| rmse | 7.9123 |

## Data

- training months: 2021-01
- validation months: 2021-02
- months in data.dvc: 2021-01

## Params

```yaml
data:
  train_months:
  - 2021-01
  val_months:
  - 2021-02
model:
  alpha: 1.0
```

## Use

```
trip-duration get --repo ORIGIN --version v0.1.2 -o trip-duration.joblib
```
"""
    )


def test_model_card_of_a_first_version_and_of_a_replacement() -> None:
    first = Decision("prod", 7.7587, None, None, 0.0, promoted=True)
    card = model_card(ARTIFACT, "v0.1.0", "abc", ".", "first version", {}, {}, [], first)
    lines = card.splitlines()
    assert "- stage: promoted to `prod` (first in it)" in lines and "champion (" not in card
    assert "- training months: ?" in lines and "- months in data.dvc: not recorded" in lines
    assert "trip-duration get --repo . --version v0.1.0 -o trip-duration.joblib" in lines
    better = Decision("prod", 7.5, "v0.1.0", 7.7587, 0.05, promoted=True)
    lines = model_card(ARTIFACT, "v0.1.1", "def", ".", "patch", {}, PARAMS, [], better).splitlines()
    assert "- stage: promoted to `prod` (replaces v0.1.0)" in lines
    assert "## Champion and challenger (validation RMSE, minutes; tolerance 0.05)" in lines
    assert "| champion (`prod`) | v0.1.0 | 7.7587 |" in lines


def test_model_card_of_a_version_already_in_the_stage() -> None:
    already = Decision("prod", 7.5, "v0.1.1", None, 0.0, promoted=True)
    card = model_card(ARTIFACT, "v0.1.1", "def", ".", "registered earlier", {}, PARAMS, [], already)
    assert "- stage: already in `prod`" in card.splitlines()
    assert "champion (" not in card


SITE = "https://someone.github.io/nyc-taxi-duration"
PAGE = f"{SITE}/versions/v0.1.0.html"


@pytest.mark.parametrize("site_url", [SITE, SITE + "/"])
def test_the_card_links_the_versions_page_on_the_site_when_its_address_is_known(site_url: str) -> None:
    first = Decision("prod", 7.7587, None, None, 0.0, promoted=True)
    card = model_card(ARTIFACT, "v0.1.0", "abc", ".", "first version", {}, {}, [], first, site_url)
    lines = card.splitlines()
    assert lines[2:6] == [
        "- tag: `trip-duration@v0.1.0` (first version)",
        "- commit: `abc`",
        "- stage: promoted to `prod` (first in it)",
        f"- page: {PAGE}",
    ]
    without = model_card(ARTIFACT, "v0.1.0", "abc", ".", "first version", {}, {}, [], first)
    assert "page" not in without and "https://" not in without
    assert [line for line in lines if "page" not in line] == without.splitlines()


def test_the_release_notes_link_the_versions_page_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    card = tmp_path / "model-card.md"
    card.write_text("# trip-duration v0.1.0\n\n- tag: `trip-duration@v0.1.0` (first version)\n")
    notes: list[str] = []

    def gh(*args: str) -> subprocess.CompletedProcess:
        if args[1] == "create":
            notes.append(Path(args[args.index("--notes-file") + 1]).read_text())
        return subprocess.CompletedProcess(args, 1 if args[1] == "view" else 0)

    monkeypatch.setattr(release, "tags_at_head", lambda artifact: [f"{artifact}@v0.1.0"])
    monkeypatch.setattr(release, "gh", gh)
    monkeypatch.delenv("SITE_URL", raising=False)
    release.main(["--card", str(card)])  # no site: the card as it is
    monkeypatch.setenv("SITE_URL", SITE)
    release.main(["--card", str(card)])  # a card written without the address: the link added
    card.write_text(card.read_text() + f"- page: {PAGE}\n")
    release.main(["--card", str(card), "--site-url", SITE + "/"])  # the card links it already
    first = "# trip-duration v0.1.0\n\n- tag: `trip-duration@v0.1.0` (first version)\n"
    assert notes == [first, f"{first}\nPage on the project site: {PAGE}\n", f"{first}- page: {PAGE}\n"]
    assert capsys.readouterr().out == "release: trip-duration@v0.1.0 created\n" * 3
