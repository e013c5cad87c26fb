"""Every subcommand with each kind of bad input: one line naming the file or field, nothing written.

One throwaway project, built once: the pipeline reproduced on 2021-01/2021-02 and committed,
`trip-duration@v0.1.0` registered and in prod (its model pushed to the DVC remote beside the
project), deployed to a serving folder. Beside it, `bad/` holds the bad inputs and `out/` is where
each row would write. Each row runs the console script in a subprocess and asserts: a non-zero
exit, no `Traceback`, the last stderr line is `error: ...` naming the file or field, and the
whole folder (project, remote, serving folders, bad inputs; .git's refs and the index as
`git status` sees them) is byte for byte what it was, so nothing was written, half or whole.
"""

import copy
import dataclasses
import hashlib
import shutil
import subprocess
import time
from pathlib import Path

import joblib
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import BIN, copy_of, env, mirror_dir, sh

ELSEWHERE = " --out {out}/monitoring --reports {out}/reports"  # a row that passes by mistake writes there
SKIP = {".git", "cache", "tmp", "__pycache__"}  # .dvc/cache and .dvc/tmp: DVC's own bookkeeping


@dataclasses.dataclass(frozen=True)
class Row:
    kind: str
    args: str  # the command line after `trip-duration`, with {project}, {bad}, {out}, {deploy}
    names: tuple[str, ...]  # what the last line must hold: the file or the field, as written
    setup: tuple[tuple[str, ...], ...] = ()  # commands run in the project before (and undone after)
    undo: tuple[tuple[str, ...], ...] = ()
    needs: str = ""  # the branch whose change makes the row pass: params (schemas), service (serve)


ROWS = [
    # model files
    Row(
        "missing model file",
        "score --month 2021-02 --model {bad}/missing.joblib --out {out}/p.parquet",
        ("{bad}/missing.joblib: no such file",),
    ),
    Row(
        "not a model file",
        "score --month 2021-02 --model {bad}/not-a-model.joblib --out {out}/p.parquet",
        ("{bad}/not-a-model.joblib: not a model file",),
    ),
    Row(
        "truncated model file",
        "score --month 2021-02 --model {bad}/truncated.joblib --out {out}/p.parquet",
        ("{bad}/truncated.joblib: not a model file",),
    ),
    Row(
        "empty model file",
        "score --month 2021-02 --model {bad}/empty.joblib --out {out}/p.parquet",
        ("{bad}/empty.joblib: not a model file",),
    ),
    Row(
        "a pickle that is no regressor",
        "monitor --months 2021-02 --model {bad}/dict.joblib" + ELSEWHERE,
        ("{bad}/dict.joblib: not a model file: it holds a dict",),
    ),
    Row(
        "serve a file that is not a model",
        "serve --model {bad}/not-a-model.joblib --port 0",
        ("{bad}/not-a-model.joblib",),
        needs="service",
    ),
    # repositories and the registry
    Row(
        "missing --repo",
        "get --repo {bad}/no-repo --stage prod -o {out}/model.joblib",
        ("{bad}/no-repo: no such repository",),
    ),
    Row(
        "--repo not a git repository",
        "deploy --repo {bad}/not-a-repo --stage prod --to {out}/deploy",
        ("{bad}/not-a-repo: not a git repository",),
    ),
    Row(
        "--repo not a git repository",
        "score --repo {bad}/not-a-repo --stage prod --month 2021-02 --out {out}/p.parquet",
        ("{bad}/not-a-repo: not a git repository",),
    ),
    Row(
        "missing --repo",
        "monitor --repo {bad}/no-repo --stage prod --months 2021-02" + ELSEWHERE,
        ("{bad}/no-repo: no such repository",),
    ),
    Row(
        "--repo not a git repository",
        "site --repo {bad}/not-a-repo --out {out}/site",
        ("{bad}/not-a-repo: not a git repository",),
    ),
    Row(
        "unknown branch", "site --branch no-such-branch --out {out}/site", ("has no branch 'no-such-branch'",)
    ),
    Row(
        "output folder is a file",
        "site --out {bad}/not-a-model.joblib",
        ("{bad}/not-a-model.joblib: is a file, not a folder",),
    ),
    Row("unknown version", "get --version v9.9.9 -o {out}/model.joblib", ("no registered version v9.9.9",)),
    Row(
        "unknown stage",
        "deploy --stage staging --to {deploy}",
        ("no version of trip-duration is in stage 'staging'",),
    ),
    Row(
        "unknown artifact", "get --stage prod --name no-such-model -o {out}/model.joblib", ("no-such-model",)
    ),
    Row(
        "corrupt manifest",
        "deploy --stage prod --to {bad}/corrupt-deploy",
        ("{bad}/corrupt-deploy/manifest.json: unreadable",),
    ),
    Row(
        "--to a file", "deploy --stage prod --to {bad}/empty.joblib", ("{bad}/empty.joblib: is not a folder",)
    ),
    # params.yaml
    Row(
        "params missing a key",
        "score --month 2021-02 --stage prod --params {bad}/missing-key/params.yaml --out {out}/p.parquet",
        ("params.yaml", "data.min_minutes"),
        needs="params",
    ),
    Row(
        "params with a wrong type",
        "score --month 2021-02 --stage prod --params {bad}/wrong-type/params.yaml --out {out}/p.parquet",
        ("params.yaml", "data.min_minutes"),
        needs="params",
    ),
    Row(
        "params with an unknown key",
        "monitor --months 2021-02 --model models/trip-duration.joblib --params {bad}/unknown-key/params.yaml"
        + ELSEWHERE,
        ("params.yaml", "monitor.min_trip"),
        needs="params",
    ),
    Row(
        "unknown Hydra group option",
        "params check --conf {bad}/conf",
        ("{bad}/conf", "Could not find 'data/no-such-data'"),
    ),
    # months and data
    Row(
        "month missing from data/",
        "score --month 2021-05 --stage prod --out {out}/p.parquet",
        ("data/green_tripdata_2021-05.parquet: is missing",),
    ),
    Row(
        "month missing from data/",
        "monitor --months 2021-05 --model models/trip-duration.joblib",
        ("data/green_tripdata_2021-05.parquet: is missing",),
    ),
    Row(
        "month with no distance at all",
        "monitor --months 2021-03 --model models/trip-duration.joblib --data-dir {bad}/no-distance"
        + ELSEWHERE,
        ("{bad}/no-distance/green_tripdata_2021-03.parquet: cannot test drift (drift of trip_distance",),
    ),
    Row(
        "malformed month", "score --month 2021-5 --stage prod --out {out}/p.parquet", ("2021-5: not a month",)
    ),
    Row("malformed month", "fetch 2021-13 --data-dir {out}/data", ("2021-13: not a month",)),
    Row(
        "corrupt parquet month",
        "score --month 2021-02 --stage prod --data-dir {bad}/data --out {out}/p.parquet",
        ("{bad}/data/green_tripdata_2021-02.parquet: is not a readable parquet file",),
    ),
    Row(
        "month not in the mirror",
        "fetch 2019-01 --data-dir {out}/data",
        ("green_tripdata_2019-01.parquet: not found in the TLC_MIRROR folder",),
    ),
    Row(
        "data.dvc without meta",
        "fetch --data-dir {bad}/no-meta",
        ("{bad}/no-meta.dvc: missing or records no meta.files",),
    ),
    Row(
        "missing data.dvc",
        "retrain check --data-dvc {bad}/missing.dvc",
        ("{bad}/missing.dvc: cannot read it",),
    ),
    # the tools around the registry
    Row(
        "report on a missing base branch",
        "report --base no-such-branch --out {out}/report.md --images {out}/images",
        ("no-such-branch: unknown git revision",),
    ),
    Row(
        "publish-images on a missing report",
        "publish-images {bad}/missing.md --repo-url https://example.com/x",
        ("{bad}/missing.md: cannot read the report",),
    ),
    Row(
        "release without a model card",
        "release --card {bad}/missing-card.md",
        ("{bad}/missing-card.md: missing",),
    ),
    Row(
        "publish with no DVC remote",
        "publish --card {out}/card.md",
        ("dvc push", "no remote specified"),
        setup=(("sh", "-c", "printf '[core]\\n    remote =\\n' > .dvc/config.local"),),
        undo=(("rm", ".dvc/config.local"),),
    ),
    Row(
        "publish with an unreachable DVC remote",
        "publish --card {out}/card.md",
        ("dvc push", "/proc/"),
        setup=(("dvc", "remote", "modify", "--local", "local", "url", "/proc/no-such/remote"),),
        undo=(("rm", ".dvc/config.local"),),
    ),
    # the newest version's tag names a commit without dvc.lock: publish guessed a minor bump from {}
    Row(
        "publish on a version whose lock is missing",
        "publish --card {out}/card.md",
        ("trip-duration@v0.2.0:dvc.lock: cannot be read",),
        setup=(
            ("git", "commit", "-q", "--allow-empty", "-m", "docs"),
            ("gto", "register", "trip-duration", "HEAD~2", "--version", "v0.2.0"),
        ),
        undo=(("git", "tag", "-d", "trip-duration@v0.2.0"), ("git", "reset", "-q", "--hard", "HEAD~1")),
    ),
]


def md5s(root: Path) -> dict[str, str]:
    """md5 of every file under `root` (DVC's cache and tmp, .git and __pycache__ aside)."""
    found = {}
    for path in sorted(root.rglob("*")):
        if SKIP.isdisjoint(path.relative_to(root).parts) and path.is_file():
            found[path.relative_to(root).as_posix()] = hashlib.md5(path.read_bytes()).hexdigest()
    return found


def git_state(project: Path) -> list[str]:
    """The refs (tags too), HEAD, and what git status sees, ignored files included."""
    git = [
        ["git", "for-each-ref"],
        ["git", "status", "--porcelain", "--ignored"],
        ["git", "rev-parse", "HEAD"],
    ]
    return [subprocess.run(args, cwd=project, capture_output=True, text=True).stdout for args in git]


def snapshot(root: Path, project: Path) -> dict[str, object]:
    """What a command could have written: every file under `root`, and git's state."""
    return {"files": md5s(root), "git": git_state(project)}


@pytest.fixture(scope="module")
def world(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The project with v0.1.0 in prod and deployed, and the bad inputs beside it."""
    root = tmp_path_factory.mktemp("bad-input")
    project = copy_of(reproduced, root / "project")  # DVC remote: root / "remote"
    sh("trip-duration", "publish", cwd=project)
    sh("trip-duration", "deploy", "--stage", "prod", "--to", str(root / "deploy"), cwd=project)

    bad = root / "bad"
    bad.mkdir()
    model = (project / "models/trip-duration.joblib").read_bytes()
    (bad / "not-a-model.joblib").write_text("not a model")
    (bad / "truncated.joblib").write_bytes(model[: len(model) // 2])
    (bad / "empty.joblib").write_bytes(b"")
    joblib.dump({"model": "a dict"}, bad / "dict.joblib")
    (bad / "not-a-repo").mkdir()
    shutil.copytree(root / "deploy", bad / "corrupt-deploy")
    (bad / "corrupt-deploy/manifest.json").write_text('{"name": "trip-duration", "vers')
    (bad / "data").mkdir()
    (bad / "data/green_tripdata_2021-02.parquet").write_bytes(b"PAR1" + model[:100])
    # The validation month as it is, and a month whose distances are all missing.
    (bad / "no-distance").mkdir()
    shutil.copy2(project / "data/green_tripdata_2021-02.parquet", bad / "no-distance")
    march = pq.read_table(mirror_dir() / "green_tripdata_2021-03.parquet")
    at = march.schema.get_field_index("trip_distance")
    march = march.set_column(at, "trip_distance", pa.nulls(len(march), pa.float64()))
    pq.write_table(march, bad / "no-distance/green_tripdata_2021-03.parquet")
    (bad / "no-meta").mkdir()
    (bad / "no-meta.dvc").write_text("outs:\n- path: no-meta\n")
    shutil.copytree(project / "conf", bad / "conf")
    config = (bad / "conf/config.yaml").read_text()
    (bad / "conf/config.yaml").write_text(config.replace("- data: course", "- data: no-such-data"))
    params = yaml.safe_load((project / "params.yaml").read_text())
    for name, change in {
        "missing-key": lambda tree: tree["data"].pop("min_minutes"),
        "wrong-type": lambda tree: tree["data"].update(min_minutes="one"),
        "unknown-key": lambda tree: tree["monitor"].update(min_trip=5),
    }.items():
        tree = copy.deepcopy(params)
        change(tree)
        (bad / name).mkdir()
        (bad / name / "params.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))
    (root / "out").mkdir()
    return {"root": root, "project": project, "bad": bad, "out": root / "out", "deploy": root / "deploy"}


def trip_duration(args: list[str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    """The console script in a subprocess: (exit code, stdout, stderr); a hang is a failure."""
    try:
        done = subprocess.run(
            [str(BIN / "trip-duration"), *args],
            cwd=cwd,
            env=env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"trip-duration {' '.join(args)} did not exit within {timeout:.0f} s: {expired.stderr!r}")
    return done.returncode, done.stdout, done.stderr


def test_the_table_holds_every_subcommand_and_twenty_kinds() -> None:
    from trip_duration_ops.cli import COMMANDS

    assert {row.args.split()[0] for row in ROWS} == set(COMMANDS)
    assert len({row.kind for row in ROWS}) >= 20


def row_id(row: Row) -> str:
    """`score: empty model file`; a row that another branch's change makes pass says which."""
    return f"{row.args.split()[0]}: {row.kind}" + (f" (needs {row.needs})" if row.needs else "")


@pytest.mark.parametrize("row", ROWS, ids=row_id)
def test_bad_input_fails_in_one_line_naming_it_and_writes_nothing(world: dict[str, Path], row: Row) -> None:
    project, places = world["project"], {key: str(path) for key, path in world.items()}
    clean = git_state(project)
    for command in row.setup:
        sh(*command, cwd=project)
    try:
        before = snapshot(world["root"], project)
        started = time.monotonic()
        timeout = 10 if row.args.startswith("serve") else 60  # serve must give up within seconds
        code, out, err = trip_duration(row.args.format(**places).split(), project, timeout)
        after = snapshot(world["root"], project)
    finally:
        for command in row.undo:
            sh(*command, cwd=project)
        written = sorted(path.name for path in world["out"].iterdir())
        shutil.rmtree(world["out"])  # the next row starts as this one should have left it
        world["out"].mkdir()
        if git_state(project) != clean:
            sh("git", "checkout", "-q", "--", ".", cwd=project)
    said = f"{time.monotonic() - started:.1f} s, exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert code != 0, said
    assert "Traceback" not in out + err, said
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith("error: "), said
    for name in row.names:
        assert name.format(**places) in last, said
    assert after == before, said
    assert written == [], said
