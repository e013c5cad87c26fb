"""The pull-request report's gate: did validation RMSE rise by more than params.yaml's `report` allows?

The gate reads DVC's own diffs (`dvc metrics diff --json`). Where the PR validates on other trips
than the base, it takes the base's model scored on the PR's trips instead of the base's metrics,
as `publish` compares champion and challenger.
"""

import copy
from decimal import Decimal
from typing import Any

from trip_duration_ops.catalog import out_md5

Diff = dict[str, dict[str, dict[str, Any]]]  # `dvc metrics/params diff --json`: file -> name -> old, new


def decimal(value: float) -> Decimal:
    """The number as written (7.7587, not 7.75869999...): a change of exactly 1% is then 1."""
    return Decimal(repr(value))


def percent(old: Any, new: Any) -> Decimal | None:
    """Change from old to new in %; None unless both are numbers and old is not 0."""
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new)) or old == 0:
        return None
    return (decimal(new) - decimal(old)) / abs(decimal(old)) * 100


def rmse_of(metrics: Diff) -> tuple[Any, Any]:
    """(base, PR) validation RMSE from the first metrics file that has `rmse`; None where absent."""
    found = next((names["rmse"] for names in metrics.values() if "rmse" in names), {})
    return found.get("old"), found.get("new")


def gate(metrics: Diff, max_rmse_increase_pct: float) -> bool:
    """RMSE rose by at most `max_rmse_increase_pct` %; a first PR (no RMSE at base) passes."""
    old, new = rmse_of(metrics)
    if new is None or old is None:
        return new is not None
    change = percent(old, new)
    return new <= old if change is None else change <= decimal(max_rmse_increase_pct)


def like_for_like(base_lock: dict[str, Any] | None, pr_lock: dict[str, Any], val_path: str) -> bool:
    """The PR validates on the trips `base` validated on (or `base` has none to compare with)."""
    old = out_md5(base_lock, val_path)
    return old is None or old == out_md5(pr_lock, val_path)


def on_same_trips(metrics: Diff, champion_rmse: float) -> Diff:
    """The diff with the base's RMSE replaced by the base's model scored on the PR's validation trips."""
    found = copy.deepcopy(metrics)
    for names in found.values():
        if "rmse" in names:
            names["rmse"]["old"] = champion_rmse
            break
    return found
