"""Each part of the repository imports only what pyproject.toml installs for it: the library only the
core, the stages and the tools the `pipeline` extra, the service `serve`, the benchmarks `bench`.

Every import counts, deferred into a function or not: a missing module fails when the function runs.
The distribution behind a module name is looked up in this (dev) environment, which has them all.
"""

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest

from trip_duration_ops.extras import REQUIREMENT, normalized, requirements_of

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
FIRST_PARTY = {"bench", "stages", "trip_duration", "trip_duration_ops"}

# A folder or file -> the extras its imports may come from, beside the core; the longest path wins.
PARTS = {
    "trip_duration": (),
    "trip_duration/cluster.py": ("dask",),  # compute=dask: the stages as clients of a cluster
    "stages": ("pipeline",),
    "trip_duration_ops": ("pipeline",),
    "trip_duration_ops/drift_report.py": ("pipeline", "monitor"),  # Evidently's HTML report
    "trip_duration_ops/serve.py": ("serve",),
    "trip_duration_ops/service": ("serve",),
    "bench": ("bench",),
}


def declared(extras: tuple[str, ...]) -> set[str]:
    """The distributions the core and `extras` install, as pip reads them from the package's metadata."""
    requires = [
        *PROJECT["dependencies"],
        *(
            f'{line}; extra == "{extra}"'
            for extra, lines in PROJECT["optional-dependencies"].items()
            for line in lines
        ),
    ]
    core = {normalized(match[1]) for line in PROJECT["dependencies"] if (match := REQUIREMENT.match(line))}
    return core.union(*(requirements_of(requires, extra) for extra in extras))


def third_party(path: Path) -> set[str]:
    """The top-level names of the modules a file imports that are neither the standard library nor ours."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}


def part_of(path: Path) -> tuple[str, ...]:
    relative = path.relative_to(ROOT).as_posix()
    prefixes = [part for part in PARTS if relative == part or relative.startswith(part + "/")]
    return PARTS[max(prefixes, key=len)]


SOURCES = sorted(path for part in FIRST_PARTY for path in (ROOT / part).rglob("*.py"))


@pytest.fixture(scope="module")
def distributions() -> dict[str, list[str]]:
    """Top-level module name -> the installed distributions that provide it."""
    return dict(importlib.metadata.packages_distributions())


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_import_is_a_declared_dependency(path: Path, distributions: dict[str, list[str]]) -> None:
    allowed = declared(part_of(path))
    for name in sorted(third_party(path)):
        providers = {normalized(dist) for dist in distributions.get(name, [])}
        assert providers, f"{name}: no installed distribution provides it"
        assert providers & allowed, (
            f"{name} ({', '.join(sorted(providers))}) is not in {part_of(path) or 'the core'}"
        )


def test_the_library_needs_none_of_the_toolchain() -> None:
    core = declared(())
    assert not core & {"dvc", "gto", "hydra-core", "fastapi", "evidently", "vl-convert-python", "jinja2"}
