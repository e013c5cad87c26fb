"""`trip-duration monitor` and `trip-duration score` with compute=dask: a task per month on the
LocalCluster each starts from its --params file, and the files of compute=local, on the course
months of a copy of the reproduced project."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, copy_of, sh

MODEL = "models/trip-duration.joblib"
MISSING = "is missing (fetch it: trip-duration fetch YYYY-MM)"


@pytest.fixture(scope="module")
def project(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reproduced project (data/ holds 2021-01 and 2021-02) with local.yaml and dask.yaml: its
    params.yaml with compute=local, and with compute=dask (a LocalCluster of 2 worker processes,
    `compute.address` empty); drift samples of 5,000 trips, for Evidently's reports to take less."""
    project = copy_of(reproduced, tmp_path_factory.mktemp("dask-tools") / "project")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["monitor"]["drift_sample"] = 5000
    for compute in ("local", "dask"):
        params["compute"] = yaml.safe_load((ROOT / "conf" / "compute" / f"{compute}.yaml").read_text())
        (project / f"{compute}.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def on_cluster(stdout: str, command: str) -> list[str]:
    """The tool's lines after the one that says it runs a task per month on a Dask cluster."""
    first, *rest = stdout.splitlines()
    assert re.fullmatch(
        rf"{command}: a task per month on the Dask cluster at tcp://127\.0\.0\.1:\d+ .*", first
    )
    return rest


def without_ids(html: str) -> str:
    """Evidently's report without the ids it draws afresh for each report (uuid4s, some as hex):
    any run of 16 hex digits or more, wherever it stands (an id beside a hex letter included)."""
    html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", html)
    return re.sub(r"[0-9a-f]{16,}", "ID", html)


def tool(project: Path, compute: str, *args: str) -> subprocess.CompletedProcess:
    """`trip-duration <args>` in the project with compute=`compute` (local.yaml or dask.yaml)."""
    return sh("trip-duration", *args, "--params", f"{compute}.yaml", cwd=project, check=False)


def test_monitor_on_dask_writes_the_local_records_and_reports(project: Path) -> None:
    """Two months and, between them, one missing from data/: its error line, the others recorded."""
    months = "monitor --months 2021-01 2021-03 2021-02 --model {model} --out {compute}/monitoring"
    done = {
        compute: tool(
            project,
            compute,
            *months.format(model=MODEL, compute=compute).split(),
            "--reports",
            f"{compute}/reports",
        )
        for compute in ("local", "dask")
    }
    local, dask = done["local"], done["dask"]
    assert (local.returncode, dask.returncode) == (2, 2)
    # The workers read data/ at its absolute path (compute.worker_root empty): the error names it so.
    assert local.stderr == f"error: data/green_tripdata_2021-03.parquet: {MISSING}\n"
    assert dask.stderr == f"error: {project}/data/green_tripdata_2021-03.parquet: {MISSING}\n"
    assert on_cluster(dask.stdout, "monitor") == local.stdout.splitlines()
    assert len(local.stdout.splitlines()) == 2
    recorded = ["2021-01.json", "2021-02.json", "history.csv"]
    assert sorted(path.name for path in (project / "dask/monitoring").iterdir()) == recorded
    for name in recorded:
        files = [project / compute / "monitoring" / name for compute in ("dask", "local")]
        assert files[0].read_bytes() == files[1].read_bytes()
    for name in ("2021-01.html", "2021-02.html"):
        reports = [(project / compute / "reports" / name).read_text() for compute in ("dask", "local")]
        assert without_ids(reports[0]) == without_ids(reports[1])


def test_score_on_dask_writes_the_local_predictions(project: Path) -> None:
    """`score` takes one month: one task, the same file; a missing month is the same one line."""
    month = "score --month 2021-02 --model {model} --out {compute}/predictions.parquet"
    done = {
        compute: tool(project, compute, *month.format(model=MODEL, compute=compute).split())
        for compute in ("local", "dask")
    }
    assert (done["local"].returncode, done["dask"].returncode) == (0, 0)
    assert on_cluster(done["dask"].stdout, "score") == [
        done["local"].stdout.replace("local/", "dask/").strip()
    ]
    scored = [(project / compute / "predictions.parquet").read_bytes() for compute in ("dask", "local")]
    assert scored[0] == scored[1]

    failed = tool(
        project, "dask", "score", "--month", "2021-03", "--model", MODEL, "--out", "missing/p.parquet"
    )
    assert (failed.returncode, failed.stderr) == (
        1,
        f"error: {project}/data/green_tripdata_2021-03.parquet: {MISSING}\n",
    )
    assert not (project / "missing").exists()
