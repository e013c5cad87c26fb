"""deploy's housekeeping in the serving folder: a cancelled deploy's temporary files go, nothing else."""

import os
import time
from pathlib import Path

import pytest
from conftest import call_main

from trip_duration.errors import InputError
from trip_duration_ops.deploy import main, read_deployed, remove_stale


def test_stale_temporary_files_of_a_cancelled_deploy_are_removed_and_nothing_else(tmp_path: Path) -> None:
    started = time.time()
    names = [
        ".trip-duration-v0.1.0.joblib.k2j3.tmp",  # a cancelled download
        ".manifest.json.x8a1.tmp",  # a cancelled switch
        ".trip-duration-v0.1.1.joblib.new1.tmp",  # written since this deploy started: not stale
        ".other.tmp",  # not deploy's
        "trip-duration-v0.1.0.joblib",
        "manifest.json",
    ]
    for name in names:
        (tmp_path / name).write_text("x")
    for name in names[:2] + names[3:]:
        os.utime(tmp_path / name, (started - 60, started - 60))
    removed = remove_stale(tmp_path, "trip-duration", started)
    assert sorted(path.name for path in removed) == sorted(names[:2])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(names[2:])


@pytest.mark.parametrize(
    ("text", "problem"), [('{"name": ', "unreadable (Expecting value"), ("[1]", "not a JSON")]
)
def test_a_corrupt_manifest_is_one_line_naming_it(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "manifest.json").write_text(text)
    with pytest.raises(InputError) as caught:
        read_deployed(tmp_path / "manifest.json")
    assert caught.value.path == str(tmp_path / "manifest.json")
    assert caught.value.problem.startswith(problem)
    assert read_deployed(tmp_path / "absent.json") == {}


@pytest.mark.parametrize("lead", ["-1", "nan", "inf", "86400"])
def test_a_lead_time_that_is_no_time_to_come_is_one_line(
    lead: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = call_main(
        main, ["--stage", "prod", "--to", str(tmp_path), "--lead-seconds", lead], capsys
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: --lead-seconds: ") and err.endswith("seconds to come, from 0 to a day\n")
