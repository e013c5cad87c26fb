"""git and gh as the GitOps tools run them: one error line on failure, and the few questions they ask."""

import subprocess
from pathlib import Path
from typing import Any

import yaml

from trip_duration.errors import InputError


def tool(name: str, *args: str) -> str:
    """A command-line tool's stdout; a failure is one error line naming its command (`gh pr create`)."""
    done = subprocess.run([name, *args], capture_output=True, text=True)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or [f"exit code {done.returncode}"]
        words = [arg for arg in args if not arg.startswith("-")][: 2 if name == "gh" else 1]
        raise InputError(" ".join([name, *words]), lines[-1])
    return done.stdout.strip()


def git(*args: str) -> str:
    """git's stdout; a failure is one error line (`git push: ...`)."""
    return tool("git", *args)


def rev(name: str) -> str | None:
    """The object `name` resolves to (e.g. `origin/retrain/2022-05^{tree}`); None where it does not."""
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", name], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def text_at(name: str, path: Path) -> str | None:
    """A file as committed at revision `name`; None where it did not exist."""
    done = subprocess.run(["git", "show", f"{name}:./{path.as_posix()}"], capture_output=True, text=True)
    return None if done.returncode else done.stdout


def yaml_at(name: str, path: Path) -> dict[str, Any] | None:
    """A YAML file as committed at revision `name`; None where it did not exist."""
    text = text_at(name, path)
    return None if text is None else yaml.safe_load(text) or {}


def changed_files() -> list[str]:
    """Tracked files that differ from HEAD, staged or not."""
    return git("diff", "--name-only", "HEAD").splitlines()
