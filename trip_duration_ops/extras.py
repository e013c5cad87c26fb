"""Which of pyproject.toml's extras are installed, and the pip line that adds those missing.

The core installs the model's runtime only (`pip install git+https://github.com/OWNER/nyc-taxi-duration`).
`trip-duration` checks a command's extras before importing it, so that one missing is one line, not
an ImportError from deep inside, and nothing is half done. Standard library only: `publish-images`
runs with no dependency installed at all.
"""

import importlib.metadata
import json
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

DISTRIBUTION = "nyc-taxi-duration"

# `name[its extras] >=1; extra == "serve"`: the name, its extras, the extra of ours that it belongs to.
REQUIREMENT = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?[^;]*(?:;.*\bextra\s*==\s*['\"]([^'\"]+))?"
)


def normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares it: `ruamel.yaml` and `Ruamel_YAML` are `ruamel-yaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements_of(requirements: Iterable[str], extra: str) -> set[str]:
    """The distributions that `extra` adds (metadata's Requires-Dist lines), through those of our own
    extras that it names (`nyc-taxi-duration[pipeline,serve]`)."""
    parsed = [found.groups() for line in requirements if (found := REQUIREMENT.match(line))]
    names: set[str] = set()
    todo, seen = [extra], {extra}
    while todo:
        current = todo.pop()
        for name, extras, belongs in parsed:
            if belongs != current:
                continue
            if normalized(name) != DISTRIBUTION:
                names.add(normalized(name))
                continue
            for named in (item.strip() for item in (extras or "").split(",")):
                if named and named not in seen:
                    seen.add(named)
                    todo.append(named)
    return names


def installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def missing(extras: Sequence[str]) -> list[str]:
    """Those of `extras` with a distribution not installed; none when the project is not installed
    itself (run from a source tree), having nothing to read them from."""
    if not extras:
        return []  # no metadata read for a command that needs none
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [extra for extra in extras if not all(map(installed, requirements_of(requirements, extra)))]


def install_line(extras: list[str], origin: Mapping[str, Any]) -> str:
    """The `pip install` of `extras` from where the project came: `origin` is its PEP 610
    direct_url.json (a folder, editable or not, or a git URL), empty for an index."""
    wanted = f"[{','.join(extras)}]"
    url = origin.get("url", "")
    if origin.get("dir_info", {}).get("editable") and url.startswith("file:"):
        return f"pip install -e '{urllib.request.url2pathname(urllib.parse.urlparse(url).path)}{wanted}'"
    if "vcs_info" in origin:
        url = f"{origin['vcs_info']['vcs']}+{url}"
    return f"pip install '{DISTRIBUTION}{wanted} @ {url}'" if url else f"pip install '{DISTRIBUTION}{wanted}'"


def origin() -> dict[str, Any]:
    """This installation's direct_url.json, or {} (installed from an index, or not installed)."""
    try:
        text = importlib.metadata.distribution(DISTRIBUTION).read_text("direct_url.json")
        return json.loads(text or "{}")
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return {}


def needs(command: str, extras: list[str]) -> str:
    """`trip-duration serve needs the serve extra: pip install ...`, one line."""
    noun = "extra" if len(extras) == 1 else "extras"
    return (
        f"trip-duration {command} needs the {' and '.join(extras)} {noun}: {install_line(extras, origin())}"
    )
