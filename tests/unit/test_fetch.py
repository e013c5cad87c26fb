"""trip-duration fetch and trip_duration_ops.catalog on small hand-written files and a local HTTP server."""

import contextlib
import functools
import hashlib
import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stamina
from conftest import call_main

from trip_duration.errors import InputError
from trip_duration.tlc import TLC_URL
from trip_duration_ops.catalog import dir_md5, folder_md5s, read_dvc_file, record_files, recorded_files
from trip_duration_ops.fetch import (
    check_folder,
    check_month,
    fetch_file,
    file_source,
    main,
    month_url,
    next_month,
    published,
)

JAN, FEB, MAR = (f"green_tripdata_2021-0{month}.parquet" for month in (1, 2, 3))
# Stand-ins for the TLC files: tiny files whose md5 anyone can check (`printf '1\n' | md5sum`).
CONTENT = {JAN: b"1\n", FEB: b"2\n", MAR: b"3\n"}
MD5 = {
    JAN: "b026324c6904b2a9cb4b88d6d61c81d1",
    FEB: "26ab0db90d72e28ad0ba1e22ee510510",
    MAR: "6d7fce9fee471194aa8b5b6e47267f03",
}
# data.dvc as `dvc add` writes it for a folder of JAN and FEB, plus the meta section a user adds.
REFERENCE_DVC = f"""outs:
- md5: {dir_md5({JAN: MD5[JAN], FEB: MD5[FEB]})}
  size: 4
  nfiles: 2
  hash: md5
  path: data
meta:
  source: {TLC_URL}
  files:
    {JAN}: {MD5[JAN]}
    {FEB}: {MD5[FEB]}
"""
HINT = (
    "set TLC_MIRROR to a folder or base URL that holds the TLC files"
    " (offline: TLC_MIRROR=../shared/data/nyc-tlc)"
)


def write_files(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(CONTENT[name])
    return folder


@pytest.fixture(autouse=True)
def one_try() -> Iterator[None]:
    """One try per download or probe, as if nothing were retried; the retry tests lift it."""
    with stamina.set_testing(True, attempts=1):
        yield


@pytest.fixture
def fetch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str, str]]:
    """`trip-duration fetch ARGS --data-dir TMP/data` in-process with TLC_MIRROR=mirror: (code, out, err)."""

    def call(*args: str, mirror: str | Path) -> tuple[int, str, str]:
        monkeypatch.setenv("TLC_MIRROR", str(mirror))
        return call_main(main, [*args, "--data-dir", str(tmp_path / "data")], capsys)

    return call


@contextlib.contextmanager
def serve(handler: Callable[..., http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Base URL of a local HTTP server run by `handler`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()  # quick shutdown
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Keep the server quiet: test output shows only what the tests assert."""


class ShortBody(http.server.BaseHTTPRequestHandler):
    """Promises 100 bytes, sends 10, hangs up: a dropped connection."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"0123456789")

    def log_message(self, *args: object) -> None:
        """Keep the server quiet: test output shows only what the tests assert."""


def test_dir_md5_is_what_dvc_add_writes() -> None:
    # The real January and February 2021 files, and the md5 `dvc add` (3.67.1) wrote for their folder.
    real = {JAN: "58f7622b863151fc9f4d51eff826db50", FEB: "37305f2db8bd9ae2553212bba9e2b0b5"}
    assert dir_md5(real) == "56975b37c08e8ab663f0d806c09d1c24.dir"
    # DVC sorts by the relative path as a string: "a-b" before "a/b" (files "1\n" and "2\n")
    nested = {"a/b": MD5[FEB], "a-b": MD5[JAN]}
    assert dir_md5(nested) == "a401c8ae235e183524a77f67556569a2.dir"


def test_folder_md5s_lists_every_file_by_relative_path(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data", JAN)
    (data / "zones").mkdir()
    (data / "zones" / "lookup.csv").write_bytes(b"2\n")
    assert folder_md5s(data) == {JAN: MD5[JAN], "zones/lookup.csv": MD5[FEB]}


def test_recorded_files_reads_meta(tmp_path: Path) -> None:
    (tmp_path / "data.dvc").write_text(REFERENCE_DVC)
    assert recorded_files(tmp_path / "data.dvc") == {JAN: MD5[JAN], FEB: MD5[FEB]}
    (tmp_path / "bare.dvc").write_text(REFERENCE_DVC.split("meta:")[0])
    assert recorded_files(tmp_path / "bare.dvc") == {}
    (tmp_path / "empty.dvc").write_text("")
    assert recorded_files(tmp_path / "empty.dvc") == {}


def test_bad_dvc_files_are_one_line_errors(tmp_path: Path) -> None:
    listed = tmp_path / "listed.dvc"
    listed.write_text(f"meta:\n  files:\n    {JAN}: [1, 2]\n")
    with pytest.raises(InputError) as caught:
        recorded_files(listed)
    assert str(caught.value) == f"{listed}: meta.files must map file names to md5 strings"
    broken = tmp_path / "broken.dvc"
    broken.write_text("outs: [\n")
    with pytest.raises(InputError) as caught:
        read_dvc_file(broken)
    assert caught.value.path == str(broken) and caught.value.problem.startswith("not valid YAML: ")
    assert "\n" not in caught.value.problem


def test_record_files_adds_to_meta_and_keeps_the_rest(tmp_path: Path) -> None:
    dvc_file = tmp_path / "data.dvc"
    dvc_file.write_text("# raw TLC months\n" + REFERENCE_DVC)
    record_files(dvc_file, {MAR: MD5[MAR]})
    assert dvc_file.read_text() == f"# raw TLC months\n{REFERENCE_DVC}    {MAR}: {MD5[MAR]}\n"
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
    assert file_source("http://127.0.0.1:8000", JAN) == f"http://127.0.0.1:8000/{JAN}"


@pytest.mark.parametrize("month", ["2021-1", "2021-13", "2021-00", "21-01", "2021-01-01", "2021_01", ""])
def test_check_month_rejects(month: str) -> None:
    with pytest.raises(InputError, match="not a month: expected YYYY-MM"):
        check_month(month)


def test_check_month_accepts_boundaries() -> None:
    assert [check_month(month) for month in ("2021-01", "2021-12")] == ["2021-01", "2021-12"]


def test_cli_rejects_bad_month(tmp_path: Path, fetch: Callable) -> None:
    mirror = write_files(tmp_path / "mirror", JAN)
    assert fetch("2021-01", "2021-1", mirror=mirror) == (
        1,
        "",
        "error: 2021-1: not a month: expected YYYY-MM, like 2021-01\n",
    )
    assert not (tmp_path / "data").exists()


def test_cli_without_months_needs_a_dvc_file_that_records_some(tmp_path: Path, fetch: Callable) -> None:
    mirror = write_files(tmp_path / "mirror", JAN)
    assert fetch(mirror=mirror) == (
        1,
        "",
        f"error: {tmp_path / 'data.dvc'}: missing or records no meta.files: name months, like 2021-01\n",
    )


def test_skips_files_already_present(tmp_path: Path, fetch: Callable) -> None:
    data, dvc_file = tmp_path / "data", tmp_path / "data.dvc"
    dvc_file.write_text("meta:" + REFERENCE_DVC.split("meta:")[1])  # recorded, never `dvc add`ed
    write_files(data, JAN)
    mirror = write_files(tmp_path / "mirror", FEB)  # no JAN: it must not be fetched
    assert fetch(mirror=mirror) == (
        0,
        f"next: dvc add {data} && git add {dvc_file}\n",
        f"[1/2] {JAN}  0.0 MB  already present\n[2/2] {FEB}  0.0 MB  fetched, md5 ok\n",
    )
    assert folder_md5s(data) == {JAN: MD5[JAN], FEB: MD5[FEB]}


def test_files_recorded_but_absent_are_not_cached(tmp_path: Path, fetch: Callable) -> None:
    (tmp_path / "data.dvc").write_text(REFERENCE_DVC)
    mirror = write_files(tmp_path / "mirror", JAN, FEB)
    assert fetch("2021-01", mirror=mirror) == (
        0,
        "",
        f"[1/1] {JAN}  0.0 MB  fetched, md5 ok\nnot cached: {tmp_path / 'data'} lacks 1 recorded file(s)\n",
    )
    assert (tmp_path / "data.dvc").read_text() == REFERENCE_DVC


def test_refetches_a_present_file_with_wrong_bytes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / JAN).write_bytes(b"truncated")
    mirror = write_files(tmp_path / "mirror", JAN)
    assert fetch_file(str(mirror), JAN, data, MD5[JAN]) == ("fetched, md5 ok", MD5[JAN])
    assert folder_md5s(data) == {JAN: MD5[JAN]}


def test_corrupted_download_fails_and_leaves_nothing(tmp_path: Path, fetch: Callable) -> None:
    (tmp_path / "data.dvc").write_text(REFERENCE_DVC)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / JAN).write_bytes(CONTENT[FEB])  # a real file, the wrong month
    data = tmp_path / "data"
    assert fetch(mirror=mirror) == (
        1,
        "",
        f"error: {mirror / JAN}: md5 {MD5[FEB]}, expected {MD5[JAN]}; not saved to {data}\n",
    )
    assert not data.exists()  # not even the folder made for it


def test_new_month_is_recorded_in_the_dvc_file(tmp_path: Path, fetch: Callable) -> None:
    data, dvc_file = tmp_path / "data", tmp_path / "data.dvc"
    dvc_file.write_text(REFERENCE_DVC)
    write_files(data, JAN, FEB)
    mirror = write_files(tmp_path / "mirror", MAR)
    assert fetch("2021-03", mirror=mirror) == (
        0,
        f'next: dvc add {data} && git add {dvc_file} && git commit -m "data: add 2021-03"\n',
        f"[1/1] {MAR}  0.0 MB  fetched, new\nrecorded 1 new file(s) in {dvc_file} meta.files\n",
    )
    assert dvc_file.read_text() == f"{REFERENCE_DVC}    {MAR}: {MD5[MAR]}\n"
    assert recorded_files(dvc_file) == MD5


def test_extra_file_in_data_fails_folder_check(tmp_path: Path) -> None:
    # the folder of test_dir_md5_is_what_dvc_add_writes: `dvc add` wrote a401c8ae...
    recorded = {"a-b": MD5[JAN], "a/b": MD5[FEB]}
    expected = "a401c8ae235e183524a77f67556569a2.dir"

    def folder(path: Path) -> Path:
        (path / "a").mkdir(parents=True)
        (path / "a-b").write_bytes(b"1\n")
        (path / "a" / "b").write_bytes(b"2\n")
        return path

    check_folder(folder(tmp_path / "clean"), Path("data.dvc"), recorded, expected)
    data = folder(tmp_path / "data")
    (data / "notes.txt").write_text("scratch\n")
    with pytest.raises(InputError) as raised:
        check_folder(data, Path("data.dvc"), recorded, expected)
    got = dir_md5({**recorded, "notes.txt": "74188fc03e8f4afd03a39753b3c1bf19"})
    assert (raised.value.path, raised.value.problem) == (
        str(data),
        f"folder md5 {got}, data.dvc records {expected}; extra: notes.txt; changed: none",
    )
    (data / "notes.txt").unlink()
    (data / "a-b").write_bytes(b"3\n")
    with pytest.raises(InputError) as raised:
        check_folder(data, Path("data.dvc"), recorded, expected)
    assert raised.value.problem.endswith("; extra: none; changed: a-b")


def test_folder_matching_meta_files_but_not_outs_says_to_dvc_add(tmp_path: Path) -> None:
    data = write_files(tmp_path / "data", JAN)
    with pytest.raises(InputError) as raised:
        check_folder(data, Path("data.dvc"), {JAN: MD5[JAN]}, "0123.dir")
    assert raised.value.problem == (
        f"folder md5 {dir_md5({JAN: MD5[JAN]})}, data.dvc records 0123.dir;"
        f" meta.files disagrees with outs (run dvc add {data})"
    )


def test_network_failure_names_url_and_mirror(tmp_path: Path, fetch: Callable) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused, no internet needed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/{JAN}"
    assert fetch("2021-01", mirror=f"http://127.0.0.1:{port}") == (
        1,
        "",
        f"error: {url}: download failed ([Errno 111] Connection refused); {HINT}\n",
    )
    assert not (tmp_path / "data.dvc").exists()
    assert not (tmp_path / "data").exists()  # not even the folder made for it


def test_http_mirror_downloads_with_progress(tmp_path: Path) -> None:
    folder = tmp_path / "served"
    folder.mkdir()
    body = bytes(range(256)) * 10_000  # 2.56 MB: three chunks of at most 1 MiB
    (folder / JAN).write_bytes(body)
    md5 = hashlib.md5(body).hexdigest()
    calls: list[tuple[int, int | None]] = []
    with serve(functools.partial(Quiet, directory=str(folder))) as base:
        got = fetch_file(base, JAN, tmp_path / "data", md5, lambda *call: calls.append(call))
        with pytest.raises(InputError) as raised:
            fetch_file(base, FEB, tmp_path / "data")
    assert got == ("fetched, md5 ok", md5)
    assert calls == [(1 << 20, len(body)), (2 << 20, len(body)), (len(body), len(body))]
    assert (raised.value.path, raised.value.problem) == (
        f"{base}{FEB}",
        f"download failed (HTTP 404 File not found); {HINT}",
    )
    assert folder_md5s(tmp_path / "data") == {JAN: md5}


def test_dropped_connection_fails_and_leaves_nothing(tmp_path: Path) -> None:
    with serve(ShortBody) as base, pytest.raises(InputError) as raised:
        fetch_file(base, MAR, tmp_path / "data")
    assert raised.value.problem == f"download stopped after 10 of 100 bytes; {HINT}"
    assert not (tmp_path / "data").exists()  # not even the folder made for it


def test_file_url_mirror(tmp_path: Path) -> None:
    mirror = write_files(tmp_path / "tlc mirror", JAN)
    assert fetch_file(mirror.as_uri(), JAN, tmp_path / "data") == ("fetched, new", MD5[JAN])
    assert (tmp_path / "data" / JAN).read_bytes() == CONTENT[JAN]


def test_missing_file_in_mirror_folder(tmp_path: Path) -> None:
    (tmp_path / "mirror").mkdir()
    with pytest.raises(InputError) as raised:
        fetch_file(str(tmp_path / "mirror"), JAN, tmp_path / "data", MD5[JAN])
    assert (raised.value.path, raised.value.problem) == (
        str(tmp_path / "mirror" / JAN),
        "not found in the TLC_MIRROR folder",
    )
    assert not (tmp_path / "data").exists()  # not even the folder made for it


def test_next_month_wraps_the_year() -> None:
    assert [next_month(m) for m in ("2021-01", "2021-12", "2099-09")] == ["2021-02", "2022-01", "2099-10"]


def test_new_fetches_the_published_months_after_the_newest_recorded(tmp_path: Path, fetch: Callable) -> None:
    mirror = write_files(tmp_path / "mirror", JAN, FEB, MAR)
    assert fetch("2021-01", mirror=mirror)[0] == 0
    code, out, err = fetch("--new", "--until", "2021-12", mirror=mirror)
    assert (code, out) == (0, "2021-02\n2021-03\n")
    assert "recorded 2 new file(s)" in err
    assert sorted(recorded_files(tmp_path / "data.dvc")) == [JAN, FEB, MAR]
    assert fetch("--new", "--until", "2021-12", mirror=mirror) == (
        0,
        "",
        "fetch: no new green month after 2021-03\n",
    )


def test_new_stops_at_until_and_needs_a_month_to_follow(tmp_path: Path, fetch: Callable) -> None:
    mirror = write_files(tmp_path / "mirror", JAN, FEB, MAR)
    assert fetch("--new", mirror=mirror)[:2] == (1, "")
    assert fetch("--new", mirror=mirror)[2] == (
        f"error: {tmp_path / 'data.dvc'}: records no green month to follow: fetch a first month by name\n"
    )
    fetch("2021-01", mirror=mirror)
    assert fetch("--new", "--until", "2021-02", mirror=mirror)[:2] == (0, "2021-02\n")
    assert fetch("--new", "2021-03", mirror=mirror)[0] == 2  # months and --new: a usage error


class Forbidden(http.server.BaseHTTPRequestHandler):
    """TLC's CloudFront answers a month it has not published with 403; anything else is here 500."""

    def do_HEAD(self) -> None:
        self.send_response(403 if FEB in self.path else 500)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Keep the server quiet: test output shows only what the tests assert."""


def test_probing_over_http_takes_403_and_404_as_not_yet_and_fails_on_the_rest(tmp_path: Path) -> None:
    with serve(Forbidden) as base:
        assert published(base, FEB) is False
        with pytest.raises(InputError) as raised:
            published(base, MAR)
    assert raised.value.problem == f"probe failed (HTTP 500 Internal Server Error); {HINT}"
    folder = write_files(tmp_path / "served", JAN)
    with serve(functools.partial(Quiet, directory=str(folder))) as base:
        assert (published(base, JAN), published(base, FEB)) == (True, False)


class Flaky(Quiet):
    """Answers 503 to the first `failures` requests of each path, then serves the folder; counts them."""

    failures = 2
    seen: dict[str, int]

    def fail_first(self) -> bool:
        count = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        if count <= self.failures:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def do_GET(self) -> None:
        if not self.fail_first():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self.fail_first():
            super().do_HEAD()


def flaky(folder: Path, failures: int) -> Callable[..., Flaky]:
    handler = type("FlakyHere", (Flaky,), {"failures": failures, "seen": {}})
    return functools.partial(handler, directory=str(folder))


def test_a_download_that_fails_twice_is_retried_with_backoff_and_each_retry_said(
    tmp_path: Path, fetch: Callable
) -> None:
    folder = write_files(tmp_path / "served", JAN)
    handler = flaky(folder, failures=2)
    with stamina.set_testing(False), serve(handler) as base:  # real waits: 0.5 s, then 1 s, with jitter
        code, _, err = fetch("2021-01", mirror=base)
    assert code == 0, err
    retries = [line for line in err.splitlines() if line.startswith("fetch: ")]
    assert [line.split("; try ")[0] for line in retries] == [
        f"fetch: {base}{JAN}: download failed (HTTP 503 Service Unavailable)"
    ] * 2
    assert [line.split("; try ")[1][:2] for line in retries] == ["2 ", "3 "]
    assert handler.func.seen == {f"/{JAN}": 3}
    assert (tmp_path / "data" / JAN).read_bytes() == CONTENT[JAN]


def test_a_probe_that_fails_twice_is_retried_and_a_404_never_is(tmp_path: Path) -> None:
    folder = write_files(tmp_path / "served", JAN)
    handler = flaky(folder, failures=2)
    with stamina.set_testing(True, attempts=3), serve(handler) as base:
        assert published(base, JAN) is True
        assert published(base, FEB) is False  # 503, 503, then 404: not published
    assert handler.func.seen == {f"/{JAN}": 3, f"/{FEB}": 3}
    handler = flaky(folder, failures=0)
    with stamina.set_testing(True, attempts=3), serve(handler) as base:
        assert published(base, FEB) is False
    assert handler.func.seen == {f"/{FEB}": 1}  # a 404 is an answer: asked once


def test_retries_are_bounded_and_the_last_failure_is_one_line(tmp_path: Path, fetch: Callable) -> None:
    handler = flaky(write_files(tmp_path / "served", JAN), failures=10)
    with stamina.set_testing(True, attempts=3), serve(handler) as base:
        code, out, err = fetch("2021-01", mirror=base)
    assert (code, out) == (1, "")
    assert err.splitlines()[-1] == (
        f"error: {base}{JAN}: download failed (HTTP 503 Service Unavailable) after 3 tries; {HINT}"
    )
    assert handler.func.seen == {f"/{JAN}": 3}
    assert not (tmp_path / "data").exists()


def test_the_retry_policy_is_bounded_in_tries_and_time() -> None:
    from trip_duration_ops.fetch import RETRY

    assert 1 < RETRY["attempts"] <= 10 and RETRY["timeout"] <= 120 and RETRY["wait_max"] <= 30
