"""The repository's record read straight from git objects: commits, refs and files at any commit.

One `git cat-file --batch` process answers every `rev:path` lookup, so a history of hundreds of
commits costs one process, not one `git show` (or one DVC repository) per file.
"""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from trip_duration.errors import InputError

FIELDS = "%H%x00%P%x00%aI%x00%an%x00%s"


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    time: str  # ISO 8601 with the author's offset
    author: str
    subject: str


def git(repo: Path, *args: str) -> str:
    """A git command's output; a failure is one line naming the repository."""
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        problem = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise InputError(repo, f"git {' '.join(args[:2])}: {problem}")
    return done.stdout


def commits(repo: Path, rev: str, limit: int | None = None) -> list[Commit]:
    """The commits of `rev`'s own line (first parents), oldest first; the last `limit` of them."""
    flags = ["--reverse"] if limit is None else [f"--max-count={limit}"]
    lines = git(repo, "log", "--first-parent", *flags, f"--format={FIELDS}", rev, "--").splitlines()
    lines = lines if limit is None else lines[::-1]
    found = []
    for line in lines:
        sha, parents, time, author, subject = line.split("\0")
        found.append(Commit(sha, tuple(parents.split()), time, author, subject))
    return found


def refs(repo: Path, *patterns: str) -> dict[str, str]:
    """Ref name -> commit sha for the refs under `patterns` (e.g. refs/heads, refs/exps)."""
    lines = git(repo, "for-each-ref", "--format=%(refname)%00%(objectname)", *patterns).splitlines()
    return dict(line.split("\0") for line in lines)


def merged(repo: Path, rev: str, into: str) -> bool:
    """Whether `rev` is in the history of `into`."""
    done = subprocess.run(["git", "merge-base", "--is-ancestor", rev, into], cwd=repo, capture_output=True)
    return done.returncode == 0


class Blobs:
    """Files as committed, `read(rev, path)`, through one long-lived `git cat-file --batch`."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.process = subprocess.Popen(
            ["git", "cat-file", "--batch"], cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.cache: dict[tuple[str, str], str | None] = {}

    def read(self, rev: str, path: str) -> str | None:
        """The text of `path` at `rev`; None where the commit has no such file."""
        key = (rev, path)
        if key not in self.cache:
            assert self.process.stdin and self.process.stdout
            self.process.stdin.write(f"{rev}:{path}\n".encode())
            self.process.stdin.flush()
            header = self.process.stdout.readline().decode().split()
            if len(header) != 3:  # "<rev>:<path> missing"
                self.cache[key] = None
            else:
                body = self.process.stdout.read(int(header[2]) + 1)[:-1]  # the object, then a newline
                self.cache[key] = body.decode("utf-8") if header[1] == "blob" else None
        return self.cache[key]

    def names(self, rev: str, folder: str) -> list[str]:
        """File names directly in `folder` at `rev`; none where it has no such folder."""
        tree = f"{rev}:" if folder in ("", ".") else f"{rev}:{folder}"
        done = subprocess.run(
            ["git", "ls-tree", "--name-only", tree],
            cwd=self.repo,
            capture_output=True,
            text=True,
        )
        return done.stdout.split() if done.returncode == 0 else []

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait()

    def __enter__(self) -> "Blobs":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
