"""`trip-duration <command> [args]`: the one entry point for the tools people and CI run.

    trip-duration fetch [YYYY-MM ...]          # TLC months into data/, checked against data.dvc
    trip-duration params check|sync|compose    # params.yaml against conf/
    trip-duration report [--base main]         # the pull-request report and its RMSE gate
    trip-duration publish [--push]             # register, push and promote the model after a merge
    trip-duration get --stage prod -o FILE     # a registered model, checked against its record
    trip-duration release                      # GitHub releases for the versions at HEAD
    trip-duration publish-images report.md     # upload the report's plot images and link them
    trip-duration deploy --stage prod --to deploy/   # a registered model into a serving folder
    trip-duration serve --model-dir deploy/    # the HTTP service, switching as models are deployed
    trip-duration score --month 2023-04 --stage prod --out predictions.parquet
    trip-duration monitor --months 2023-04 [2023-05 ...] --stage prod   # is the model still good?
    trip-duration retrain check|propose        # new months to main; the retrain pull request
    trip-duration site [--out site]            # the static site: registry, experiments, monitoring, docs

`trip-duration <command> --help` describes each. Each is also `python -m trip_duration_ops.<module>`.
The core install has none of the tools' dependencies: a command whose extra is missing says, in one
line, which to install.
"""

import importlib
import sys

from trip_duration.errors import run
from trip_duration_ops import extras

# command -> (module, one line of help); modules are imported only when their command runs.
COMMANDS = {
    "fetch": ("trip_duration_ops.fetch", "fetch TLC months into data/, checked by md5 against data.dvc"),
    "params": ("trip_duration_ops.params_cli", "check, sync or compose params.yaml against conf/"),
    "report": ("trip_duration_ops.report", "the pull-request report against a base branch, and its gate"),
    "publish": ("trip_duration_ops.publish", "register, push and promote the model after a merge"),
    "get": ("trip_duration_ops.get", "download a registered model by stage or version"),
    "release": ("trip_duration_ops.release", "create the GitHub releases of the versions at HEAD"),
    "publish-images": ("trip_duration_ops.images", "upload a report's plot images and link them in it"),
    "deploy": ("trip_duration_ops.deploy", "place a registered model in a serving folder, checked"),
    "serve": ("trip_duration_ops.serve", "serve the deployed model over HTTP"),
    "score": ("trip_duration_ops.score", "predict every trip of a month (batch scoring)"),
    "monitor": ("trip_duration_ops.monitor", "score the model on new months: performance, drift, alert"),
    "retrain": ("trip_duration_ops.retrain", "the closed loop: check new months, propose the retrain PR"),
    "site": ("trip_duration_ops.site.build", "build the static site of the registry, experiments and docs"),
}

# command -> the extras of pyproject.toml it needs beside the core, found installed before it is imported.
# `monitor` and `score` need the dask extra only when their params file says `compute: dask`: it is
# looked for then, as the stages look for it (trip_duration.params.cluster_module), in one line.
EXTRAS: dict[str, tuple[str, ...]] = {command: ("pipeline",) for command in COMMANDS} | {
    "publish-images": (),  # the standard library only: pr-comment.yml installs no dependency
    "serve": ("serve",),
    "monitor": ("pipeline", "monitor"),  # Evidently's HTML report of each month
    "retrain": ("pipeline", "monitor"),  # `retrain check` monitors
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "usage: trip-duration <command> [args]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    command, *rest = argv
    if command not in COMMANDS:
        print(f"{usage()}\n\nerror: unknown command '{command}'", file=sys.stderr)
        sys.exit(2)
    if missing := extras.missing(EXTRAS[command]):
        print(f"error: {extras.needs(command, missing)}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(COMMANDS[command][0])
    run(module.main, rest)


if __name__ == "__main__":
    main()
