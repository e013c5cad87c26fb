"""compute=dask on real Dask clusters and real DVC: the model of compute=local, a lost worker, an
unreachable scheduler. Clusters are LocalClusters of worker processes on 127.0.0.1, no dashboard."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import joblib
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from distributed import Client, LocalCluster

from tests.conftest import ROOT, copy_of, env, sh
from tests.e2e.dask_faults import KillOnTask

# Sums taken in another order differ in the last bits, which the solve amplifies by the system's
# condition: relative to the coefficients' scale (their largest magnitude), not to each one, since
# a coefficient near 0 (-0.0047 beside 26) differs by 1.5e-9 of itself for 5e-12 in minutes.
RELATIVE = 1e-9


def differences(got: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """The largest absolute and relative differences between two arrays of numbers."""
    gap = np.abs(np.asarray(got, np.float64) - np.asarray(expected, np.float64))
    return float(gap.max()), float((gap / np.maximum(np.abs(expected), 1e-300)).max())


def assert_same_model(got: Path, expected: Path) -> tuple[float, float]:
    """Two model files: the same stock Pipeline, the same categories, coefficients and intercept
    equal to 1e-9 of their scale; the largest absolute and relative (to scale) differences."""
    model, reference = joblib.load(got), joblib.load(expected)
    assert [name for name, _ in model.steps] == [name for name, _ in reference.steps]
    assert type(model[-1]) is type(reference[-1])
    for name, _, _ in reference[0].transformers:
        for ours, theirs in zip(
            model[0].named_transformers_[name][-1].__dict__.get("categories_", []),
            reference[0].named_transformers_[name][-1].__dict__.get("categories_", []),
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)
    coefficients = np.append(model[-1].coef_, model[-1].intercept_)
    expected_coefficients = np.append(reference[-1].coef_, reference[-1].intercept_)
    scale = np.abs(expected_coefficients).max()
    np.testing.assert_allclose(coefficients, expected_coefficients, rtol=0, atol=RELATIVE * scale)
    max_abs, max_rel = differences(coefficients, expected_coefficients)
    print(f"coefficients: max abs {max_abs:.3g}, to scale {max_abs / scale:.3g}, each {max_rel:.3g}")
    return max_abs, max_abs / scale


def val_rmse_of(predictions: Path) -> float:
    found = pq.read_table(predictions).to_pandas()
    return float(np.sqrt(np.mean((found["predicted"] - found["duration"]) ** 2)))


def val_rmse(project: Path) -> float:
    return val_rmse_of(project / "predictions" / "val.parquet")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_args(project: Path, train: Path, out: Path, params: Path) -> list[str]:
    out.mkdir(parents=True, exist_ok=True)
    return [
        "stages.train",
        *("--train", str(train), "--val", str(project / "prepared" / "val.parquet")),
        *("--model", str(out / "model.joblib"), "--predictions", str(out / "val.parquet")),
        *("--scores", str(out / "train.json"), "--params", str(params)),
    ]


def params_file(project: Path, path: Path, compute: str, **keys: object) -> Path:
    """The project's params with model=gram_ridge and compute=`compute`, with `keys` set in it."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["model"] = yaml.safe_load((ROOT / "conf" / "model" / "gram_ridge.yaml").read_text())
    params["compute"] = {
        **yaml.safe_load((ROOT / "conf" / "compute" / f"{compute}.yaml").read_text()),
        **keys,
    }
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_gram_ridge_on_dask_is_the_local_model(reproduced: Path, tmp_path: Path) -> None:
    project = copy_of(reproduced, tmp_path / "project")
    sh("dvc", "exp", "run", "-S", "model=gram_ridge", cwd=project)
    prepared = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["prepare"]["outs"]
    local = tmp_path / "local"
    local.mkdir()
    for name in ("models/trip-duration.joblib", "reports/metrics.json"):
        (local / Path(name).name).write_bytes((project / name).read_bytes())
    local_rmse = val_rmse(project)

    done = sh("dvc", "exp", "run", "-S", "compute=dask", "-S", "model=gram_ridge", cwd=project)
    for stage in ("prepare", "train"):  # they declare `compute`: rerun, on the cluster
        assert f"{stage}: a task per " in done.stdout, done.stdout
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    assert lock["stages"]["train"]["params"]["params.yaml"]["compute"]["name"] == "dask"
    assert lock["stages"]["prepare"]["outs"] == prepared  # a task a month: the same files, to the byte
    assert_same_model(project / "models/trip-duration.joblib", local / "trip-duration.joblib")
    assert abs(val_rmse(project) - local_rmse) <= RELATIVE * local_rmse
    metrics = json.loads((project / "reports/metrics.json").read_text())
    expected = json.loads((local / "metrics.json").read_text())
    assert metrics.keys() == expected.keys()
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=RELATIVE, abs=1e-12), key
    print(f"val rmse: local {local_rmse!r}, dask {val_rmse(project)!r}")


def test_train_survives_a_lost_worker(reproduced: Path, tmp_path: Path) -> None:
    # The training trips in 8 row groups: 8 accumulation tasks over 2 workers, summed in a tree.
    train = tmp_path / "train.parquet"
    pq.write_table(pq.read_table(reproduced / "prepared" / "train.parquet"), train, row_group_size=10_000)
    local = params_file(reproduced, tmp_path / "local.yaml", "local")
    sh("python", *train_args(reproduced, train, tmp_path / "local", local), cwd=tmp_path)

    marker = tmp_path / "killed"
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    try:
        with Client(cluster) as client:
            pids = set(client.run(os.getpid).values())
            client.register_plugin(KillOnTask("gram_part", marker))
            dask = params_file(reproduced, tmp_path / "dask.yaml", "dask", address=cluster.scheduler_address)
            done = sh("python", *train_args(reproduced, train, tmp_path / "dask", dask), cwd=tmp_path)
            killed, key = marker.read_text().split()  # the fault happened, during an accumulation task
            assert key.startswith("gram_part-") and int(killed) in pids
            deadline = time.monotonic() + 30  # the nanny starts a new worker in its place
            while len(client.nthreads()) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert int(killed) not in client.run(os.getpid).values()
    finally:
        cluster.close()
    assert "a task per row group on the Dask cluster" in done.stdout
    assert_same_model(tmp_path / "dask" / "model.joblib", tmp_path / "local" / "model.joblib")
    scores = [json.loads((tmp_path / side / "train.json").read_text()) for side in ("dask", "local")]
    assert scores[0]["train_rows"] == scores[1]["train_rows"] == pq.ParquetFile(train).metadata.num_rows
    assert scores[0]["train_rmse"] == pytest.approx(scores[1]["train_rmse"], rel=RELATIVE)
    rmse = [val_rmse_of(tmp_path / side / "val.parquet") for side in ("dask", "local")]
    assert rmse[0] == pytest.approx(rmse[1], rel=RELATIVE)
    print(
        f"val rmse: local {rmse[1]!r}, dask {rmse[0]!r};"
        f" train rmse: local {scores[1]['train_rmse']!r}, dask {scores[0]['train_rmse']!r}"
    )


def test_monitor_on_dask_writes_the_local_backtest(reproduced: Path, tmp_path: Path) -> None:
    """A task a month; the course project has no month after validation, so both are named."""
    tables = []
    for compute in ("local", "dask"):
        params = params_file(reproduced, tmp_path / f"{compute}.yaml", compute)
        values = yaml.safe_load(params.read_text())
        values["monitor"]["months"] = ["2021-01", "2021-02"]
        params.write_text(yaml.safe_dump(values, sort_keys=False))
        backtest = tmp_path / f"{compute}.csv"
        done = sh(
            "python", "stages.monitor", "--model", str(reproduced / "models/trip-duration.joblib"),
            "--val", str(reproduced / "prepared/val.parquet"),
            "--predictions", str(reproduced / "predictions/val.parquet"),
            "--data-dir", str(reproduced / "data"), "--backtest", str(backtest), "--params", str(params),
            cwd=tmp_path,
        )  # fmt: skip
        assert ("a task per month on the Dask cluster" in done.stdout) == (compute == "dask")
        tables.append(backtest.read_text())
    assert tables[0] == tables[1] and len(tables[0].splitlines()) == 3


def test_an_unreachable_scheduler_fails_in_one_line(reproduced: Path, tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    params = params_file(reproduced, tmp_path / "params.yaml", "dask", address=address, connect_timeout=1)
    out = tmp_path / "out"
    done = sh(
        "python",
        *train_args(reproduced, reproduced / "prepared/train.parquet", out, params),
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {address}: cannot reach the Dask scheduler (compute.address in {params}):"
        f" Timed out trying to connect to {address} after 1 s\n"
    )
    assert list(out.iterdir()) == []  # nothing written

    project = copy_of(reproduced, tmp_path / "project")
    lock = (project / "dvc.lock").read_bytes()
    done = sh(
        "dvc", "exp", "run", "-S", "compute=dask", "-S", f"compute.address={address}",
        "-S", "compute.connect_timeout=1", cwd=project, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"error: {address}: cannot reach the Dask scheduler" in done.stderr
    assert (project / "dvc.lock").read_bytes() == lock


def test_a_failed_task_is_the_stage_s_one_line_error(reproduced: Path, tmp_path: Path) -> None:
    params = params_file(reproduced, tmp_path / "params.yaml", "dask")
    values = yaml.safe_load(params.read_text())
    values["data"]["train_months"] = ["2021-01", "2021-03"]  # not in the course project's data/
    params.write_text(yaml.safe_dump(values, sort_keys=False))
    out = tmp_path / "out"
    done = sh(
        "python", "stages.prepare", "--data-dir", str(reproduced / "data"),
        "--train", str(out / "train.parquet"), "--val", str(out / "val.parquet"), "--params", str(params),
        cwd=tmp_path, check=False,
    )  # fmt: skip
    missing = reproduced / "data" / "green_tripdata_2021-03.parquet"
    assert (done.returncode, done.stderr) == (
        1,
        f"error: {missing}: is missing (fetch it: trip-duration fetch YYYY-MM)\n",
    )
    assert not out.exists()


def test_workers_read_the_months_under_a_worker_root_url(reproduced: Path, tmp_path: Path) -> None:
    """compute.worker_root as an fsspec URL (file:// here, s3:// alike): the stage's own folder has
    no data/, so the cleaned months can only come from the workers' reads of the URL."""
    bucket, client = tmp_path / "bucket", tmp_path / "client"
    shutil.copytree(reproduced / "data", bucket / "data")
    (client / "data").mkdir(parents=True)
    params = params_file(reproduced, tmp_path / "params.yaml", "dask", worker_root=f"file://{bucket}")
    done = sh(
        "python", "stages.prepare", "--data-dir", "data", "--train", "out/train.parquet",
        "--val", "out/val.parquet", "--params", str(params), cwd=client,
    )  # fmt: skip
    assert "a task per month on the Dask cluster" in done.stdout
    for name in ("train.parquet", "val.parquet"):
        assert (client / "out" / name).read_bytes() == (reproduced / "prepared" / name).read_bytes()
    shutil.copytree(client / "out", bucket / "out")  # train's tasks read the row groups there
    sh(
        "python",
        *train_args(reproduced, client / "out" / "train.parquet", client / "model", params),
        cwd=client,
    )
    scores = json.loads((client / "model" / "train.json").read_text())
    assert scores["train_rows"] == 73_908
    empty = params_file(reproduced, tmp_path / "empty.yaml", "dask", worker_root=f"file://{tmp_path}/empty")
    failed = sh(
        "python", "stages.prepare", "--data-dir", "data", "--train", "out/train.parquet",
        "--val", "out/val.parquet", "--params", str(empty), cwd=client, check=False,
    )  # fmt: skip
    url = f"file://{tmp_path}/empty/data/green_tripdata_2021-01.parquet"
    assert (failed.returncode, failed.stderr) == (
        1,
        f"error: {url}: is missing (compute.worker_root holds no such file)\n",
    )


def printed(prefix: str) -> list[str]:
    """docs/performance.md's indented command lines starting with `prefix`, without comments."""
    text = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    return [re.sub(r"\s+#\s.*$", "", line) for line in lines if line.startswith(prefix)]


def workers_up(address: str, count: int) -> bool:
    """Whether the scheduler at `address` answers with `count` workers (False while it cannot)."""
    try:
        with Client(address, timeout=2) as client:
            return len(client.nthreads()) == count
    except OSError:  # not listening yet
        return False


def test_the_cluster_the_docs_print_runs_the_pipeline(reproduced: Path, tmp_path: Path) -> None:
    """The docs' commands as printed: the one switch (a LocalCluster), then a scheduler and two
    workers started as the two hosts' lines say (both hosts 127.0.0.1 here, where each listens, and
    a free port for 8786)
    and the experiment run against them from the third."""
    [switch] = [
        line for line in printed("dvc exp run -S compute=dask") if line == "dvc exp run -S compute=dask"
    ]
    hosts = [line.split("$ ", 1)[1] for line in printed("host-") + printed("laptop$ ")]
    assert len(hosts) == 4
    project = copy_of(reproduced, tmp_path / "project")
    done = sh("bash", "-c", switch, cwd=project)
    assert "prepare: a task per " in done.stdout and "127.0.0.1" in done.stdout
    assert json.loads((project / "reports/metrics.json").read_text())["rmse"] == 7.7587  # the default model

    port = closed_port()
    here = [re.sub(r"host-[ab]", "127.0.0.1", line).replace("8786", str(port)) for line in hosts]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    started = [
        subprocess.Popen(["bash", "-c", f"exec {line}"], cwd=tmp_path, env=env(), **quiet)
        for line in here[:3]
    ]
    try:
        deadline = time.monotonic() + 60
        while not workers_up(f"tcp://127.0.0.1:{port}", 2):
            assert time.monotonic() < deadline, "the scheduler and its two workers did not start"
            time.sleep(0.5)
        done = sh("bash", "-c", here[3], cwd=project)
        assert f"the Dask cluster at tcp://127.0.0.1:{port} (2 workers" in done.stdout, done.stdout
        lock = yaml.safe_load((project / "dvc.lock").read_text())
        assert (
            lock["stages"]["train"]["params"]["params.yaml"]["compute"]["address"]
            == f"tcp://127.0.0.1:{port}"
        )
        assert json.loads((project / "reports/metrics.json").read_text())["rmse"] == 7.4588  # GramRidge
    finally:
        for process in started:
            process.terminate()
        for process in started:
            process.wait(timeout=30)
