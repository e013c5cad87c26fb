"""Read one section of params.yaml and hand its keys to a function as keyword arguments."""

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from stages.errors import InputError


def read_yaml(path: str | Path, what: str = "it") -> dict[str, Any]:
    """A YAML file's content (empty as {}); unreadable or invalid is a one-line error."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise InputError(path, f"cannot read {what} ({error})") from error


def read_section(params_path: str | Path, section: str) -> dict[str, Any]:
    """Return params.yaml's `section` as a dict."""
    params = read_yaml(params_path, "parameters")
    if not isinstance(params.get(section), dict):
        raise InputError(params_path, f"has no '{section}' section")
    return params[section]


def check_keys(func: Callable[..., Any], values: dict[str, Any], where: str, params_path: str | Path) -> None:
    """Fail with one line when `values` has a key that `func` does not take, or lacks one it needs."""
    try:
        inspect.signature(func).bind(**values)
    except TypeError as error:
        raise InputError(params_path, f"{where}: {error}") from error
