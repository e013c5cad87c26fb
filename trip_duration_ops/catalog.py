"""The data catalogue: which TLC files a .dvc file records, with the md5 of each.

data.dvc tracks data/ as one folder; DVC keeps its top-level `meta:` across `dvc add`, so the
md5 of each file lives there and one month can be checked on its own:

    meta:
      source: https://d37ci6vzurychx.cloudfront.net/trip-data/
      files:
        green_tripdata_2021-01.parquet: 58f7622b863151fc9f4d51eff826db50

Also what the pipeline records: the paths dvc.yaml declares and the md5 of an output in dvc.lock.
"""

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trip_duration.errors import InputError
from trip_duration.files import read_yaml, write_atomic
from trip_duration.tlc import TLC_URL, months_in


def file_md5(path: str | Path) -> str:
    with Path(path).open("rb") as file:
        return hashlib.file_digest(file, "md5").hexdigest()


def folder_md5s(folder: Path) -> dict[str, str]:
    """md5 of every file under `folder` by relative path: what meta.files records."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    return {path.relative_to(folder).as_posix(): file_md5(path) for path in files}


def dir_md5(entries: Mapping[str, str]) -> str:
    """DVC's md5 of a folder, from the md5 of each file in it (relative path -> md5)."""
    listing = [{"md5": md5, "relpath": name} for name, md5 in sorted(entries.items())]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def read_dvc_file(dvc_file: Path) -> dict[str, Any]:
    """A .dvc file's content; invalid YAML is a one-line error."""
    from ruamel.yaml import YAML, YAMLError

    try:
        content = YAML(typ="safe").load(dvc_file)
    except YAMLError as error:
        raise InputError(dvc_file, f"not valid YAML: {error}") from None
    return content if isinstance(content, dict) else {}


def meta_files(content: dict[str, Any] | None) -> dict[str, str]:
    """meta.files of a parsed .dvc file: file name -> md5; empty when it has none."""
    return ((content or {}).get("meta") or {}).get("files") or {}


def data_months(content: dict[str, Any] | None, taxi: str | None = None) -> list[str]:
    """Months of the files a parsed .dvc file records, e.g. ["2021-01", "2021-02"]; of one taxi's
    files only where `taxi` is given."""
    names = meta_files(content)
    return months_in(names if taxi is None else (name for name in names if name.startswith(f"{taxi}_")))


def recorded_files(dvc_file: Path) -> dict[str, str]:
    """meta.files of a .dvc file: file name -> md5; empty when it has none."""
    files = meta_files(read_dvc_file(dvc_file))
    if not isinstance(files, dict) or not all(isinstance(md5, str) for md5 in files.values()):
        raise InputError(dvc_file, "meta.files must map file names to md5 strings")
    return files


def record_files(dvc_file: Path, files: Mapping[str, str]) -> None:
    """Add name -> md5 entries to meta.files of `dvc_file` (created if absent), keeping the rest."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    yaml = YAML()  # round-trip: DVC's layout and any comments stay as they are
    content = (yaml.load(dvc_file) if dvc_file.exists() else None) or CommentedMap()
    meta = content.setdefault("meta", CommentedMap())
    meta.setdefault("source", TLC_URL)
    meta["files"] = CommentedMap(sorted({**(meta.get("files") or {}), **files}.items()))
    write_atomic(dvc_file, lambda tmp: yaml.dump(content, tmp))


def out_md5(lock: dict[str, Any] | None, path: str) -> str | None:
    """The md5 a parsed dvc.lock records for the output `path` in any stage; None where it records none."""
    stages = ((lock or {}).get("stages") or {}).values()
    outs = [out for stage in stages for out in stage.get("outs") or []]
    return next((out.get("md5") for out in outs if out.get("path") == path), None)


def pipeline_paths(dvc_yaml: dict[str, Any], where: str = "dvc.yaml") -> dict[str, str]:
    """The paths a parsed dvc.yaml declares under `vars: - paths:` (data, val, model, metrics...)."""
    paths: dict[str, str] = {}
    for entry in dvc_yaml.get("vars") or []:
        if isinstance(entry, dict) and isinstance(entry.get("paths"), dict):
            paths.update(entry["paths"])
    if not paths:
        raise InputError(where, "declares no `vars: - paths:` mapping")
    return paths


def paths_named(names: list[str], dvc_yaml: str = "dvc.yaml") -> list[str]:
    """Paths from dvc.yaml's vars in the order named, e.g. the validation trips' (`val`)."""
    paths = pipeline_paths(read_yaml(dvc_yaml), dvc_yaml)
    missing = [name for name in names if name not in paths]
    if missing:
        raise InputError(dvc_yaml, f"vars.paths has no {', '.join(repr(name) for name in missing)}")
    return [paths[name] for name in names]
