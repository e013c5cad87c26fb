"""The model registry: versions and stages are git tags (GTO); model files come through DVC.

    trip-duration@v0.1.1    registers version v0.1.1 at a commit
    trip-duration#prod#3    assigns a version to the `prod` stage

`download` fetches a registered model by version or stage from any clone or URL of the
repository and checks it against the md5 that dvc.lock recorded at the version's commit.
"""

import contextlib
import hashlib
import tempfile
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import yaml

from trip_duration.errors import InputError, one_line
from trip_duration.files import atomic_path
from trip_duration.params import Params, parse_params
from trip_duration_ops.catalog import file_md5, out_md5

ARTIFACT = "trip-duration"
FIRST_VERSION = "v0.1.0"


@dataclass(frozen=True)
class Located:
    """Where a registered model lives: its version, the commit it was built at, its path there."""

    version: str
    rev: str
    path: str
    md5: str


def check_repo(repo: str | Path) -> None:
    """A local repository must be a folder under git; a URL is left to git to reach."""
    url = urllib.parse.urlparse(str(repo))
    if url.scheme not in ("", "file") or "@" in str(repo).split("/")[0]:  # https://, git@host:...
        return
    folder = Path(url.path if url.scheme == "file" else str(repo))
    if not folder.exists():
        raise InputError(repo, "no such repository: the folder does not exist")
    if not folder.is_dir():
        raise InputError(repo, "not a repository: it is a file, not a folder")
    from scmrepo.exceptions import SCMError
    from scmrepo.git import Git

    try:
        Git(str(folder)).close()
    except SCMError:
        raise InputError(repo, "not a git repository") from None


@contextlib.contextmanager
def reading(repo: str | Path, what: str) -> Iterator[None]:
    """git, GTO and DVC errors while reading the registry of `repo` become one line naming it."""
    from dvc.exceptions import DvcException
    from gto.exceptions import GTOException
    from scmrepo.exceptions import SCMError

    try:
        yield
    except (GTOException, SCMError, DvcException) as error:
        raise InputError(repo, f"{what} failed: {one_line(error)}") from None


def latest_version(repo: str | Path, name: str = ARTIFACT) -> str | None:
    """The highest registered version, e.g. v0.1.2; None before the first."""
    from gto.api import find_latest_version
    from gto.exceptions import ArtifactNotFound

    with reading(repo, f"finding the latest version of {name}"):
        try:
            found = find_latest_version(str(repo), name)
        except ArtifactNotFound:
            return None
    return found.version if found else None


def _registered(repo: str | Path, artifact: str, **which: str) -> Any:
    """GTO's registered version of `artifact` found by `which` (name= or commit_hexsha=), or None."""
    from gto.registry import GitRegistry

    with reading(repo, f"reading the registry of {artifact}"), GitRegistry.from_url(str(repo)) as registry:
        state = registry.get_state()
        if artifact not in state.get_artifacts():
            return None
        found = state.find_artifact(artifact).find_version(**which)
    return found if found is not None and found.is_registered else None


def version_at(repo: str | Path, commit: str, name: str = ARTIFACT) -> str | None:
    """The version registered at `commit` (a full sha), if any."""
    found = _registered(repo, name, commit_hexsha=commit)
    return None if found is None else found.version


def version_commit(repo: str | Path, version: str, name: str = ARTIFACT) -> str:
    """The commit (a full sha) a registered version was registered at."""
    found = _registered(repo, name, name=version)
    if found is None:
        raise InputError(repo, f"{name} has no registered version {version} (gto show {name})")
    return found.commit_hexsha


def stage_version(repo: str | Path, stage: str, name: str = ARTIFACT) -> str | None:
    """The version assigned to `stage` last, e.g. prod -> v0.1.1; None when none is."""
    from gto.api import find_versions_in_stage
    from gto.exceptions import ArtifactNotFound

    with reading(repo, f"finding {name} in stage '{stage}'"):
        try:
            found = find_versions_in_stage(str(repo), name, stage)
        except ArtifactNotFound:
            return None
    if isinstance(found, list):
        found = found[0] if found else None
    return found.version if found else None


class Bumps(TypedDict, total=False):
    """gto register's bump keywords."""

    bump_minor: bool
    bump_patch: bool


def register(repo: str | Path, ref: str, bump: str | None, message: str, name: str = ARTIFACT) -> str:
    """Register the next version at `ref` (GTO's own bump: "minor" or "patch"); v0.1.0 first."""
    from gto.api import register as gto_register

    first = latest_version(repo, name) is None
    bumps: Bumps = {} if first else {"bump_minor": bump == "minor", "bump_patch": bump == "patch"}
    with reading(repo, f"gto register {name} {ref}"):
        tag = gto_register(
            str(repo), name, ref, version=FIRST_VERSION if first else None, message=message, **bumps
        )
    return tag.version


def assign(repo: str | Path, version: str, stage: str, message: str, name: str = ARTIFACT) -> None:
    from gto.api import assign as gto_assign

    with reading(repo, f"gto assign {name} {version} to {stage}"):
        gto_assign(str(repo), name, stage, version=version, message=message)


def local_version(path: str | Path) -> str:
    """The version a model file outside the registry goes by: `local-` and its md5's first 8 digits."""
    return f"local-{file_md5(Path(path))[:8]}"


def read_at(repo: str | Path, path: str, rev: str) -> str:
    """A git-tracked file of the repository as committed at `rev`."""
    import dvc.api

    return dvc.api.read(path, repo=str(repo), rev=rev)


def remote_config(repo: str, rev: str) -> dict[str, Any] | None:
    """The default DVC remote at `rev` with a relative local folder made absolute.

    DVC resolves a relative remote against the temporary clone it reads a repository through,
    where the folder is not; resolved against the repository's own .dvc/ it is found.
    """
    from configobj import ConfigObj

    if urllib.parse.urlparse(repo).scheme not in ("", "file"):
        return None  # a hosted repository: its remote is a URL of its own
    config = ConfigObj(read_at(repo, ".dvc/config", rev).splitlines())
    default = config.get("core", {}).get("remote")
    url = config.get(f'remote "{default}"', {}).get("url") if default else None
    if not url or urllib.parse.urlparse(url).scheme or Path(url).is_absolute():
        return None
    folder = Path(urllib.parse.urlparse(repo).path if repo.startswith("file:") else repo)
    return {"url": str((folder.resolve() / ".dvc" / url).resolve())}


def locate(
    repo: str | Path, version: str | None = None, stage: str | None = None, name: str = ARTIFACT
) -> Located:
    """The registered model's commit and path, and the md5 dvc.lock records for it there."""
    repo = str(repo)
    check_repo(repo)
    if stage is not None:
        version = stage_version(repo, stage, name)
        if version is None:
            raise InputError(repo, f"no version of {name} is in stage '{stage}' (gto show {name})")
    if version is None:
        raise InputError(repo, "name a version or a stage")
    rev = version_commit(repo, version, name)
    import dvc.api

    with reading(f"{repo}@{version}", f"reading {name}'s path and dvc.lock at {rev[:8]}"):
        path = dvc.api.artifacts_show(name, version=version, repo=repo)["path"]
        md5 = out_md5(yaml.safe_load(read_at(repo, "dvc.lock", rev)), path)
    if md5 is None:
        raise InputError(f"{repo}@{rev[:8]}", f"dvc.lock records no output {path}")
    return Located(version, rev, path, md5)


def download(located: Located, repo: str | Path, out: str | Path) -> Path:
    """Write the located model to `out`, only if its bytes match the md5 dvc.lock recorded."""
    import dvc.api

    repo, out = str(repo), Path(out)
    digest = hashlib.md5()
    with atomic_path(out) as tmp:
        try:
            config = remote_config(repo, located.rev)
            source = dvc.api.open(located.path, repo=repo, rev=located.rev, mode="rb", remote_config=config)
            with source as model, tmp.open("wb") as target:
                while chunk := model.read(1 << 20):
                    digest.update(chunk)
                    target.write(chunk)
        except Exception as error:  # DVC raises many kinds: a missing remote, file or cache entry
            problem = one_line(error)
            raise InputError(f"{repo}@{located.version}", f"cannot read {located.path} ({problem})") from None
        if digest.hexdigest() != located.md5:
            got = digest.hexdigest()
            raise InputError(
                out, f"md5 {got} differs from {located.md5} recorded for {located.version}; not saved"
            )
    return out


def load_model_from(
    repo: str | Path, version: str | None, stage: str | None, path: Path | None
) -> tuple[Any, str, str, str | None]:
    """A model file as it is, or a registered version or stage fetched and md5-checked:
    (model, name, version, commit; None for a file)."""
    from trip_duration.model import load_model

    if path is not None:
        if not path.is_file():
            raise InputError(path, "is a folder, not a model file" if path.is_dir() else "no such file")
        return load_model(path), "model", local_version(path), None
    located = locate(repo, version=version, stage=stage)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model = load_model(download(located, repo, Path(tmp) / "model.joblib"))
        except InputError as error:  # name the version, not the temporary file
            if not error.path.startswith(tmp):
                raise
            raise InputError(f"{repo}@{located.version}", f"{located.path}: {error.problem}") from None
    return model, ARTIFACT, located.version, located.rev


def params_at(repo: str | Path, rev: str) -> Params:
    """params.yaml as committed at `rev`, named params.yaml@1a2b3c4d in errors."""
    folder = "" if str(repo) in (".", "") else f"{str(repo).rstrip('/')}/"
    return parse_params(read_at(repo, "params.yaml", rev), f"{folder}params.yaml@{rev[:8]}")
