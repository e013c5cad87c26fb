"""`trip-duration fetch` on the real TLC months with real git and DVC: what it records, `dvc add` agrees with.

Fetching every month a data.dvc records ends with a folder check (the md5 DVC computes for data/)
and a `dvc commit` into the cache. The catalogue, sources, HTTP downloads and one-line errors are
unit tests: tests/unit/test_fetch.py.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, ROOT, env, mirror_dir

from trip_duration.tlc import TLC_URL
from trip_duration_ops.catalog import dir_md5, file_md5, folder_md5s, read_dvc_file, recorded_files

JAN, FEB, MAR = (f"green_tripdata_2021-0{month}.parquet" for month in (1, 2, 3))
MD5 = {
    JAN: "58f7622b863151fc9f4d51eff826db50",
    FEB: "37305f2db8bd9ae2553212bba9e2b0b5",
    MAR: "882ec5dad33a9adbc261f86e3d71040e",
}
JAN_FEB_DIR_MD5 = "56975b37c08e8ab663f0d806c09d1c24.dir"  # `dvc add` of a folder holding JAN and FEB
UP_TO_DATE = "Data and pipelines are up to date.\n"


def run(cwd: Path, *command: str, mirror: str | Path | None = None) -> subprocess.CompletedProcess:
    """`trip-duration ...`, `dvc ...` or `git ...` in `cwd` (TLC_MIRROR as given), output captured."""
    program = str(BIN / command[0]) if (BIN / command[0]).is_file() else command[0]
    environment = {**env(), "TLC_MIRROR": str(mirror or mirror_dir())}
    return subprocess.run([program, *command[1:]], cwd=cwd, env=environment, capture_output=True, text=True)


def ok(cwd: Path, *command: str) -> str:
    done = run(cwd, *command)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_months(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(mirror_dir() / name, folder / name)
    return folder


def outs_md5(dvc_file: Path) -> str:
    return read_dvc_file(dvc_file)["outs"][0]["md5"]


def cached(repo: Path, md5: str) -> bool:
    return (repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).is_file()


def empty_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    ok(root, "git", "init", "-q")
    ok(root, "dvc", "init", "-q")
    (root / ".gitignore").write_text("/data\n")
    return root


@pytest.fixture(scope="module")
def reference_dvc(tmp_path_factory: pytest.TempPathFactory) -> str:
    """data.dvc as `dvc add` writes it for JAN and FEB, plus the meta section a user adds."""
    root = empty_repo(tmp_path_factory.mktemp("reference") / "repo")
    copy_months(root / "data", JAN, FEB)
    ok(root, "dvc", "add", "-q", "data")
    return (root / "data.dvc").read_text() + (
        f"meta:\n  source: {TLC_URL}\n  files:\n    {JAN}: {MD5[JAN]}\n    {FEB}: {MD5[FEB]}\n"
    )


@pytest.fixture
def repo(tmp_path: Path, reference_dvc: str) -> Path:
    """An empty project checkout: git, dvc, data.dvc and its .gitignore, no data/ yet."""
    root = empty_repo(tmp_path / "repo")
    (root / "data.dvc").write_text(reference_dvc)
    return root


def test_dir_md5_is_what_dvc_add_writes(reference_dvc: str, tmp_path: Path) -> None:
    (tmp_path / "data.dvc").write_text(reference_dvc)
    assert outs_md5(tmp_path / "data.dvc") == JAN_FEB_DIR_MD5 == dir_md5({JAN: MD5[JAN], FEB: MD5[FEB]})
    assert {name: file_md5(mirror_dir() / name) for name in MD5} == MD5


def test_fetch_into_empty_repo_verifies_and_caches(repo: Path, reference_dvc: str) -> None:
    done = run(repo, "trip-duration", "fetch", mirror=os.path.relpath(mirror_dir(), repo))
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr.splitlines() == [
        f"[1/2] {JAN}  1.3 MB  fetched, md5 ok",
        f"[2/2] {FEB}  1.1 MB  fetched, md5 ok",
        f"data matches data.dvc ({JAN_FEB_DIR_MD5}); in the DVC cache",
    ]
    assert folder_md5s(repo / "data") == {JAN: MD5[JAN], FEB: MD5[FEB]}
    assert (repo / "data.dvc").read_text() == reference_dvc
    assert ok(repo, "dvc", "status", "data.dvc") == UP_TO_DATE
    assert [cached(repo, md5) for md5 in (MD5[JAN], MD5[FEB], JAN_FEB_DIR_MD5)] == [True, True, True]


def test_every_month_the_projects_data_dvc_records_comes_from_the_mirror(tmp_path: Path) -> None:
    repo = empty_repo(tmp_path / "repo")
    shutil.copy2(ROOT / "data.dvc", repo / "data.dvc")
    recorded = recorded_files(repo / "data.dvc")
    assert len(recorded) >= 2, recorded  # 20 when written
    done = run(repo, "trip-duration", "fetch")
    assert (done.returncode, done.stdout) == (0, "")
    sizes = {name: (mirror_dir() / name).stat().st_size / 1e6 for name in sorted(recorded)}
    expected = outs_md5(repo / "data.dvc")
    assert done.stderr.splitlines() == [
        *(
            f"[{n}/{len(sizes)}] {name}  {size:.1f} MB  fetched, md5 ok"
            for n, (name, size) in enumerate(sizes.items(), 1)
        ),
        f"data matches data.dvc ({expected}); in the DVC cache",
    ]
    assert folder_md5s(repo / "data") == recorded
    assert dir_md5(recorded) == expected
    assert ok(repo, "dvc", "status", "data.dvc") == UP_TO_DATE
    assert all(cached(repo, md5) for md5 in [*recorded.values(), expected])


def test_an_extra_file_in_data_fails_the_folder_check_and_caches_nothing(repo: Path) -> None:
    copy_months(repo / "data", JAN, FEB)
    (repo / "data/notes.txt").write_text("scratch\n")
    done = run(repo, "trip-duration", "fetch")
    got = dir_md5({JAN: MD5[JAN], FEB: MD5[FEB], "notes.txt": "74188fc03e8f4afd03a39753b3c1bf19"})
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"[1/2] {JAN}  1.3 MB  already present",
        f"[2/2] {FEB}  1.1 MB  already present",
        f"error: data: folder md5 {got}, data.dvc records {JAN_FEB_DIR_MD5}; extra: notes.txt; changed: none",
    ]
    assert [cached(repo, md5) for md5 in (MD5[JAN], MD5[FEB], JAN_FEB_DIR_MD5)] == [False, False, False]
    assert (
        ok(repo, "dvc", "status", "data.dvc") == "data.dvc:\n\tchanged outs:\n\t\tnot in cache:       data\n"
    )


def test_new_month_is_recorded_and_survives_dvc_add(repo: Path, reference_dvc: str) -> None:
    copy_months(repo / "data", JAN, FEB)
    done = run(repo, "trip-duration", "fetch", "2021-03")
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'next: dvc add data && git add data.dvc && git commit -m "data: add 2021-03"\n'
    assert done.stderr.splitlines() == [
        f"[1/1] {MAR}  1.5 MB  fetched, new",
        "recorded 1 new file(s) in data.dvc meta.files",
    ]
    assert (repo / "data.dvc").read_text() == f"{reference_dvc}    {MAR}: {MD5[MAR]}\n"

    ok(repo, "dvc", "add", "-q", "data")
    dvc_text = (repo / "data.dvc").read_text()
    assert recorded_files(repo / "data.dvc") == MD5
    assert outs_md5(repo / "data.dvc") == dir_md5(MD5)

    again = run(repo, "trip-duration", "fetch")
    assert (again.returncode, again.stdout) == (0, "")
    assert again.stderr.splitlines() == [
        f"[1/3] {JAN}  1.3 MB  already present",
        f"[2/3] {FEB}  1.1 MB  already present",
        f"[3/3] {MAR}  1.5 MB  already present",
        f"data matches data.dvc ({dir_md5(MD5)}); in the DVC cache",
    ]
    assert (repo / "data.dvc").read_text() == dvc_text
    assert ok(repo, "dvc", "status", "data.dvc") == UP_TO_DATE
