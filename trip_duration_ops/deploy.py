"""Deploy a registered model to a serving folder: fetched through DVC, checked, placed atomically.

    trip-duration deploy --stage prod --to deploy/ [--repo .]
    trip-duration deploy --version v0.1.1 --to deploy/

Resolves the stage or version with GTO, downloads the model at its commit (md5 checked against
dvc.lock there), writes it beside the manifest, then replaces `manifest.json` in one rename: a
service polling the folder switches to it (trip-duration serve --model-dir deploy/). The previous
model file stays, so the folder always holds what a service may still be serving.
Expected output:
    deploy: trip-duration v0.1.1 (prod) -> deploy/trip-duration-v0.1.1.joblib
"""

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from trip_duration.catalog import pipeline_paths
from trip_duration.errors import InputError, run
from trip_duration.files import write_text
from trip_duration.registry import ARTIFACT, Located, download, locate, read_at
from trip_duration_ops.service.deployment import MANIFEST

KEEP = 2  # model files kept in the folder: the new one and the one it replaces
# Seconds from writing the manifest to the moment its model takes over in every process of the
# service: time for each to see the manifest (--poll-seconds, 2) and to load and probe the model.
LEAD_SECONDS = 5.0


def describe(repo: str, located: Located, name: str, stage: str | None) -> dict[str, Any]:
    """The manifest: which model, from which commit, trained on what, scoring what."""
    params = yaml.safe_load(read_at(repo, "params.yaml", located.rev)) or {}
    data = params.get("data") or {}
    try:
        paths = pipeline_paths(yaml.safe_load(read_at(repo, "dvc.yaml", located.rev)) or {})
        metrics = json.loads(read_at(repo, paths["metrics"], located.rev))
    except Exception:  # an older layout: the model still serves, without them in its manifest
        metrics = {}
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
        "deployed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def prune(folder: Path, name: str, keep: set[str]) -> None:
    """Remove older model files, keeping the `KEEP` newest and those named in `keep`."""
    files = sorted(folder.glob(f"{name}-v*.joblib"), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in files[KEEP:]:
        if path.name not in keep:
            path.unlink()


def deploy(
    repo: str, folder: Path, name: str, version: str | None, stage: str | None, lead: float = LEAD_SECONDS
) -> tuple[dict, bool]:
    """Place the model and its manifest; (manifest, whether anything changed)."""
    located = locate(repo, version=version, stage=stage, name=name)
    manifest = describe(repo, located, name, stage)
    current = folder / MANIFEST
    if current.is_file():
        before = json.loads(current.read_text(encoding="utf-8"))
        if (before.get("version"), before.get("md5")) == (manifest["version"], manifest["md5"]):
            return before, False
    else:
        before = {}
    download(located, repo, folder / manifest["file"])
    at = datetime.fromtimestamp(time.time() + lead, UTC)  # counted from the switch, not the download
    manifest["takes_over_at"] = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    write_text(current, json.dumps(manifest, indent=2) + "\n")  # last: the switch
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
        "--lead-seconds",
        type=float,
        default=LEAD_SECONDS,
        help="seconds until the model takes over in every process (%(default)s)",
    )
    args = parser.parse_args(argv)
    if args.to.exists() and not args.to.is_dir():
        raise InputError(args.to, "is not a folder")
    manifest, changed = deploy(args.repo, args.to, args.name, args.version, args.stage, args.lead_seconds)
    where = f" ({args.stage})" if args.stage else ""
    if changed:
        print(f"deploy: {args.name} {manifest['version']}{where} -> {args.to / manifest['file']}")
    else:
        print(f"deploy: {args.name} {manifest['version']}{where} is deployed already in {args.to}")


if __name__ == "__main__":
    run(main)
