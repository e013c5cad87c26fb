"""Write params.yaml's hand edits back into the conf/ files that define them (`params sync`).

Group switches edit conf/config.yaml's defaults list as text; values are set with ruamel.yaml
round-trips, so comments and key order in conf/ survive.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trip_duration.errors import InputError
from trip_duration.files import write_atomic
from trip_duration_ops.conf_diff import ABSENT, Difference, Source, show, survey


@dataclass(frozen=True)
class Edit:
    """A change to one conf/ file; `key` is the full dotted key, as in params.yaml."""

    source: Source
    key: str
    old: Any
    new: Any

    def __str__(self) -> str:
        where = f"{self.source.path}: {self.key}"
        if self.old is ABSENT:
            return f"{where} added: {show(self.new)}"
        if self.new is ABSENT:
            return f"{where} removed (was {show(self.old)})"
        return f"{where} {show(self.old)} -> {show(self.new)}"


def plan(found: list[Difference], stack: list[Source]) -> list[Edit]:
    """The file edits that make conf/ compose to params.yaml, removals first."""
    edits = []
    for difference in (difference for difference in found if not difference.group):
        key, mine = difference.key, difference.params
        if mine is ABSENT:  # from every file that sets it, or an earlier one shows through
            edits += [Edit(source, key, source.values[key], mine) for source in stack if key in source.values]
        else:
            edits.append(Edit(difference.source, key, difference.conf, mine))
    return sorted(edits, key=lambda edit: edit.new is not ABSENT)


def switch(text: str, group: str, old: str, new: str) -> str | None:
    """The primary config's text with `- group: old` made `- group: new`; None if not found."""
    entry = rf"^(\s*-\s*(?:(?:optional|override)\s+)?{re.escape(group)}(?:@\S+)?\s*:\s*)"
    pattern = re.compile(rf"{entry}{re.escape(old)}(?=\s*(?:#.*)?$)", re.MULTILINE)
    text, count = pattern.subn(lambda match: match.group(1) + new, text)
    return text if count == 1 else None


def styled(value: Any, old: Any = None) -> Any:
    """A value for ruamel.yaml in the style of the one it replaces, that Hydra reads back as is."""
    from omegaconf import OmegaConf
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    if isinstance(value, list):  # filled in place, so the list keeps its style and comment
        seq = old if isinstance(old, CommentedSeq) else CommentedSeq()
        seq[:] = [styled(item, old[0] if isinstance(old, list) and old else None) for item in value]
        if seq is not old:
            seq.fa.set_flow_style()  # conf/ writes lists in flow style
        return seq
    if isinstance(value, dict):
        return CommentedMap((key, styled(item)) for key, item in value.items())
    if not isinstance(value, str):
        return value
    if isinstance(old, DoubleQuotedScalarString | SingleQuotedScalarString):
        return type(old)(value)
    try:  # ruamel quotes by YAML 1.2, Hydra reads YAML 1.1: a plain `yes` would become true
        read = OmegaConf.to_container(OmegaConf.create(f"k: {value}"))
        plain = "\n" not in value and isinstance(read, dict) and read["k"] == value
    except Exception:
        plain = False
    return value if plain else DoubleQuotedScalarString(value)


def rewrite(path: Path, edits: list[Edit]) -> None:
    """Apply edits to one YAML file with ruamel.yaml, keeping its comments and key order."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()
    yaml.preserve_quotes, yaml.width = True, 4096
    tree = yaml.load(path.read_text(encoding="utf-8")) or CommentedMap()
    for edit in edits:
        package = edit.source.package
        parts = (edit.key.removeprefix(f"{package}.") if package else edit.key).split(".")
        if edit.new is ABSENT:
            unset(tree, parts)
            continue
        node = tree
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = CommentedMap()
            node = node[part]
        node[parts[-1]] = styled(edit.new, node.get(parts[-1]))
    write_atomic(path, lambda tmp: yaml.dump(tree, tmp))


def unset(tree: dict[str, Any], parts: list[str]) -> None:
    """Remove a nested key, and the mappings that it leaves empty."""
    head, *rest = parts
    if not rest:
        tree.pop(head, None)
    elif isinstance(tree.get(head), dict):
        unset(tree[head], rest)
        if not tree[head]:
            del tree[head]


def sync(conf: Path, params_path: Path, config_name: str, dry_run: bool) -> list[str]:
    """Write params.yaml's edits into conf/; returns one line per change."""
    found, stack = survey(conf, params_path, config_name)
    primary = conf / f"{config_name}.yaml"
    text = original = primary.read_text(encoding="utf-8")
    changes = []
    for difference in (difference for difference in found if difference.group):
        group, option, wanted = difference.group, difference.conf, difference.params
        if not difference.known:
            problem = f"{difference.key} is {wanted}, but there is no {conf / group}/{wanted}.yaml"
            raise InputError(params_path, problem)
        switched = switch(text, group, option, wanted)
        if switched is None:
            raise InputError(primary, f"no defaults line `- {group}: {option}` to change")
        text = switched
        changes.append(f"{primary}: defaults {group}: {option} -> {wanted}")
    edits = plan(found, stack)
    if not dry_run:
        if text != original:
            write_atomic(primary, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        for path in dict.fromkeys(edit.source.path for edit in edits):
            rewrite(path, [edit for edit in edits if edit.source.path == path])
    return changes + [str(edit) for edit in edits]
