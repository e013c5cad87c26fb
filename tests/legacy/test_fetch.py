"""stages.fetch on real TLC months, with real git, dvc and a local HTTP server; no mocks."""

import contextlib
import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stages.errors import InputError
from stages.fetch import (
    TLC_URL,
    check_folder,
    check_month,
    dir_md5,
    fetch_file,
    file_source,
    folder_md5s,
    month_url,
    record_files,
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


@contextlib.contextmanager
def serve(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Base URL of a local HTTP server run by `handler`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class ShortBody(http.server.BaseHTTPRequestHandler):
    """Promises 100 bytes, sends 10, hangs up: a dropped connection."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")

    def log_message(self, *args: object) -> None:
        """Keep the server quiet: test output shows only what the tests assert."""


def test_dir_md5_is_what_dvc_add_writes(reference_dvc: str) -> None:
    assert outs_md5(reference_dvc) == JAN_FEB_DIR_MD5
    assert dir_md5({FEB: MD5[FEB], JAN: MD5[JAN]}) == JAN_FEB_DIR_MD5
    # DVC sorts by the relative path as a string: "a-b" before "a/b" (dvc 3.67.1, files "1\n" and "2\n")
    nested = {"a/b": "26ab0db90d72e28ad0ba1e22ee510510", "a-b": "b026324c6904b2a9cb4b88d6d61c81d1"}
    assert dir_md5(nested) == "a401c8ae235e183524a77f67556569a2.dir"


def test_folder_md5s_lists_every_file_by_relative_path(tmp_path: Path) -> None:
    data = copy_months(tmp_path / "data", JAN)
    (data / "zones").mkdir()
    (data / "zones" / "lookup.csv").write_bytes(b"1\n")
    assert folder_md5s(data) == {JAN: MD5[JAN], "zones/lookup.csv": "b026324c6904b2a9cb4b88d6d61c81d1"}


def test_recorded_files_reads_meta(tmp_path: Path, reference_dvc: str) -> None:
    (tmp_path / "data.dvc").write_text(reference_dvc)
    assert recorded_files(tmp_path / "data.dvc") == {JAN: MD5[JAN], FEB: MD5[FEB]}
    (tmp_path / "bare.dvc").write_text(reference_dvc.split("meta:")[0])
    assert recorded_files(tmp_path / "bare.dvc") == {}


def test_record_files_adds_to_meta_and_keeps_the_rest(tmp_path: Path, reference_dvc: str) -> None:
    dvc_file = tmp_path / "data.dvc"
    dvc_file.write_text("# raw TLC months\n" + reference_dvc)
    record_files(dvc_file, {MAR: MD5[MAR]})
    assert dvc_file.read_text() == f"# raw TLC months\n{reference_dvc}    {MAR}: {MD5[MAR]}\n"
    record_files(tmp_path / "new.dvc", {MAR: MD5[MAR]})
    assert (tmp_path / "new.dvc").read_text() == (
        f"meta:\n  source: {TLC_URL}\n  files:\n    {MAR}: {MD5[MAR]}\n"
    )


def test_sources_by_mirror_kind() -> None:
    expected = "https://d37ci6vzurychx.cloudfront.net/trip-data/yellow_tripdata_2024-02.parquet"
    assert month_url(TLC_URL, "yellow", "2024-02") == expected
    assert month_url(TLC_URL.rstrip("/"), "yellow", "2024-02") == expected
    assert file_source("file:///srv/tlc%20mirror/", JAN) == f"/srv/tlc mirror/{JAN}"
    assert file_source("../shared/data/nyc-tlc", JAN) == f"../shared/data/nyc-tlc/{JAN}"


@pytest.mark.parametrize("month", ["2021-1", "2021-13", "2021-00", "21-01", "2021-01-01", "2021_01", ""])
def test_check_month_rejects(month: str) -> None:
    with pytest.raises(InputError, match="not a month: expected YYYY-MM"):
        check_month(month)


def test_check_month_accepts_boundaries() -> None:
    assert [check_month(month) for month in ("2021-01", "2021-12")] == ["2021-01", "2021-12"]


def test_cli_rejects_bad_month(tmp_path: Path) -> None:
    result = fetch(tmp_path, "2021-01", "2021-1", mirror=MIRROR)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "error: 2021-1: not a month: expected YYYY-MM, like 2021-01\n"
    assert not (tmp_path / "data").exists()


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


def test_skips_files_already_present(repo: Path, tmp_path: Path) -> None:
    copy_months(repo / "data", JAN)
    mirror = copy_months(tmp_path / "mirror", FEB)  # no JAN: it must not be fetched
    result = fetch(repo, mirror=mirror)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[:2] == [
        f"[1/2] {JAN}  1.3 MB  already present",
        f"[2/2] {FEB}  1.1 MB  fetched, md5 ok",
    ]


def test_refetches_a_present_file_with_wrong_bytes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / JAN).write_bytes(b"truncated")
    assert fetch_file(str(MIRROR), JAN, data, MD5[JAN]) == ("fetched, md5 ok", MD5[JAN])
    assert folder_md5s(data) == {JAN: MD5[JAN]}


def test_corrupted_download_fails_and_leaves_nothing(repo: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copyfile(MIRROR / FEB, mirror / JAN)  # real parquet, wrong month
    result = fetch(repo, mirror=mirror)
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {mirror / JAN}: md5 {MD5[FEB]}, expected {MD5[JAN]}; not saved to data\n"
    )
    assert list((repo / "data").iterdir()) == []


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


def test_extra_file_in_data_fails_folder_check(tmp_path: Path) -> None:
    data = copy_months(tmp_path / "data", JAN, FEB)
    (data / "notes.txt").write_text("scratch\n")
    recorded = {JAN: MD5[JAN], FEB: MD5[FEB]}
    check_folder(copy_months(tmp_path / "clean", JAN, FEB), Path("data.dvc"), recorded, JAN_FEB_DIR_MD5)
    with pytest.raises(InputError) as raised:
        check_folder(data, Path("data.dvc"), recorded, JAN_FEB_DIR_MD5)
    got = dir_md5({**recorded, "notes.txt": "74188fc03e8f4afd03a39753b3c1bf19"})
    assert (raised.value.path, raised.value.problem) == (
        str(data),
        f"folder md5 {got}, data.dvc records {JAN_FEB_DIR_MD5}; extra: notes.txt; changed: none",
    )


def test_network_failure_names_url_and_mirror(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused, no internet needed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = fetch(tmp_path, "2021-01", mirror=f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    url = f"http://127.0.0.1:{port}/{JAN}"
    assert result.stderr == f"error: {url}: download failed ([Errno 111] Connection refused); {HINT}\n"
    assert not (tmp_path / "data.dvc").exists()
    assert list((tmp_path / "data").iterdir()) == []


def test_http_mirror_downloads_with_progress(tmp_path: Path) -> None:
    folder = copy_months(tmp_path / "served", JAN)
    calls: list[tuple[int, int | None]] = []
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with serve(handler) as base:
        got = fetch_file(base, JAN, tmp_path / "data", MD5[JAN], lambda *call: calls.append(call))
        with pytest.raises(InputError, match=r"download failed \(HTTP 404 File not found\); set TLC_MIRROR"):
            fetch_file(base, FEB, tmp_path / "data")
    size = (MIRROR / JAN).stat().st_size
    assert got == ("fetched, md5 ok", MD5[JAN])
    assert calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert folder_md5s(tmp_path / "data") == {JAN: MD5[JAN]}


def test_dropped_connection_fails_and_leaves_nothing(tmp_path: Path) -> None:
    with serve(ShortBody) as base, pytest.raises(InputError) as raised:
        fetch_file(base, MAR, tmp_path / "data")
    assert raised.value.problem == f"download stopped after 10 of 100 bytes; {HINT}"
    assert list((tmp_path / "data").iterdir()) == []


def test_file_url_mirror(tmp_path: Path) -> None:
    mirror = copy_months(tmp_path / "tlc mirror", JAN)
    assert fetch_file(mirror.as_uri(), JAN, tmp_path / "data") == ("fetched, new", MD5[JAN])
    assert (tmp_path / "data" / JAN).read_bytes() == (MIRROR / JAN).read_bytes()


def test_missing_file_in_mirror_folder(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    with pytest.raises(InputError) as raised:
        fetch_file(str(tmp_path / "mirror"), JAN, tmp_path / "data", MD5[JAN])
    assert (raised.value.path, raised.value.problem) == (
        str(tmp_path / "mirror" / JAN),
        "not found in the TLC_MIRROR folder",
    )
    assert list((tmp_path / "data").iterdir()) == []
