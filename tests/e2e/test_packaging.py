"""The core install is the model's runtime: `pip install <repository>` with no extra, in a fresh venv,
loads and scores the pipeline's model file as the dev environment does, without the toolchain.

The venv installs from the package registry at constraints.txt's versions (pip's cache reused), non-editable
from a copy of this working tree, so what is tested is the built package, not the repository on sys.path.
"""

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, working_tree

from trip_duration.model import load_model

# What the extras bring, by import name: none of it may come with the core.
TOOLCHAIN = ("dvc", "gto", "hydra", "omegaconf", "jinja2", "markdown_it", "vl_convert", "stamina", "ruamel",
             "fastapi", "uvicorn", "evidently", "flask")  # fmt: skip
TRIPS = 2000  # validation trips scored on both sides

# In the core venv, in one process (see --no-compile below): the validation trips' predictions,
# then docs/gitops.md's snippet.
SCORE = """
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from trip_duration.model import load_model

model, val, rows, out, snippet = sys.argv[1:]
np.save(out, load_model(model).predict(pd.read_parquet(val).head(int(rows))))
exec(Path(snippet).read_text())
"""


@pytest.fixture(scope="module")
def model(reproduced: Path) -> Path:
    """The model file `dvc repro` wrote on the course months, the file a consumer downloads (read only)."""
    return reproduced / "models" / "trip-duration.joblib"


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A fresh venv with this project installed alone, no extra: (its bin/, the folder installed from)."""
    root = tmp_path_factory.mktemp("core")
    source = working_tree(root / "source")
    subprocess.run(["python3.11", "-m", "venv", root / "venv"], check=True)
    bin_dir = root / "venv" / "bin"
    # --no-compile: with PYTHONDONTWRITEBYTECODE set, compiling every module at install time costs
    # more than compiling, on import, those that the test's few processes use.
    pip = [bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-compile"]
    subprocess.run([*pip, "-c", source / "constraints.txt", source], check=True, env=outside(bin_dir))
    return bin_dir, source


def outside(bin_dir: Path) -> dict[str, str]:
    """The environment of a user of that venv: its bin/ first, nothing of this repository importable."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**environment, "PATH": f"{bin_dir}{os.pathsep}{environment['PATH']}"}


def in_core(core: tuple[Path, Path], *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    bin_dir, _ = core
    return subprocess.run(
        [bin_dir / args[0], *args[1:]], cwd=cwd, env=outside(bin_dir), capture_output=True, text=True
    )


def test_the_core_has_none_of_the_toolchain(core: tuple[Path, Path], tmp_path: Path) -> None:
    check = f"import importlib.util; print([m for m in {TOOLCHAIN!r} if importlib.util.find_spec(m)])"
    found = in_core(core, "python", "-c", check, cwd=tmp_path)
    assert (found.returncode, found.stdout) == (0, "[]\n"), found.stderr
    where = in_core(core, "python", "-c", "import trip_duration; print(trip_duration.__file__)", cwd=tmp_path)
    assert where.stdout.startswith(str(core[0].parent / "lib")), where.stdout  # the installed copy


def test_the_core_scores_the_pipelines_model_as_the_dev_environment_does(
    core: tuple[Path, Path],
    model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    val = model.parents[1] / "prepared" / "val.parquet"
    [snippet] = re.findall(
        r"```python\n(.*?)```", (ROOT / "docs" / "gitops.md").read_text(encoding="utf-8"), re.S
    )
    (tmp_path / "snippet.py").write_text(snippet)
    (tmp_path / "score.py").write_text(SCORE)
    (tmp_path / "trip-duration.joblib").write_bytes(model.read_bytes())  # where the snippet loads it from
    done = in_core(core, "python", "score.py", model, val, str(TRIPS), "core.npy", "snippet.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    expected = load_model(model).predict(pd.read_parquet(val).head(TRIPS))
    np.testing.assert_array_equal(np.load(tmp_path / "core.npy"), expected)
    monkeypatch.chdir(tmp_path)
    exec(snippet, {})
    assert done.stdout == capsys.readouterr().out  # the snippet's one line, here and there


# command -> its one line in the core venv, after `error: trip-duration <command> `.
LACKS = {
    "serve": "needs the serve extra: pip install 'nyc-taxi-duration[serve] @ {source}'",
    "fetch": "needs the pipeline extra: pip install 'nyc-taxi-duration[pipeline] @ {source}'",
    "monitor": "needs the pipeline and monitor extras:"
    " pip install 'nyc-taxi-duration[pipeline,monitor] @ {source}'",
}


@pytest.mark.parametrize("command", list(LACKS))
def test_a_command_names_the_extras_it_lacks(core: tuple[Path, Path], command: str, tmp_path: Path) -> None:
    done = in_core(core, "trip-duration", command, "--help", cwd=tmp_path)
    message = f"error: trip-duration {command} {LACKS[command].format(source=core[1].as_uri())}\n"
    assert (done.returncode, done.stdout, done.stderr) == (2, "", message)


def test_a_command_of_the_standard_library_runs_on_the_core(core: tuple[Path, Path], tmp_path: Path) -> None:
    done = in_core(core, "trip-duration", "publish-images", "--help", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("usage: trip-duration publish-images")
