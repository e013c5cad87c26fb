"""params.yaml against conf/ composed as `dvc exp run` composes it: which keys differ, and where.

`survey` lists the group options and keys where params.yaml and conf/ differ, each with the conf/
file that sets it (from Hydra's own defaults list); `params check` prints them, `params sync`
(conf_sync) writes them into conf/. `compose` writes conf/ composed, byte for byte as DVC does.
"""

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from trip_duration.errors import InputError

ABSENT: Any = object()  # a key one side lacks (None is a real YAML value)


@dataclass(frozen=True)
class Source:
    """One conf/ file in Hydra's defaults list: its keys, flattened, under its package."""

    path: Path
    group: str  # "model" for conf/model/*.yaml, "" for the primary config
    package: str  # where the file's keys land: "model", or "" for `# @package _global_`
    values: dict[str, Any]


@dataclass(frozen=True)
class Difference:
    """A key whose value in params.yaml differs from the composition of conf/."""

    key: str
    params: Any
    conf: Any
    source: Source  # the file that sets the key, or where a new key belongs
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
        raise InputError(path, "is not a YAML mapping")
    return cast(dict[str, Any], tree)  # OmegaConf types keys as any YAML scalar; conf/'s are names


def hydra_errors() -> tuple[type[Exception], ...]:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    return HydraException, OmegaConfBaseException


def sources(conf: Path, config_name: str, overrides: list[str]) -> list[Source]:
    """conf/'s files in Hydra's merge order, as Hydra's own defaults list gives them."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    try:
        with initialize_config_dir(str(conf.resolve()), version_base=None):
            loader = GlobalHydra.instance().config_loader()
            found = loader.compute_defaults_list(config_name, overrides, RunMode.RUN).defaults
    except hydra_errors() as error:
        raise InputError(conf, str(error)) from None
    files = []
    for default in found:
        if default.config_path is None or default.config_path.split("/")[0] == "hydra":
            continue
        path = conf / f"{default.config_path}.yaml"
        tree = load_mapping(path)
        if default.primary:
            tree = {key: value for key, value in tree.items() if key != "defaults"}
        group = "" if default.primary else default.config_path.rpartition("/")[0]
        files.append(Source(path, group, default.package or "", flatten(tree, default.package or "")))
    return files


def compose(conf: Path, config_name: str, overrides: list[str], out: Path) -> None:
    """Write conf/ composed with `overrides` to `out`, byte for byte as `dvc exp run` does."""
    from dvc.utils.hydra import compose_and_dump

    try:
        compose_and_dump(out, str(conf.resolve()), None, config_name, "", overrides)
    except hydra_errors() as error:
        raise InputError(conf, str(error)) from None


def composed(conf: Path, config_name: str, overrides: list[str]) -> dict[str, Any]:
    """conf/ composed with `overrides`, flattened."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "params.yaml"
        compose(conf, config_name, overrides, out)
        return flatten(load_mapping(out))


def home(key: str, files: list[Source]) -> Source:
    """Where a key is set: the last file that sets it, else its group's file, else the primary."""
    setting = [source for source in files if key in source.values]
    if setting:
        return setting[-1]
    for source in files:
        if source.group and f"{key}.".startswith(f"{source.package or source.group.replace('/', '.')}."):
            return source
    return next(source for source in files if not source.group)


def survey(conf: Path, params_path: Path, config_name: str) -> tuple[list[Difference], list[Source]]:
    """The group options params.yaml picks differently, then the keys that differ under them."""
    params = flatten(load_mapping(params_path))
    files = sources(conf, config_name, [])
    primary = next(source for source in files if not source.group)
    choices, picks = [], []
    for source in (source for source in files if source.group):
        key, option = f"{source.group.replace('/', '.')}.name", source.path.stem
        wanted = str(params.get(key, option))
        if wanted != option:
            known = (conf / source.group / f"{wanted}.yaml").is_file()
            choices.append(Difference(key, wanted, option, primary, source.group, known))
            picks += [f"{source.group}={wanted}"] if known else []
    files = sources(conf, config_name, picks) if picks else files
    expected = composed(conf, config_name, picks)
    unknown = {choice.key for choice in choices if not choice.known}  # reported once, as a choice
    found = []
    for key in [*params, *(key for key in expected if key not in params)]:
        mine, theirs = params.get(key, ABSENT), expected.get(key, ABSENT)
        if key not in unknown and not same(mine, theirs):
            found.append(Difference(key, mine, theirs, home(key, files)))
    return choices + found, files
