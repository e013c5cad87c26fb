"""Read one section of params.yaml and hand its keys to a function as keyword arguments."""

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trip_duration.errors import InputError
from trip_duration.files import read_yaml


def read_section(params_path: str | Path, section: str) -> dict[str, Any]:
    """params.yaml's `section` as a dict."""
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
