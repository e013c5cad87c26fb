"""The README shows what the repository really does: its DAG and its committed default result."""

import json
import subprocess
import sys

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_dag_is_what_dvc_draws() -> None:
    dag = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert dag in README


def test_readme_result_row_is_the_committed_metrics() -> None:
    metrics = json.loads((ROOT / "reports" / "metrics.json").read_text())
    keys = ["rmse", "mae", "r2", "train_rmse", "train_rows", "val_rows", "features"]
    row = " | ".join(
        f"{metrics[key]:,}" if isinstance(metrics[key], int) else f"{metrics[key]}" for key in keys
    )
    assert f"| {row} |" in README
