"""Fetch raw monthly NYC TLC trip files into the data folder, bytes unchanged and checked by md5.

trip-duration fetch                    # every file data.dvc records; then verify and cache them
trip-duration fetch 2023-04 2023-05    # named months; a new one is recorded in data.dvc
trip-duration fetch --new              # every month after the newest recorded that TLC has published
TLC_MIRROR=../shared/data/nyc-tlc trip-duration fetch    # from a folder or base URL instead

Each file's md5 is recorded in data.dvc's meta.files (see trip_duration_ops.catalog).

Expected output, on stderr:
    [1/20] green_tripdata_2021-01.parquet  1.3 MB  already present
    [2/20] green_tripdata_2021-02.parquet  1.1 MB  fetched, md5 ok

--new probes the months after the newest green (or --taxi) month data.dvc records, one by one up
to the current month, and stops at the first that TLC has not published (HTTP 403 or 404, or no
file in a TLC_MIRROR folder). It prints the months it fetched on stdout, one a line, and records
them in data.dvc; with none, it says so on stderr, prints nothing and exits 0.

Downloads and probes over HTTP are retried (stamina: exponential backoff with jitter, at most
RETRY's attempts and seconds) when the failure may pass: a timeout, a refused or dropped
connection, a body cut short, HTTP 408, 425, 429 or 5xx. Each retry is one line on stderr:
    fetch: https://.../green_tripdata_2023-04.parquet: HTTP 503 Service Unavailable; try 2 in 0.6 s
A 403 or 404 is an answer, not a failure: never retried.
"""

import argparse
import datetime
import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypedDict, TypeVar

import stamina

from trip_duration.errors import InputError, run
from trip_duration.files import atomic_path
from trip_duration.tlc import MONTH, TLC_URL, file_name
from trip_duration_ops.catalog import (
    data_months,
    dir_md5,
    file_md5,
    folder_md5s,
    read_dvc_file,
    record_files,
    recorded_files,
)

OFFLINE_HINT = (
    "set TLC_MIRROR to a folder or base URL that holds the TLC files"
    " (offline: TLC_MIRROR=../shared/data/nyc-tlc)"
)
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60  # per socket operation: a stalled server fails the run instead of hanging it


class Retry(TypedDict):
    """stamina.retry_context's keywords."""

    attempts: int
    timeout: float
    wait_initial: float
    wait_max: float
    wait_jitter: float


# A monthly job can wait a minute for a CDN to recover, not an hour: tries 0.5, 1, 2, 4, 8 s apart.
RETRY: Retry = {"attempts": 6, "timeout": 90.0, "wait_initial": 0.5, "wait_max": 16.0, "wait_jitter": 0.5}
RETRIED_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

Progress = Callable[[int, int | None], None]
T = TypeVar("T")


class Transient(Exception):
    """A failure that another try may not meet: its url and what went wrong."""

    def __init__(self, url: str, problem: str) -> None:
        self.url, self.problem = url, problem
        super().__init__(f"{url}: {problem}")


def say_retry(details: stamina.instrumentation.RetryDetails) -> None:
    """stamina's hook: one line on stderr per retry scheduled."""
    wait = f"try {details.retry_num + 1} in {details.wait_for:.1f} s"
    print(f"fetch: {details.caused_by}; {wait}", file=sys.stderr, flush=True)


def retried(url: str, action: Callable[[], T]) -> T:
    """action(), tried again as RETRY says while it raises Transient; then one line naming `url`."""
    made = 0
    try:
        for attempt in stamina.retry_context(on=Transient, **RETRY):
            with attempt:
                made = attempt.num
                return action()
    except Transient as error:
        tries = f" after {made} tries" if made > 1 else ""
        raise InputError(url, f"{error.problem}{tries}; {OFFLINE_HINT}") from None
    raise AssertionError("unreachable: retry_context tries at least once")


def check_month(month: str) -> str:
    if not MONTH.fullmatch(month):
        raise InputError(month, "not a month: expected YYYY-MM, like 2021-01")
    return month


def mirror_folder(base: str) -> Path | None:
    """The local folder that `base` names (a path or file:// URL); None for an http(s) URL."""
    parsed = urllib.parse.urlparse(base)
    if parsed.scheme in ("http", "https"):
        return None
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(base)


def file_source(base: str, name: str) -> str:
    """Where the file `name` comes from: a path in a mirror folder, or a URL under `base`."""
    folder = mirror_folder(base)
    return str(folder / name) if folder is not None else f"{base.rstrip('/')}/{name}"


def month_url(base: str, taxi: str, month: str) -> str:
    return file_source(base, file_name(taxi, month))


def next_month(month: str) -> str:
    year, number = divmod(int(month[:4]) * 12 + int(month[5:]), 12)  # number 0..11 is month 1..12
    return f"{year}-{number + 1:02d}"


def published(base: str, name: str) -> bool:
    """Whether TLC has the file `name`: a file in a mirror folder, or a HEAD answered 200 (403 and
    404 are TLC's "not yet"); any other failure is one line naming the URL."""
    folder = mirror_folder(base)
    if folder is not None:
        return (folder / name).is_file()
    url = file_source(base, name)
    return retried(url, lambda: probe(url))


def probe(url: str) -> bool:
    """One HEAD request: True on 200, False on 403 or 404; Transient when it may pass."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=TIMEOUT_S):
            return True
    except urllib.error.HTTPError as error:
        if error.code in (403, 404):
            return False
        if error.code in RETRIED_STATUS:
            raise Transient(url, f"probe failed ({failure(error)})") from None
        raise InputError(url, f"probe failed ({failure(error)}); {OFFLINE_HINT}") from None
    except (OSError, http.client.HTTPException) as error:
        raise Transient(url, f"probe failed ({failure(error)})") from None


def new_months(base: str, taxi: str, recorded: list[str], until: str, dvc_file: Path) -> list[str]:
    """The months after the newest of `taxi`'s `recorded` months that TLC has published, up to
    `until`, in order."""
    if not recorded:
        raise InputError(dvc_file, f"records no {taxi} month to follow: fetch a first month by name")
    found, month = [], next_month(recorded[-1])
    while month <= until and published(base, file_name(taxi, month)):
        found.append(month)
        month = next_month(month)
    return found


def file_chunks(path: Path) -> Iterator[bytes]:
    if not path.is_file():
        raise InputError(path, "not found in the TLC_MIRROR folder")
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def failure(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    return str(getattr(error, "reason", None) or error) or type(error).__name__


def url_chunks(url: str, progress: Progress | None = None) -> Iterator[bytes]:
    """Stream `url` once; Transient when the failure may pass, else one line naming the URL."""
    done, total = 0, None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            total = response.length
            while chunk := response.read(CHUNK_BYTES):
                done += len(chunk)
                if progress:
                    progress(done, total)
                yield chunk
    except urllib.error.HTTPError as error:
        if error.code in RETRIED_STATUS:
            raise Transient(url, f"download failed ({failure(error)})") from None
        raise InputError(url, f"download failed ({failure(error)}); {OFFLINE_HINT}") from None
    except (OSError, http.client.HTTPException) as error:  # URLError, refused, timed out...
        raise Transient(url, f"download failed ({failure(error)})") from None
    if total is not None and done != total:  # http.client returns short bodies without raising
        raise Transient(url, f"download stopped after {done} of {total} bytes")


def write_chunks(chunks: Iterable[bytes], path: Path) -> str:
    """Write the chunks to `path` from its start; their md5."""
    digest = hashlib.md5()
    with path.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def fetch_file(
    base: str,
    name: str,
    data_dir: Path,
    expected_md5: str | None = None,
    progress: Progress | None = None,
) -> tuple[str, str]:
    """Put the file `name` from `base` into `data_dir`; return (what was done, its md5)."""
    target = data_dir / name
    if expected_md5 and target.is_file() and file_md5(target) == expected_md5:
        return "already present", expected_md5
    source = file_source(base, name)
    with atomic_path(target) as tmp:  # bad bytes never reach `target`
        if mirror_folder(base) is not None:
            got = write_chunks(file_chunks(Path(source)), tmp)
        else:
            got = download(source, tmp, progress)
        if expected_md5 and got != expected_md5:
            raise InputError(source, f"md5 {got}, expected {expected_md5}; not saved to {data_dir}")
    return ("fetched, md5 ok" if expected_md5 else "fetched, new"), got


def download(url: str, path: Path, progress: Progress | None = None) -> str:
    """Download `url` to `path`, tried again from the start while failures may pass; its md5."""
    return retried(url, lambda: write_chunks(url_chunks(url, progress), path))


def check_folder(data_dir: Path, dvc_file: Path, recorded: Mapping[str, str], expected: str) -> None:
    """The folder must hash to what `dvc add` recorded, exactly as DVC computes it."""
    present = folder_md5s(data_dir)
    got = dir_md5(present)
    if got == expected:
        return
    extra = sorted(set(present) - set(recorded))
    changed = sorted(name for name in recorded if present.get(name) != recorded[name])
    what = f"extra: {' '.join(extra) or 'none'}; changed: {' '.join(changed) or 'none'}"
    if not extra and not changed:
        what = f"meta.files disagrees with outs (run dvc add {data_dir})"
    raise InputError(data_dir, f"folder md5 {got}, {dvc_file} records {expected}; {what}")


def commit_to_cache(dvc_file: Path) -> None:
    """Store the checked folder in DVC's cache, so `dvc push` and queued experiments find it."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            repo.commit(str(dvc_file), force=True)
    except DvcException as error:
        raise InputError(dvc_file, f"dvc commit failed: {error}") from None


def fetch_all(base: str, names: list[str], data_dir: Path, recorded: Mapping[str, str]) -> dict[str, str]:
    """Fetch each file with one line of progress on stderr; return name -> md5."""
    tty = sys.stderr.isatty()
    start = "\r" if tty else ""  # on a terminal, the last line overwrites the percentage
    md5s = {}
    for number, name in enumerate(names, 1):
        prefix = f"[{number}/{len(names)}] {name}"

        def show(done: int, total: int | None, prefix: str = prefix) -> None:
            if total:
                print(f"\r{prefix}  {100 * done // total}%", end="", file=sys.stderr, flush=True)

        try:
            status, md5s[name] = fetch_file(base, name, data_dir, recorded.get(name), show if tty else None)
        except InputError:
            if tty:  # end the percentage line before the error
                print(file=sys.stderr)
            raise
        size = (data_dir / name).stat().st_size / 1e6
        print(f"{start}{prefix}  {size:.1f} MB  {status}", file=sys.stderr)
    return md5s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration fetch", description=__doc__.split("\n")[0])
    parser.add_argument("months", nargs="*", metavar="YYYY-MM", help="default: what data.dvc records")
    parser.add_argument("--taxi", choices=["green", "yellow"], default="green")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--new", action="store_true", help="the months after the newest recorded")
    parser.add_argument("--until", help="--new probes up to this month (default: the current one)")
    args = parser.parse_args(argv)
    stamina.instrumentation.set_on_retry_hooks([say_retry])
    if args.new and args.months:
        parser.error("--new takes no months")
    months = list(dict.fromkeys(check_month(month) for month in args.months))
    data_dir: Path = args.data_dir
    dvc_file = data_dir.with_name(f"{data_dir.name}.dvc")  # where `dvc add` puts it
    recorded = recorded_files(dvc_file) if dvc_file.exists() else {}
    base = os.environ.get("TLC_MIRROR") or TLC_URL
    if args.new:
        until = check_month(args.until) if args.until else datetime.date.today().strftime("%Y-%m")
        taxi_months = data_months(read_dvc_file(dvc_file) if dvc_file.exists() else None, args.taxi)
        months = new_months(base, args.taxi, taxi_months, until, dvc_file)
        if not months:
            print(f"fetch: no new {args.taxi} month after {taxi_months[-1]}", file=sys.stderr)
            return
    names = [file_name(args.taxi, month) for month in months] or sorted(recorded)
    if not names:
        raise InputError(dvc_file, "missing or records no meta.files: name months, like 2021-01")
    md5s = fetch_all(base, names, data_dir, recorded)
    new = [month for month in months if file_name(args.taxi, month) not in recorded]
    if new:
        record_files(dvc_file, {name: md5 for name, md5 in md5s.items() if name not in recorded})
        print(f"recorded {len(new)} new file(s) in {dvc_file} meta.files", file=sys.stderr)
        if args.new:
            print("\n".join(new))
            return
        print(f'next: dvc add {data_dir} && git add {dvc_file} && git commit -m "data: add {" ".join(new)}"')
        return
    expected = (read_dvc_file(dvc_file).get("outs") or [{}])[0].get("md5")  # None until `dvc add`
    if expected is None:
        print(f"next: dvc add {data_dir} && git add {dvc_file}")
        return
    missing = [name for name in recorded if not (data_dir / name).is_file()]
    if missing:
        print(f"not cached: {data_dir} lacks {len(missing)} recorded file(s)", file=sys.stderr)
        return
    check_folder(data_dir, dvc_file, recorded, expected)
    commit_to_cache(dvc_file)
    print(f"{data_dir} matches {dvc_file} ({expected}); in the DVC cache", file=sys.stderr)


if __name__ == "__main__":
    run(main)
