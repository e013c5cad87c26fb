"""The next version of a model, from what each stage ran with in dvc.lock (command, md5 of every
dependency, params) at the previous version and at HEAD.

- first version: v0.1.0;
- minor when a stage upstream of the model changed (`prepare`): other data in data.dvc, months,
  cleaning, or its code, i.e. the model sees different trips;
- patch when only the stage that writes the model changed (`train`): features, estimator,
  hyperparameters, code;
- no new version when neither changed (docs, tests, `evaluate`), or when the model file's md5 is
  the previous version's (a month added to data/ outside the windows): HEAD's model is that version.
"""

from collections.abc import Iterable
from typing import Any

import yaml

from trip_duration.errors import InputError, one_line
from trip_duration_ops import registry
from trip_duration_ops.catalog import out_md5
from trip_duration_ops.gitops import git


def model_lineage(stages: dict[str, Any], model_path: str) -> tuple[str, set[str]]:
    """The dvc.lock stage that writes `model_path` and every stage upstream of it."""
    writers = {out["path"]: name for name, stage in stages.items() for out in stage.get("outs", [])}
    if model_path not in writers:
        raise ValueError(f"no stage writes {model_path}")
    upstream: set[str] = set()
    todo = [writers[model_path]]
    while todo:
        for dep in stages[todo.pop()].get("deps", []):
            writer = writers.get(dep["path"])
            if writer is not None and writer not in upstream:
                upstream.add(writer)
                todo.append(writer)
    return writers[model_path], upstream


def changed_stages(previous: dict[str, Any], head: dict[str, Any]) -> set[str]:
    """Stages whose recipe (command, dependencies with their md5, params) differs between two dvc.locks."""

    def recipe(stage: dict[str, Any] | None) -> tuple:
        stage = stage or {}
        return stage.get("cmd"), stage.get("deps"), stage.get("params")

    return {
        name for name in previous.keys() | head.keys() if recipe(previous.get(name)) != recipe(head.get(name))
    }


def bump_kind(changed: Iterable[str], model_stage: str, upstream: set[str]) -> str | None:
    """minor if the model's inputs changed, patch if only its own stage did, None if neither."""
    changed = set(changed)
    if changed & upstream:
        return "minor"
    return "patch" if model_stage in changed else None


def lock_at(rev: str) -> dict[str, Any]:
    """dvc.lock as committed at `rev`; one line naming the rev where git cannot show it.

    Never guessed empty: an empty lock at the previous version would read as "everything changed"
    and register a minor bump.
    """
    try:
        text = git("show", f"{rev}:dvc.lock")
    except InputError as error:  # git's own last line
        problem = f"cannot be read ({error.problem}); no version is registered"
        raise InputError(f"{rev}:dvc.lock", problem) from None
    try:
        lock = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{rev}:dvc.lock", f"not valid YAML ({one_line(error)})") from None
    return lock if isinstance(lock, dict) else {}


def choose_version(artifact: str, model_path: str) -> tuple[str | None, str, str | None]:
    """(version at HEAD or None, how HEAD's model follows from the previous version, bump or None)."""
    head_lock = lock_at("HEAD")
    try:
        model_stage, upstream = model_lineage(head_lock.get("stages", {}), model_path)
    except ValueError as error:
        raise InputError("dvc.lock", str(error)) from error
    at_head = registry.version_at(".", git("rev-parse", "HEAD"), artifact)
    previous = registry.latest_version(".", artifact)
    if at_head is not None:
        return at_head, "registered earlier", None
    if previous is None:
        return None, "first version", "minor"
    previous_lock = lock_at(f"{artifact}@{previous}")
    changed = changed_stages(previous_lock.get("stages", {}), head_lock.get("stages", {}))
    bump = bump_kind(changed, model_stage, upstream)
    if bump is None:
        return previous, f"model unchanged since {previous}", None
    if out_md5(head_lock, model_path) == out_md5(previous_lock, model_path):
        # e.g. a month added to data/ outside the windows: prepare ran again, to the same trips
        return previous, f"model unchanged since {previous} (same md5)", None
    return (
        None,
        f"{bump}: {', '.join(sorted(changed & (upstream | {model_stage})))} changed since {previous}",
        bump,
    )
