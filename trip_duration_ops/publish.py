"""Publish the model after a merge to main: register its next version, push it, promote it if no worse.

    trip-duration publish [--push] [--tolerance 0.0] [--card reports/model-card.md] [--site-url URL]

Run from the repository root, in a clone with full history and tags, on a committed and reproduced
pipeline (`dvc status` clean). Paths come from dvc.yaml (`artifacts` and `vars`). Steps:
1. `dvc push`: the model and its data reach the DVC remote before any tag names them;
2. register HEAD with GTO (`trip-duration@vX.Y.Z`, GTO's own bump), unless a version is at HEAD;
3. champion/challenger: score the version GTO shows in `prod` and HEAD's model on HEAD's validation
   trips; assign `prod` when challenger RMSE <= champion RMSE + tolerance (no prod: promote);
4. write the model card (linking the version's page on the project site when its address is known:
   --site-url, else $SITE_URL); with --push, fetch tags from origin first and push the artifact's tags last.
A second run on the same commit registers and assigns nothing: it finds the version at HEAD.

The version rule is trip_duration_ops.versioning's.

Expected output (a better model, then a worse one):
    publish: trip-duration@v0.1.1 registered (patch: train changed since v0.1.0)
    publish: prod: v0.1.1 (val rmse 7.5991 <= 7.7587 of v0.1.0)
    publish: trip-duration@v0.1.2 registered (patch: train changed since v0.1.1)
    publish: prod stays on v0.1.1 (val rmse 12.2126 > 7.5991)
"""

import argparse
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trip_duration import metrics
from trip_duration.errors import InputError, one_line, run
from trip_duration.files import read_yaml, write_text
from trip_duration_ops import registry
from trip_duration_ops.card import Decision, model_card
from trip_duration_ops.catalog import data_months, paths_named
from trip_duration_ops.gitops import git
from trip_duration_ops.versioning import choose_version


def should_promote(challenger_rmse: float, champion_rmse: float | None, tolerance: float = 0.0) -> bool:
    """Promote when there is no champion or the challenger is no worse, within `tolerance` minutes."""
    return champion_rmse is None or challenger_rmse <= champion_rmse + tolerance


def val_rmse(model_path: str | Path, val: Any) -> float:
    """The validation RMSE of the model file at `model_path` on the trips `val`."""
    from trip_duration.model import load_model

    return metrics.rmse(val["duration"], load_model(model_path).predict(val))


def compare(
    artifact: str, stage: str, version: str, challenger_rmse: float, val: Any, tolerance: float
) -> Decision:
    """Score, unless it is HEAD's version, the model GTO shows in `stage` on `val`, against HEAD's."""
    champion = registry.stage_version(".", stage, artifact)
    champion_rmse = None
    if champion is not None and champion != version:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "champion.joblib"
            registry.download(registry.locate(".", version=champion, name=artifact), ".", out)
            try:  # a model pickled by older code may not load with this code
                champion_rmse = val_rmse(out, val)
            except Exception as error:
                problem = f"{stage} model {champion} cannot be scored by this code ({error!r})"
                advice = f"; compare by hand, then: gto assign {artifact} --version {version} --stage {stage}"
                raise InputError(f"{artifact}@{champion}", problem + advice) from error
    promoted = champion == version or should_promote(challenger_rmse, champion_rmse, tolerance)
    return Decision(stage, challenger_rmse, champion, champion_rmse, tolerance, promoted)


def declared_paths(dvc_yaml: str, artifact: str) -> tuple[str, str, str]:
    """The model, validation trips and metrics paths that dvc.yaml declares."""
    from dvc.repo import Repo

    with Repo() as repo:
        declared = {
            name: found for found_in in repo.artifacts.read().values() for name, found in found_in.items()
        }
    if artifact not in declared:
        raise InputError(dvc_yaml, f"declares no artifact '{artifact}'")
    val, metrics_path = paths_named(["val", "metrics"], dvc_yaml)
    return declared[artifact].path, val, metrics_path


def require_clean_workspace() -> None:
    """Refuse a workspace whose pipeline or tracked files differ from HEAD: HEAD is what gets tagged."""
    from dvc.repo import Repo

    with Repo() as repo:
        stale = repo.status()
    if stale or git("status", "--porcelain", "--untracked-files=no"):
        raise InputError("dvc.lock", "workspace differs from HEAD: run dvc repro, commit, then publish")


def push_to_dvc_remote() -> None:
    """`dvc push`: before any tag names the model, so consumers can always fetch it."""
    from dvc.repo import Repo

    try:
        with Repo() as repo:
            repo.push()
    except Exception as error:  # DVC raises many kinds: no remote, an unreachable one, a missing cache entry
        raise InputError("dvc push", f"{one_line(error)}; nothing is registered") from None


def register(artifact: str, version: str | None, how: str, bump: str | None, challenger_rmse: float) -> str:
    """Register HEAD with GTO unless `version` is already there; the version HEAD's model is."""
    if version is not None:
        print(f"publish: {artifact}@{version} already registered ({how})")
        return version
    note = f"{artifact}: {how}; val rmse {challenger_rmse:.4f}"
    version = registry.register(".", "HEAD", bump, note, artifact)
    print(f"publish: {artifact}@{version} registered ({how})")
    return version


def promote(artifact: str, version: str, decision: Decision) -> None:
    """Assign the decision's stage to `version` where it won and does not hold it yet; say what happened."""
    stage, champion = decision.stage, decision.champion
    rmse = f"val rmse {decision.challenger_rmse:.4f}"
    if champion == version:
        print(f"publish: {version} already in {stage}")
    elif decision.promoted:
        versus = f" <= {decision.champion_rmse:.4f} of {champion}" if champion else ", no champion"
        note = f"{stage}: {version} ({rmse}{versus})"
        registry.assign(".", version, stage, note, artifact)
        print(f"publish: {note}")
    else:
        print(f"publish: {stage} stays on {champion} ({rmse} > {decision.champion_rmse:.4f})")


def origin_url() -> str:
    """Where consumers clone the project from; `.` where there is no origin."""
    origin = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True)
    return origin.stdout.strip() or "."


def card_of(
    artifact: str,
    version: str,
    how: str,
    decision: Decision,
    metrics_path: str,
    params_path: str,
    data_dvc: str,
    site_url: str,
) -> str:
    """The model card of `version`, from the files of the workspace and the version's tag."""
    scores = json.loads(Path(metrics_path).read_text(encoding="utf-8"))
    commit = git("rev-list", "-n", "1", f"{artifact}@{version}")  # HEAD unless the model is unchanged
    months = data_months(read_yaml(data_dvc))
    params = read_yaml(params_path)
    return model_card(
        artifact, version, commit, origin_url(), how, scores, params, months, decision, site_url
    )


def push_tags(artifact: str) -> None:
    """Push every tag of the artifact: also those an earlier, failed run left unpushed."""
    refspecs = [f"refs/tags/{artifact}{sign}*:refs/tags/{artifact}{sign}*" for sign in "@#"]
    git("push", "-q", "origin", *refspecs)


@dataclass(frozen=True)
class Published:
    """What a run of publish left: the version HEAD's model is, how it follows, the stage's decision."""

    version: str
    how: str
    decision: Decision


def publish(
    artifact: str,
    stage: str,
    *,
    tolerance: float,
    push: bool,
    card: str | Path,
    params: str,
    data_dvc: str,
    site_url: str,
) -> Published:
    """Push, register, compare and promote HEAD's model, then write its card; with `push`, sync tags."""
    if push:
        git("fetch", "--tags", "origin")
    require_clean_workspace()
    model_path, val_path, metrics_path = declared_paths("dvc.yaml", artifact)
    version, how, bump = choose_version(artifact, model_path)
    push_to_dvc_remote()
    import pandas as pd

    val = pd.read_parquet(val_path)
    challenger_rmse = val_rmse(model_path, val)
    version = register(artifact, version, how, bump, challenger_rmse)
    decision = compare(artifact, stage, version, challenger_rmse, val, tolerance)
    promote(artifact, version, decision)
    write_text(card, card_of(artifact, version, how, decision, metrics_path, params, data_dvc, site_url))
    if push:
        push_tags(artifact)
    return Published(version, how, decision)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration publish", description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="reports/model-card.md", help="output: model card (%(default)s)")
    parser.add_argument("--artifact", default=registry.ARTIFACT, help="name in dvc.yaml's artifacts")
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--tolerance", type=float, default=0.0, help="minutes of RMSE a challenger may lose")
    parser.add_argument("--push", action="store_true", help="fetch tags from origin first, push them last")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--data-dvc", default="data.dvc")
    parser.add_argument(
        "--site-url", default=os.environ.get("SITE_URL", ""), help="the project site: the card links to it"
    )
    args = parser.parse_args(argv)
    publish(
        args.artifact,
        args.stage,
        tolerance=args.tolerance,
        push=args.push,
        card=args.card,
        params=args.params,
        data_dvc=args.data_dvc,
        site_url=args.site_url,
    )


if __name__ == "__main__":
    run(main)
