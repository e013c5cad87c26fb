"""params.yaml against conf/ with real git and DVC: `dvc exp run` keeps synced edits and drops others.

`dvc exp run` composes params.yaml from conf/ (Hydra) before it runs, so a hand edit of params.yaml
survives only once `trip-duration params sync` has written it into conf/. The rest is in-process:
tests/unit/test_params.py.
"""

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from conftest import ROOT, sh

SHOW = "import yaml; m = yaml.safe_load(open('params.yaml'))['model']; open('model.txt', 'w').write(repr(m))"


def edit_params(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Edit params.yaml by hand, as a user would."""
    params = yaml.safe_load((root / "params.yaml").read_text())
    change(params)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def no_intercept(params: dict[str, Any]) -> None:
    params["model"]["fit_intercept"] = False


def test_dvc_exp_run_keeps_synced_edits_and_drops_others(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "conf", repo / "conf")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    (repo / ".dvc/config").write_text("[core]\n    autostage = true\n[hydra]\n    enabled = true\n")
    stage = {"cmd": f'python -c "{SHOW}"', "params": ["model"], "outs": ["model.txt"]}
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"show": stage}}))
    sh("trip-duration", "params", "compose", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-qm", "pipeline", cwd=repo)

    def fit_intercept() -> tuple[bool, str]:
        params = yaml.safe_load((repo / "params.yaml").read_text())
        return params["model"]["fit_intercept"], (repo / "model.txt").read_text()

    edit_params(repo, no_intercept)
    sh("dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert (kept, "'fit_intercept': True" in seen) == (True, True)  # the edit was silently lost

    edit_params(repo, no_intercept)
    synced = sh("trip-duration", "params", "sync", cwd=repo)
    assert (synced.stdout, synced.stderr) == (
        "conf/model/linear.yaml: model.fit_intercept true -> false\n",
        "",
    )
    sh("trip-duration", "params", "compose", "--params", "composed.yaml", cwd=repo)
    sh("dvc", "exp", "run", "-q", cwd=repo)
    kept, seen = fit_intercept()
    assert (kept, "'fit_intercept': False" in seen) == (False, True)
    assert (repo / "params.yaml").read_bytes() == (repo / "composed.yaml").read_bytes()
