"""What the pull-request report asks DVC: its diffs against the base, and the base's model.

`dvc metrics|params|plots diff BASE --json` run as three processes side by side, since each DVC
takes seconds to start; the base's model is read from the DVC cache or remote by revision.
"""

import json
import sys
from subprocess import PIPE, Popen
from typing import Any

from trip_duration import metrics as scores
from trip_duration.errors import InputError

Started = list[tuple[list[str], Popen]]  # per diff: its arguments after `dvc`, its process


def start_diffs(base: str) -> Started:
    """Start `dvc metrics|params|plots diff BASE --json` side by side: each DVC takes seconds to start."""
    commands = [["metrics", "diff", base, "--all"], ["params", "diff", base], ["plots", "diff", base]]
    command = [sys.executable, "-m", "dvc"]
    return [
        (args, Popen([*command, *args, "--json"], stdout=PIPE, stderr=PIPE, text=True)) for args in commands
    ]


def diff_results(started: Started) -> list[dict[str, Any]]:
    """What each started command printed, parsed; a failure as one line."""
    outputs = [process.communicate() for _, process in started]
    for (args, process), (out, err) in zip(started, outputs, strict=True):
        if process.returncode:
            lines = (err or out).strip().splitlines() or [f"exit code {process.returncode}"]
            raise InputError(f"dvc {' '.join(args)}", lines[-1])
    return [json.loads(out or "{}") for out, _ in outputs]


def champion_rmse(base: str, model_path: str, val_path: str) -> tuple[float | None, str]:
    """The base's model (from the DVC cache or remote) on the PR's validation trips, or why not."""
    import dvc.api
    import joblib
    import pandas as pd
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(model_path, rev=base, mode="rb") as file:
            model = joblib.load(file)
    except (DvcException, OSError) as error:
        return None, f"{base}'s model could not be read ({type(error).__name__}: {error})"
    val = pd.read_parquet(val_path)
    return round(scores.rmse(val["duration"], model.predict(val)), 4), ""
