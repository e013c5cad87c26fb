"""Commits into a git repository through one `git fast-import`, and this pipeline's files to start from."""

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.make_months import ROOT
from bench.project import PROJECT_FILES, sh

# What a copy of the pipeline needs besides PROJECT_FILES: its lock, data, reports and DVC config.
PIPELINE_FILES = (
    *PROJECT_FILES,
    "dvc.lock",
    "data.dvc",
    "reports",
    ".dvc/config",
    ".dvc/plots",
    ".dvcignore",
)
AUTHOR = "bench <bench@example.com>"


@dataclass(frozen=True)
class Commit:
    """A commit to make: `files` changed from its parent (a key of an earlier Commit, or a sha)."""

    key: int
    ref: str
    message: str
    files: dict[str, bytes]
    parent: int | str | None
    when: int  # seconds since the epoch, UTC


def source_files(root: Path = ROOT) -> dict[str, bytes]:
    """The pipeline's files as committed at HEAD of `root`."""
    listed = sh("git", "ls-tree", "-r", "-z", "--name-only", "HEAD", "--", *PIPELINE_FILES, cwd=root)
    paths = [path for path in listed.split("\0") if path]
    request = "".join(f"HEAD:{path}\n" for path in paths).encode()
    batch = subprocess.run(
        ["git", "cat-file", "--batch"], cwd=root, input=request, capture_output=True, check=True
    )
    found, at = {}, 0
    for path in paths:
        header_end = batch.stdout.index(b"\n", at)
        size = int(batch.stdout[at:header_end].split()[2])
        found[path] = batch.stdout[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1  # the content, then a newline
    return found


def _data(content: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(content), content)


def stream(commits: list[Commit]) -> bytes:
    """The fast-import stream: commit i gets mark i + 1."""
    marks = {commit.key: index + 1 for index, commit in enumerate(commits)}
    parts = []
    for commit in commits:
        parts.append(f"commit {commit.ref}\nmark :{marks[commit.key]}\n".encode())
        parts.append(
            f"author {AUTHOR} {commit.when} +0000\ncommitter {AUTHOR} {commit.when} +0000\n".encode()
        )
        parts.append(_data(commit.message.encode()))
        if isinstance(commit.parent, int):
            parts.append(f"from :{marks[commit.parent]}\n".encode())
        elif commit.parent is not None:
            parts.append(f"from {commit.parent}\n".encode())
        for path, content in commit.files.items():
            parts.append(f"M 100644 inline {path}\n".encode() + _data(content))
    return b"".join(parts)


def fast_import(repo: Path, commits: list[Commit], checkout: bool = True) -> dict[int, str]:
    """Make the commits in `repo` (a new repository on main when missing); their shas by key.
    With `checkout`, the work tree is main's tip afterwards."""
    if not repo.exists():
        repo.mkdir(parents=True)
        sh("git", "init", "-q", "-b", "main", cwd=repo)
        sh("git", "config", "user.name", "bench", cwd=repo)  # the tagger of GTO's tags
        sh("git", "config", "user.email", "bench@example.com", cwd=repo)
    with tempfile.TemporaryDirectory() as tmp:
        marks = Path(tmp) / "marks"
        command = ["git", "fast-import", "--quiet", f"--export-marks={marks}"]
        done = subprocess.run(command, cwd=repo, input=stream(commits), capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"git fast-import failed in {repo}:\n{done.stderr.decode()}")
        by_mark = dict(line.split() for line in marks.read_text().splitlines())
    if checkout:
        sh("git", "reset", "-q", "--hard", "main", cwd=repo)
    return {commit.key: by_mark[f":{index + 1}"] for index, commit in enumerate(commits)}
