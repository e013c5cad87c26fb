"""stages.fetch on real TLC months with real git and dvc: `dvc add` agrees with what fetch records.

The rest (catalogue, sources, HTTP downloads, errors) are unit tests now: tests/unit/test_fetch.py.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stages.fetch import (
    TLC_URL,
    dir_md5,
    folder_md5s,
    recorded_files,
)

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("TLC_MIRROR") or REPO.parent / "shared" / "data" / "nyc-tlc").resolve()
ENV = {**os.environ, "PYTHONPATH": str(REPO), "DVC_NO_ANALYTICS": "1"}
JAN, FEB, MAR = (f"green_tripdata_2021-0{month}.parquet" for month in (1, 2, 3))
MD5 = {
    JAN: "58f7622b863151fc9f4d51eff826db50",
    FEB: "37305f2db8bd9ae2553212bba9e2b0b5",
    MAR: "882ec5dad33a9adbc261f86e3d71040e",
}
JAN_FEB_DIR_MD5 = "56975b37c08e8ab663f0d806c09d1c24.dir"  # `dvc add` of a folder holding JAN and FEB
HINT = (
    "set TLC_MIRROR to a folder or base URL that holds the TLC files"
    " (offline: TLC_MIRROR=../shared/data/nyc-tlc)"
)
UP_TO_DATE = "Data and pipelines are up to date.\n"


def sh(cwd: Path, *command: str) -> str:
    return subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


def dvc(cwd: Path, *args: str) -> str:
    return sh(cwd, sys.executable, "-m", "dvc", *args)


def fetch(cwd: Path, *args: str, mirror: str | Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "stages.fetch", *args]
    env = {**ENV, "TLC_MIRROR": str(mirror)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def copy_months(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(MIRROR / name, folder / name)
    return folder


def outs_md5(dvc_text: str) -> str:
    return dvc_text.split("- md5: ")[1].split("\n")[0]


@pytest.fixture(scope="module")
def reference_dvc(tmp_path_factory: pytest.TempPathFactory) -> str:
    """data.dvc as `dvc add` writes it for JAN and FEB, plus the meta section a user adds."""
    assert (MIRROR / JAN).is_file(), f"offline TLC mirror not found at {MIRROR}"
    root = tmp_path_factory.mktemp("reference")
    sh(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    copy_months(root / "data", JAN, FEB)
    dvc(root, "add", "-q", "data")
    return (root / "data.dvc").read_text() + (
        f"meta:\n  source: {TLC_URL}\n  files:\n    {JAN}: {MD5[JAN]}\n    {FEB}: {MD5[FEB]}\n"
    )


@pytest.fixture
def repo(tmp_path: Path, reference_dvc: str) -> Path:
    """An empty project checkout: git, dvc, data.dvc and its .gitignore, no data/ yet."""
    root = tmp_path / "repo"
    root.mkdir()
    sh(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    (root / "data.dvc").write_text(reference_dvc)
    (root / ".gitignore").write_text("/data\n")
    return root


def test_dir_md5_is_what_dvc_add_writes(reference_dvc: str) -> None:
    assert outs_md5(reference_dvc) == JAN_FEB_DIR_MD5


def test_fetch_into_empty_repo_verifies_and_caches(repo: Path, reference_dvc: str) -> None:
    result = fetch(repo, mirror=os.path.relpath(MIRROR, repo))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"[1/2] {JAN}  1.3 MB  fetched, md5 ok",
        f"[2/2] {FEB}  1.1 MB  fetched, md5 ok",
        f"data matches data.dvc ({JAN_FEB_DIR_MD5}); in the DVC cache",
    ]
    assert folder_md5s(repo / "data") == {JAN: MD5[JAN], FEB: MD5[FEB]}
    assert (repo / "data.dvc").read_text() == reference_dvc
    assert dvc(repo, "status", "data.dvc") == UP_TO_DATE
    cache = repo / ".dvc" / "cache" / "files" / "md5"
    for md5 in (MD5[JAN], MD5[FEB], JAN_FEB_DIR_MD5):
        assert (cache / md5[:2] / md5[2:]).is_file(), md5


def test_new_month_is_recorded_and_survives_dvc_add(repo: Path, reference_dvc: str) -> None:
    copy_months(repo / "data", JAN, FEB)
    result = fetch(repo, "2021-03", mirror=MIRROR)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'next: dvc add data && git add data.dvc && git commit -m "data: add 2021-03"\n'
    assert result.stderr.splitlines()[0] == f"[1/1] {MAR}  1.5 MB  fetched, new"
    assert (repo / "data.dvc").read_text() == f"{reference_dvc}    {MAR}: {MD5[MAR]}\n"

    dvc(repo, "add", "-q", "data")
    dvc_text = (repo / "data.dvc").read_text()
    assert recorded_files(repo / "data.dvc") == MD5
    assert outs_md5(dvc_text) == dir_md5(MD5)

    again = fetch(repo, mirror=MIRROR)
    assert again.returncode == 0, again.stderr
    assert [line.split("  ")[-1] for line in again.stderr.splitlines()] == [
        "already present",
        "already present",
        "already present",
        f"data matches data.dvc ({dir_md5(MD5)}); in the DVC cache",
    ]
    assert (repo / "data.dvc").read_text() == dvc_text
    assert dvc(repo, "status", "data.dvc") == UP_TO_DATE
