"""params.yaml against conf/ with real git and DVC: `dvc exp run` keeps synced edits, drops others.

The rest of these tests are in-process unit tests now: tests/unit/test_params.py.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    "DVC_NO_ANALYTICS": "1",
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`python -m stages.params ARGS` in `cwd`, output captured."""
    command = [sys.executable, "-m", "stages.params", *args]
    return subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True)


def sh(*args: str, cwd: Path) -> str:
    """A command that must succeed (git, dvc); its stdout."""
    done = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def edit_params(root: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Edit params.yaml by hand, as a user would; returns the new contents."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def test_dvc_exp_run_keeps_synced_edits_and_drops_others(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(CONF, repo / "conf")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh(sys.executable, "-m", "dvc", "init", "-q", cwd=repo)
    (repo / ".dvc/config").write_text("[core]\n    autostage = true\n[hydra]\n    enabled = true\n")
    show = (
        "import yaml; m = yaml.safe_load(open('params.yaml'))['model']; open('model.txt', 'w').write(repr(m))"
    )
    stage = {"cmd": f'python -c "{show}"', "params": ["model"], "outs": ["model.txt"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"show": stage}}))
    assert cli("compose", cwd=repo).returncode == 0
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "pipeline", cwd=repo)

    def fit_intercept() -> tuple[bool, str]:
        params = yaml.safe_load((repo / "params.yaml").read_text())
        return params["model"]["fit_intercept"], (repo / "model.txt").read_text()

    def no_intercept(params: dict[str, Any]) -> None:
        params["model"]["fit_intercept"] = False

    edit_params(repo, no_intercept)
    sh(sys.executable, "-m", "dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert kept is True and "'fit_intercept': True" in seen  # the edit was silently lost

    edit_params(repo, no_intercept)
    assert cli("sync", cwd=repo).stdout == "conf/model/linear.yaml: model.fit_intercept true -> false\n"
    assert cli("compose", "--params", "composed.yaml", cwd=repo).returncode == 0
    sh(sys.executable, "-m", "dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert kept is False and "'fit_intercept': False" in seen
    assert (repo / "params.yaml").read_bytes() == (repo / "composed.yaml").read_bytes()
