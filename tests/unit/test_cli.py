"""The `trip-duration` command: usage, dispatch to each tool, and the console script itself."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from trip_duration_ops import cli, extras
from trip_duration_ops.cli import COMMANDS, EXTRAS, main, usage

ROOT = Path(__file__).resolve().parents[2]


def exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return exited.value.code


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([]) == 2
    assert capsys.readouterr() == (usage() + "\n", "")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_command_and_exits_0(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([flag]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[:3] == ["usage: trip-duration <command> [args]", "", "commands:"]
    width = max(map(len, COMMANDS))
    assert lines[3:] == [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    assert [line.split()[0] for line in lines[3:]] == list(COMMANDS)


def test_unknown_command_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["frobnicate", "--now"]) == 2
    assert capsys.readouterr() == ("", f"{usage()}\n\nerror: unknown command 'frobnicate'\n")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_is_shown_in_the_overview(command: str) -> None:
    assert f"\n    trip-duration {command} " in cli.__doc__


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_has_its_own_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: trip-duration ")


def test_arguments_reach_the_command_and_its_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code(["fetch", "2021-1"]) == 1
    assert capsys.readouterr() == ("", "error: 2021-1: not a month: expected YYYY-MM, like 2021-01\n")


@pytest.mark.parametrize(("command", "code"), [("score", 1), ("monitor", 2)])
def test_compute_dask_without_its_extra_is_the_tools_one_line(
    command: str,
    code: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["compute"] = yaml.safe_load((ROOT / "conf" / "compute" / "dask.yaml").read_text(encoding="utf-8"))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no model, no data: the extra is looked for first
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "trip_duration.cluster", raising=False)
    month = ["--month", "2021-02", "--out", "p.parquet"] if command == "score" else ["--months", "2021-02"]
    assert exit_code([command, *month, "--model", "model.joblib"]) == code
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert err.startswith(
        "error: params.yaml: compute=dask needs the dask extra: pip install 'nyc-taxi-duration[dask]'"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["params.yaml"]


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "trip-duration"
    done = subprocess.run([str(script)], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (2, usage() + "\n", "")


def test_each_command_needs_extras_that_pyproject_defines() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert list(EXTRAS) == list(COMMANDS)
    assert {extra for needed in EXTRAS.values() for extra in needed} <= set(project["optional-dependencies"])


def test_the_dev_environment_has_every_commands_extras() -> None:
    assert extras.missing(sorted({extra for needed in EXTRAS.values() for extra in needed})) == []


REQUIRES = [  # Requires-Dist lines as setuptools writes them
    "numpy>=2.0",
    'dvc<4,>=3.67; extra == "pipeline"',
    'ruamel.yaml>=0.18; extra == "pipeline"',
    'uvicorn[standard]>=0.30; extra == "serve"',
    'nyc-taxi-duration[pipeline,serve]; extra == "bench"',
    'Flask>=3; extra == "bench"',
    'pandas<3,>=2.2; python_version >= "3.11" and extra == "monitor"',
    'nyc-taxi-duration[bench,monitor]; extra == "dev"',
]


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ("pipeline", {"dvc", "ruamel-yaml"}),
        ("serve", {"uvicorn"}),
        ("bench", {"dvc", "ruamel-yaml", "uvicorn", "flask"}),
        ("dev", {"dvc", "ruamel-yaml", "uvicorn", "flask", "pandas"}),
        ("none", set()),
    ],
)
def test_an_extras_requirements_follow_our_own_extras(extra: str, names: set[str]) -> None:
    assert extras.requirements_of(REQUIRES, extra) == names


@pytest.mark.parametrize(
    ("origin", "line"),
    [
        ({}, "pip install 'nyc-taxi-duration[serve,monitor]'"),
        (
            {"url": "file:///home/me/nyc-taxi-duration", "dir_info": {"editable": True}},
            "pip install -e '/home/me/nyc-taxi-duration[serve,monitor]'",
        ),
        (
            {"url": "file:///tmp/src", "dir_info": {}},
            "pip install 'nyc-taxi-duration[serve,monitor] @ file:///tmp/src'",
        ),
        (
            {
                "url": "https://github.com/OWNER/nyc-taxi-duration",
                "vcs_info": {"vcs": "git", "commit_id": "0ab1"},
            },
            "pip install 'nyc-taxi-duration[serve,monitor] @ git+https://github.com/OWNER/nyc-taxi-duration'",
        ),
    ],
)
def test_the_install_line_installs_from_where_the_project_came(origin: dict, line: str) -> None:
    assert extras.install_line(["serve", "monitor"], origin) == line
