"""Keep params.yaml and conf/ in step: `dvc exp run` recomposes params.yaml from conf/ each run.

A hand edit to params.yaml is silently lost on the next `dvc exp run` unless it is also made in
conf/ (`dvc repro` never composes). Run from the repository root:

    trip-duration params check                      # one line per key that differs; exit 1
    trip-duration params sync [--dry-run]           # write params.yaml edits into conf/
    trip-duration params compose [model=ridge ...]  # write params.yaml from conf/ as DVC does

Composing is Hydra's, through DVC's own call (`dvc.utils.hydra.compose_and_dump`), so `check`
compares params.yaml with exactly what `dvc exp run` would write. Which conf/ file sets a key
comes from Hydra's own defaults list. Each command takes --conf, --params and --config-name
(defaults: .dvc/config's [hydra] section). `check` prints lines like
    model.alpha: params.yaml has 0.5, conf/model/ridge.yaml has 1.0
    model.name: params.yaml has ridge, conf/config.yaml picks model: linear
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from trip_duration.errors import InputError, run
from trip_duration_ops.conf_diff import ABSENT, Difference, compose, show, survey
from trip_duration_ops.conf_sync import sync


def line(difference: Difference, params_path: Path, conf: Path) -> str:
    """One line of `check` output."""
    key, mine, theirs, path = difference.key, difference.params, difference.conf, difference.source.path
    if difference.group:
        missing = "" if difference.known else f"; there is no {conf / difference.group}/{mine}.yaml"
        return f"{key}: {params_path} has {mine}, {path} picks {difference.group}: {theirs}{missing}"
    if mine is ABSENT:
        return f"{key}: missing from {params_path}, {path} has {show(theirs)}"
    if theirs is ABSENT:
        return f"{key}: {params_path} has {show(mine)}, not in {conf}/; add it to {path}"
    return f"{key}: {params_path} has {show(mine)}, {path} has {show(theirs)}"


def arguments(argv: list[str] | None) -> argparse.Namespace:
    """Subcommands and options; defaults come from .dvc/config's [hydra] section, as in DVC."""
    from configobj import ConfigObj, ConfigObjError

    hydra: dict[str, Any] = {}
    for path in (Path(".dvc/config"), Path(".dvc/config.local")):
        try:
            hydra.update(ConfigObj(str(path)).get("hydra", {}) if path.is_file() else {})
        except ConfigObjError as error:
            raise InputError(path, str(error)) from None
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--conf", type=Path, default=Path(hydra.get("config_dir", "conf")), help="%(default)s"
    )
    common.add_argument("--params", type=Path, default=Path("params.yaml"), help="%(default)s")
    common.add_argument("--config-name", default=hydra.get("config_name", "config"), help="%(default)s")
    parser = argparse.ArgumentParser("trip-duration params", description=(__doc__ or "").split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", parents=[common], help="list the keys where params.yaml and conf/ differ")
    sync_command = commands.add_parser("sync", parents=[common], help="write params.yaml edits into conf/")
    sync_command.add_argument("--dry-run", action="store_true", help="print the changes only")
    compose_command = commands.add_parser("compose", parents=[common], help="write params.yaml from conf/")
    compose_command.add_argument("overrides", nargs="*", help="Hydra overrides, as `dvc exp run -S`")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    conf, params_path, config_name = args.conf, args.params, args.config_name
    if args.command == "compose":
        compose(conf, config_name, args.overrides, params_path)
        print(f"wrote {params_path} from {conf}/ {' '.join(args.overrides)}".rstrip())
        return
    if args.command == "sync":
        changes = sync(conf, params_path, config_name, args.dry_run)
        print("\n".join(changes or [f"{params_path} matches {conf}/; nothing to sync"]))
        if args.dry_run or not changes:
            return
    found, _ = survey(conf, params_path, config_name)
    if not found:
        if args.command == "check":
            print(f"{params_path} matches {conf}/")
        return
    print("\n".join(line(difference, params_path, conf) for difference in found))
    advice = "`trip-duration params sync` keeps these edits, `compose` drops them"
    print(advice if args.command == "check" else "sync could not write these into conf/", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    run(main)
