"""Download a registered model by stage or version, checked against the md5 its commit recorded.

    trip-duration get --stage prod -o trip-duration.joblib
    trip-duration get --repo https://github.com/OWNER/nyc-taxi-duration.git --version v0.1.1

GTO's tags say which commit a version or stage points at; DVC reads the model file at that
commit from the DVC remote (a relative local-folder remote is found beside the repository).
Expected output:
    get: trip-duration v0.1.1 (prod) -> trip-duration.joblib, md5 ok
"""

import argparse

from trip_duration.errors import run
from trip_duration_ops.registry import ARTIFACT, download, locate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration get", description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".", help="a clone, path or URL of the repository (default: .)")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--stage", help="e.g. prod")
    which.add_argument("--version", help="e.g. v0.1.1")
    parser.add_argument("-o", "--out", default=f"{ARTIFACT}.joblib", help="output file (%(default)s)")
    parser.add_argument("--name", default=ARTIFACT, help="artifact name in dvc.yaml (%(default)s)")
    args = parser.parse_args(argv)
    located = locate(args.repo, version=args.version, stage=args.stage, name=args.name)
    download(located, args.repo, args.out)
    stage = f" ({args.stage})" if args.stage else ""
    print(f"get: {args.name} {located.version}{stage} -> {args.out}, md5 ok")


if __name__ == "__main__":
    run(main)
