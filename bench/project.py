"""Throwaway copies of the project (git + DVC, own data/ folder) for timing `dvc repro`."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bench.make_months import ROOT

PROJECT_FILES = (
    ".gitignore",
    "conf",
    "stages",
    "trip_duration",
    "trip_duration_ops",
    "monitoring",
    "dvc.yaml",
    "params.yaml",
    "pyproject.toml",
    "constraints.txt",  # the workflows install with it
)


def project_env() -> dict[str, str]:
    """This venv's python and dvc first on PATH; the copy's own stage and library code, not this one's."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {
        **env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }


def sh(*command: str, cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, env=project_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# No analytics or update checks: nothing reaches for the network during timed runs or tests.
LOCAL_CONFIG = "[core]\n    analytics = false\n    check_update = false\n"
LINKED_CACHE = "[cache]\n    type = hardlink\n"


def make_project(
    dest: Path,
    data_files: Sequence[Path],
    data: dict[str, Any] | None = None,
    remote: Path | None = None,
    link: bool = False,
) -> Path:
    """A fresh git + DVC repo at `dest`: this pipeline, `data_files` added as data/, params `data`
    overridden, and a local DVC remote (committed in .dvc/config, so clones find it too).

    With `link`, for months by the hundred, the files are hard links and so is DVC's cache
    (`cache.type hardlink`, DVC's "Large Dataset Optimization"): the cache holds no second copy of
    the months or of the stages' outputs, 12.8 GiB for the decade."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    (dest / "data").mkdir()
    for path in data_files:
        (os.link if link else shutil.copy2)(path, dest / "data" / path.name)
    if data:
        update_params(dest, {"data": data})
    sh("git", "init", "-q", "-b", "main", cwd=dest)
    sh("dvc", "init", "-q", cwd=dest)
    shutil.copy2(ROOT / ".dvc" / "config", dest / ".dvc" / "config")
    shutil.copytree(ROOT / ".dvc" / "plots", dest / ".dvc" / "plots")  # dvc.yaml's custom templates
    shutil.copy2(ROOT / ".dvc" / "plots.html", dest / ".dvc" / "plots.html")  # the config's offline page
    remote = remote or dest.parent / f"{dest.name}-remote"
    sh("dvc", "remote", "modify", "local", "url", str(remote), cwd=dest)
    (dest / ".dvc" / "config.local").write_text(LOCAL_CONFIG + (LINKED_CACHE if link else ""))
    sh("dvc", "add", "-q", "data", cwd=dest)
    sh("git", "add", "-A", cwd=dest)
    sh("git", "commit", "-qm", "project", cwd=dest)
    return dest


def read_params(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))


def update_params(project: Path, sections: dict[str, dict[str, Any]]) -> None:
    """Set keys inside params.yaml sections; `dvc repro` reads params.yaml as it stands."""
    params = read_params(project)
    for section, values in sections.items():
        params[section] = {**params[section], **values}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def read_metrics(project: Path) -> dict[str, Any]:
    return json.loads((project / "reports" / "metrics.json").read_text(encoding="utf-8"))
