"""The model card: the release notes of one registered version, in markdown."""

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Decision:
    """The champion/challenger comparison; `champion` is the version in the stage before this run."""

    stage: str
    challenger_rmse: float
    champion: str | None
    champion_rmse: float | None
    tolerance: float
    promoted: bool


def version_page(site_url: str, version: str) -> str:
    """The address of `version`'s page on the project site (`trip-duration site`); empty without one."""
    return f"{site_url.rstrip('/')}/versions/{version}.html" if site_url else ""


def model_card(
    artifact: str,
    version: str,
    commit: str,
    origin: str,
    how: str,
    metrics: dict[str, Any],
    params: dict[str, Any],
    months: list[str],
    decision: Decision,
    site_url: str = "",
) -> str:
    """The release notes of one version, in markdown; with `site_url`, a link to its page there."""
    stage, champion = decision.stage, decision.champion
    if champion == version:
        verdict = f"already in `{stage}`"
    elif decision.promoted:
        verdict = f"promoted to `{stage}`" + (f" (replaces {champion})" if champion else " (first in it)")
    else:
        verdict = f"not promoted: `{stage}` stays on {champion}"
    rows = f"| challenger | {version} | {decision.challenger_rmse:.4f} |"
    if champion and champion != version:
        rows += f"\n| champion (`{stage}`) | {champion} | {decision.champion_rmse:.4f} |"
    data = params.get("data", {})
    train, val = (", ".join(map(str, data.get(key, []))) or "?" for key in ("train_months", "val_months"))
    chosen = yaml.safe_dump({key: params[key] for key in ("data", "features", "model") if key in params})
    table = "\n".join(f"| {key} | {value} |" for key, value in metrics.items())
    page = version_page(site_url, version)
    page_line = f"\n- page: {page}" if page else ""
    return f"""# {artifact} {version}

- tag: `{artifact}@{version}` ({how})
- commit: `{commit}`
- stage: {verdict}{page_line}

## Champion and challenger (validation RMSE, minutes; tolerance {decision.tolerance:g})

| role | version | rmse |
|---|---|---|
{rows}

## Metrics

| metric | value |
|---|---|
{table}

## Data

- training months: {train}
- validation months: {val}
- months in data.dvc: {", ".join(months) or "not recorded"}

## Params

```yaml
{chosen.rstrip()}
```

## Use

```
trip-duration get --repo {origin} --version {version} -o {artifact}.joblib
```
"""
