"""Keep params.yaml and conf/ in step: `dvc exp run` recomposes params.yaml from conf/ each run.

A hand edit to params.yaml is silently lost on the next `dvc exp run` unless it is also
made in conf/ (`dvc repro` never composes). Run from the repository root:

    python -m stages.params check                      # one line per key that differs; exit 1
    python -m stages.params sync [--dry-run]           # write params.yaml edits into conf/
    python -m stages.params compose [model=ridge ...]  # write params.yaml from conf/ as DVC does

Each takes --conf, --params and --config-name (defaults: .dvc/config's [hydra] section).
`check` prints lines like
    model.alpha: params.yaml has 0.5, conf/model/ridge.yaml has 1.0
    model.name: params.yaml has ridge, conf/config.yaml picks model: linear
and `sync` one line per change, like
    conf/model/ridge.yaml: model.alpha 1.0 -> 0.5
"""

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.errors import InputError, run

ABSENT: Any = object()  # a key one side lacks (None is a real YAML value)
SELF = "_self_"


@dataclass(frozen=True)
class Layer:
    """One conf/ file as Hydra merges it: its keys, flattened, under its package."""

    path: Path
    group: str  # "model" for conf/model/*.yaml, "_self_" for the primary config's own keys
    package: str  # where the file's keys land: "model", or "" for `# @package _global_`
    values: dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """A key whose value in params.yaml differs from the composition of conf/."""

    key: str
    params: Any
    conf: Any
    layer: Layer  # the file that defines the key, or where a new key belongs
    group: str = ""  # set when params.yaml's `<group>.name` picks another option
    known: bool = True  # False when that option has no file in conf/


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {"dotted.key": value}; lists and empty mappings are values."""
    if not isinstance(tree, dict) or (prefix and not tree):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type: a stage sees 1 and 1.0, or true and 1, differently."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    return a == b


def show(value: Any) -> str:
    """A value as YAML flow text: ridge, 0.5, [2021-01, 2021-02], '1.0' for a string."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, width=10**6, sort_keys=False)
    return text.strip().removesuffix("\n...")


def load_mapping(path: Path) -> dict[str, Any]:
    """A YAML mapping read with OmegaConf's loader, as Hydra reads conf/."""
    import yaml
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        tree = OmegaConf.to_container(OmegaConf.load(path))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (OSError, yaml.YAMLError, OmegaConfBaseException) as error:
        raise InputError(path, str(error)) from None
    if not isinstance(tree, dict):
        raise InputError(path, "expected a mapping at the top level")
    return tree


def defaults(primary: dict[str, Any], path: Path) -> list[tuple[str, str | None, str | None]]:
    """The primary defaults list as (group, option, package); Hydra appends a missing _self_."""
    entries: list[tuple[str, str | None, str | None]] = []
    for entry in primary.get("defaults", []):
        options = [*entry.values()] if isinstance(entry, dict) else []
        if isinstance(entry, str):  # _self_, or a config beside the primary one
            entries.append((SELF, None, None) if entry == SELF else ("", entry, None))
        elif len(options) == 1 and not isinstance(options[0], list | dict):
            [(name, option)] = entry.items()
            group, _, package = re.sub(r"^(optional|override)\s+", "", name).partition("@")
            entries.append((group, None if option is None else str(option), package or None))
        else:
            raise InputError(path, f"unsupported defaults entry {entry}")
    return entries if (SELF, None, None) in entries else [*entries, (SELF, None, None)]


def layers(conf: Path, config_name: str, picks: dict[str, str]) -> list[Layer]:
    """conf/'s files in Hydra's merge order, with `picks` ({group: option}) replacing choices."""
    primary_path = conf / f"{config_name}.yaml"
    primary = load_mapping(primary_path)
    found = []
    for group, option, package in defaults(primary, primary_path):
        if group == SELF:
            own = {key: value for key, value in primary.items() if key != "defaults"}
            found.append(Layer(primary_path, SELF, "", flatten(own)))
        elif option is not None:
            path = conf / group / f"{picks.get(group, option)}.yaml"
            tree = load_mapping(path)
            header = re.match(r"(?:\s*#[^\n]*\n)*?\s*#\s*@package\s+(\S+)", path.read_text("utf-8"))
            package = package or (header.group(1) if header else "_group_")
            package = package.replace("_global_", "").replace("_group_", group.replace("/", "."))
            found.append(Layer(path, group, package, flatten(tree, package)))
    return found


def sources(stack: list[Layer]) -> dict[str, Layer]:
    """For each key, the last file in merge order that sets it."""
    return {key: layer for layer in stack for key in layer.values}


def merge(stack: list[Layer]) -> dict[str, Any]:
    """The flattened composition of the layers, before interpolation."""
    return {key: value for layer in stack for key, value in layer.values.items()}


def home(key: str, stack: list[Layer]) -> Layer:
    """The file a key new to conf/ belongs in: its group's chosen option, else the primary."""
    for layer in stack:
        under = [layer.group.replace("/", "."), layer.package or layer.group.replace("/", ".")]
        if layer.group not in ("", SELF) and all(f"{key}.".startswith(f"{p}.") for p in under):
            return layer
    return next(layer for layer in stack if layer.group == SELF)


def compare(params: dict[str, Any], composed: dict[str, Any], stack: list[Layer]) -> list[Difference]:
    """Every flattened key whose value differs between params.yaml and composed conf/."""
    defined = sources(stack)
    found = []
    for key in [*params, *(key for key in composed if key not in params)]:
        mine, theirs = params.get(key, ABSENT), composed.get(key, ABSENT)
        if not same(mine, theirs):
            found.append(Difference(key, mine, theirs, defined.get(key) or home(key, stack)))
    return found


def compose(conf: Path, config_name: str, overrides: list[str]) -> dict[str, Any]:
    """conf/ composed and resolved by Hydra, flattened: what `dvc exp run` writes."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(str(conf.resolve()), version_base=None):
            config = hydra_compose(config_name=config_name, overrides=overrides)
        return flatten(OmegaConf.to_container(config, resolve=True))
    except (HydraException, OmegaConfBaseException) as error:
        raise InputError(conf, str(error)) from None


def survey(conf: Path, params_path: Path, config_name: str) -> tuple[list[Difference], list[Layer]]:
    """The group options params.yaml picks differently, then the keys that differ under them."""
    params = flatten(load_mapping(params_path))
    primary = Layer(conf / f"{config_name}.yaml", SELF, "", {})
    choices, picks = [], {}
    for layer in layers(conf, config_name, {}):
        key, option = f"{layer.group.replace('/', '.')}.name", layer.path.stem
        wanted = str(params.get(key, option))
        if layer.group not in ("", SELF) and wanted != option:
            known = (conf / layer.group / f"{wanted}.yaml").is_file()
            choices.append(Difference(key, wanted, option, primary, layer.group, known))
            picks.update({layer.group: wanted} if known else {})
    stack = layers(conf, config_name, picks)
    composed = compose(conf, config_name, [f"{group}={option}" for group, option in picks.items()])
    unknown = {choice.key for choice in choices if not choice.known}  # reported once, as a choice
    found = [difference for difference in compare(params, composed, stack) if difference.key not in unknown]
    return choices + found, stack


def line(difference: Difference, params_path: Path, conf: Path) -> str:
    """One line of `check` output."""
    key, mine, theirs, path = difference.key, difference.params, difference.conf, difference.layer.path
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
    parser = argparse.ArgumentParser("python -m stages.params", description=(__doc__ or "").split("\n")[0])
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
        from dvc.utils.hydra import compose_and_dump
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        try:  # DVC's own function, so the file is byte for byte what `dvc exp run` writes
            compose_and_dump(params_path, str(conf.resolve()), None, config_name, "", args.overrides)
        except (HydraException, OmegaConfBaseException) as error:
            raise InputError(conf, str(error)) from None
        print(f"wrote {params_path} from {conf}/ {' '.join(args.overrides)}".rstrip())
        return
    if args.command == "sync":
        from stages.conf_sync import sync

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
    advice = "`python -m stages.params sync` keeps these edits, `compose` drops them"
    print(advice if args.command == "check" else "sync could not write these into conf/", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    run(main)
