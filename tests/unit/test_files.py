"""Outputs are written whole or not at all."""

from pathlib import Path

import pytest

from trip_duration.files import atomic_folder


def test_a_folder_is_swapped_in_whole_and_nothing_is_left_beside_it(tmp_path: Path) -> None:
    plots = tmp_path / "reports" / "plots"
    plots.mkdir(parents=True)
    (plots / "old.csv").write_text("old\n")
    with atomic_folder(plots) as tmp:
        assert tmp.parent == plots.parent and tmp != plots
        (tmp / "new.csv").write_text("new\n")
        assert (plots / "old.csv").is_file()  # the old folder serves until the swap
    assert sorted(path.name for path in plots.iterdir()) == ["new.csv"]
    assert sorted(path.name for path in plots.parent.iterdir()) == ["plots"]
    assert plots.stat().st_mode & 0o777 == 0o755


def test_a_failure_leaves_the_old_folder_as_it_was(tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "old.csv").write_text("old\n")
    with pytest.raises(RuntimeError), atomic_folder(plots) as tmp:
        (tmp / "half.csv").write_text("ha")
        raise RuntimeError("cancelled")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plots"]
    assert sorted(path.name for path in plots.iterdir()) == ["old.csv"]
