"""Deploy a registered model to a serving folder: fetched through DVC, checked, placed atomically.

    trip-duration deploy --stage prod --to deploy/ [--repo .]
    trip-duration deploy --version v0.1.1 --to deploy/
    trip-duration deploy --stage prod --to deploy/ --reviewed-on main   # as deploy.yml runs it

Resolves the stage or version with GTO, downloads the model at its commit (md5 checked against
dvc.lock there), writes it beside the manifest, then replaces `manifest.json` in one rename: a
service polling the folder switches to it (trip-duration serve --model-dir deploy/). The previous
model file stays, so the folder always holds what a service may still be serving. One deploy
writes to a folder at a time (a lock on the folder); each removes the temporary files that a
cancelled deploy left there. An unreadable manifest.json is named in one line, and nothing changes.
With --reviewed-on REF, a version whose commit is not in REF's history (never merged there) is
refused before anything is read from the DVC remote or written: a stage tag is an ordinary git tag
that anyone allowed to push tags can put on any commit.
Expected output:
    deploy: trip-duration v0.1.1 (prod) -> deploy/trip-duration-v0.1.1.joblib
"""

import argparse
import contextlib
import fcntl
import json
import os
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from trip_duration.errors import InputError, run
from trip_duration.files import write_text
from trip_duration_ops.catalog import pipeline_paths
from trip_duration_ops.registry import ARTIFACT, Located, download, locate, read_at
from trip_duration_ops.service.deployment import MANIFEST

KEEP = 2  # model files kept in the folder: the new one and the one it replaces
# Seconds from writing the manifest to the moment its model takes over in every process of the
# service: time for each to see the manifest (--poll-seconds, 2) and to load and probe the model.
LEAD_SECONDS = 5.0


def json_at(repo: str, path: str | None, rev: str) -> dict[str, Any]:
    """A JSON file of the pipeline's at `rev`; {} where the commit has none (an older layout)."""
    if path is None:
        return {}
    try:
        found = json.loads(read_at(repo, path, rev))
    except Exception:
        return {}
    return found if isinstance(found, dict) else {}


def describe(repo: str, located: Located, name: str, stage: str | None) -> dict[str, Any]:
    """The manifest: which model, from which commit, trained on what, scoring what."""
    params = yaml.safe_load(read_at(repo, "params.yaml", located.rev)) or {}
    data = params.get("data") or {}
    try:
        paths = pipeline_paths(yaml.safe_load(read_at(repo, "dvc.yaml", located.rev)) or {})
    except Exception:  # an older layout: the model still serves, without them in its manifest
        paths = {}
    metrics, reference = (json_at(repo, paths.get(name), located.rev) for name in ("metrics", "reference"))
    return {
        "name": name,
        "version": located.version,
        "stage": stage,
        "commit": located.rev,
        "md5": located.md5,
        "file": f"{name}-{located.version}.joblib",
        "train_months": data.get("train_months"),
        "val_months": data.get("val_months"),
        "metrics": metrics,
        "reference": reference,  # what the service should see: its alerts compare with it
        "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def read_deployed(current: Path) -> dict[str, Any]:
    """The manifest in the folder ({} where there is none); an unreadable one is a one-line error."""
    if not current.exists():
        return {}
    try:
        manifest = json.loads(current.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(current, f"unreadable ({error}): fix or remove it, then deploy again") from None
    if not isinstance(manifest, dict):
        raise InputError(current, "not a JSON object: fix or remove it, then deploy again")
    return manifest


@contextlib.contextmanager
def deploying(folder: Path) -> Iterator[None]:
    """Hold the folder for one deploy at a time: the next one waits until this one is done."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released by the kernel, too, when a deploy is killed
        yield
    except BaseException:
        if made:
            with contextlib.suppress(OSError):  # nothing placed: the folder goes again
                folder.rmdir()
        raise
    finally:
        os.close(fd)


def remove_stale(folder: Path, name: str, started: float) -> list[Path]:
    """Remove the temporary files that cancelled deploys left (atomic_path's `.<file>.*.tmp`).

    Called while holding the folder (`deploying`), so no other deploy of this code is writing and
    each such file is a dead deploy's. Only files last written before this deploy started go: one
    that a deploy not taking the lock (older code) is still writing has a newer mtime and stays.
    """
    stale = []
    for pattern in (f".{name}-v*.joblib.*.tmp", f".{MANIFEST}.*.tmp"):
        for path in folder.glob(pattern):
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile: nothing to do
                if path.stat().st_mtime < started:
                    path.unlink()
                    stale.append(path)
    return stale


def prune(folder: Path, name: str, keep: set[str]) -> None:
    """Remove older model files, keeping the `KEEP` newest and those named in `keep`."""
    files = sorted(folder.glob(f"{name}-v*.joblib"), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in files[KEEP:]:
        if path.name not in keep:
            path.unlink()


def check_reviewed(repo: str, located: Located, name: str, ref: str) -> None:
    """Refuse a version whose commit is not reachable from `ref` in the clone `repo` (a path)."""
    parsed = urllib.parse.urlparse(repo)
    folder = parsed.path if parsed.scheme == "file" else repo

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", folder, *args], capture_output=True, text=True)

    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode != 0:
        raise InputError(repo, f"--reviewed-on {ref}: no such branch or commit in this clone")
    reachable = git("merge-base", "--is-ancestor", located.rev, ref)
    if reachable.returncode == 1:
        raise InputError(
            f"{name}@{located.version}",
            f"its commit {located.rev} is not on {ref}: only a version merged into {ref} is deployed;"
            " nothing was changed",
        )
    if reachable.returncode != 0:
        raise InputError(repo, f"git merge-base --is-ancestor {located.rev} {ref}: {reachable.stderr}")


def switch(folder: Path, manifest: dict[str, Any], lead: float = LEAD_SECONDS) -> dict[str, Any]:
    """Write the manifest in one rename, stamped with when its model takes over: the switch, made
    last, once the model file it names is in the folder."""
    at = datetime.fromtimestamp(time.time() + lead, UTC)  # counted from the switch, not the download
    manifest = {**manifest, "takes_over_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def deploy(
    repo: str,
    folder: Path,
    name: str,
    version: str | None,
    stage: str | None,
    reviewed_on: str | None = None,
    lead: float = LEAD_SECONDS,
) -> tuple[dict, bool]:
    """Place the model and its manifest; (manifest, whether anything changed)."""
    started = time.time()
    current = folder / MANIFEST
    read_deployed(current)  # before anything is fetched: a broken folder is named first
    located = locate(repo, version=version, stage=stage, name=name)
    if reviewed_on is not None:  # before anything is downloaded or written
        check_reviewed(repo, located, name, reviewed_on)
    manifest = describe(repo, located, name, stage)
    with deploying(folder):
        remove_stale(folder, name, started)
        before = read_deployed(current)
        if (before.get("version"), before.get("md5")) == (manifest["version"], manifest["md5"]):
            return before, False
        download(located, repo, folder / manifest["file"])
        manifest = switch(folder, manifest, lead)
        prune(folder, name, {manifest["file"], str(before.get("file"))})
    return manifest, True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=Path, required=True, help="the serving folder")
    parser.add_argument("--repo", default=".", help="a clone, path or URL of the repository (default: .)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", help="e.g. prod")
    which.add_argument("--version", help="e.g. v0.1.1")
    parser.add_argument("--name", default=ARTIFACT, help="artifact name in dvc.yaml (%(default)s)")
    parser.add_argument(
        "--reviewed-on",
        metavar="REF",
        help="deploy only a version whose commit is reachable from REF (e.g. main) in the clone --repo",
    )
    parser.add_argument(
        "--lead-seconds",
        type=float,
        default=LEAD_SECONDS,
        help="seconds until the model takes over in every process (%(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.lead_seconds < 86_400:  # NaN fails this too
        raise InputError("--lead-seconds", f"{args.lead_seconds:g}: seconds to come, from 0 to a day")
    if args.to.exists() and not args.to.is_dir():
        raise InputError(args.to, "is not a folder")
    if args.reviewed_on and urllib.parse.urlparse(args.repo).scheme not in ("", "file"):
        # A hosted repository's history would come through a clone made for the check: check in yours.
        raise InputError(args.repo, "--reviewed-on reads a local clone, not a URL: clone it, pass its path")
    manifest, changed = deploy(
        args.repo, args.to, args.name, args.version, args.stage, args.reviewed_on, args.lead_seconds
    )
    where = f" ({args.stage})" if args.stage else ""
    if changed:
        print(f"deploy: {args.name} {manifest['version']}{where} -> {args.to / manifest['file']}")
    else:
        print(f"deploy: {args.name} {manifest['version']}{where} is deployed already in {args.to}")


if __name__ == "__main__":
    run(main)
