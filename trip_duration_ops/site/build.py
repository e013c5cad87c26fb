"""Build the static site: every page from the repository's git record, written into one folder.

    trip-duration site [--repo .] [--out site] [--branch main]

Pages share one copy of the scripts and styles under assets/ (the Vega bundle that vl-convert
ships, the site's own script and style), and each run's plots live in runs/<key>.js, loaded by a
plain <script> so that the pages work from file:// as from any static host: no request leaves
the folder.
"""

import argparse
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trip_duration.errors import InputError
from trip_duration.files import atomic_folder
from trip_duration_ops.registry import ARTIFACT, check_repo
from trip_duration_ops.site import charts, docs, pipeline_view
from trip_duration_ops.site.gitdata import Blobs, commits, git
from trip_duration_ops.site.monitoring_view import records, retrain_outcome
from trip_duration_ops.site.registry_view import events, held, stage_spans, versions
from trip_duration_ops.site.runs import SCORES, Run, differing, main_runs, plot_rows, run_at, side_runs

HERE = Path(__file__).parent


def environment() -> Any:
    import jinja2
    import markupsafe

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json"] = lambda value: markupsafe.Markup(  # inside <script>: only "</" needs escaping
        json.dumps(value, separators=(",", ":"), default=str).replace("</", "<\\/")
    )
    return env


def plot_files(plots: list[dict[str, Any]]) -> set[str]:
    return {file for plot in plots for file, _ in plot["series"]}


def write_run(out: Path, run: Run, blobs: Blobs, files: set[str]) -> None:
    """runs/<key>.js: the run and its plots' rows, handed to the page by a call to siteRun()."""
    data = {**run.row(), "plots": {file: plot_rows(blobs.read(run.commit.sha, file)) for file in files}}
    text = json.dumps(data, separators=(",", ":"), default=str)
    (out / "runs" / f"{run.key}.js").write_text(f"siteRun({text});\n", encoding="utf-8")


def build(
    repo: Path, out: Path, branch: str, artifact: str = ARTIFACT, origin: str | None = None
) -> list[str]:
    """Write the site for `repo`'s `branch` into `out` (replaced whole); the pages written."""
    check_repo(repo)
    repo = repo.resolve()
    resolved = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}"], cwd=repo, capture_output=True
    )
    if resolved.returncode != 0:
        raise InputError(repo, f"has no branch {branch!r} (--branch names the one whose history is shown)")
    if out.exists() and not out.is_dir():
        raise InputError(out, "is a file, not a folder: the site is written as a folder")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    head = commits(repo, branch, limit=1)[0]
    if origin is None:
        remote = git(repo, "config", "--default", "", "--get", "remote.origin.url").strip()
        origin = remote or str(repo)
    with Blobs(repo) as blobs, atomic_folder(out) as tmp:
        (tmp / "runs").mkdir(parents=True)
        (tmp / "versions").mkdir()
        (tmp / "docs").mkdir()
        shutil.copytree(HERE / "static", tmp / "assets")
        import vl_convert

        bundle = vl_convert.javascript_bundle()  # type: ignore[call-arg]  # the stub lacks snippet's default
        (tmp / "assets" / "vega.js").write_text(bundle, encoding="utf-8")

        mains = main_runs(blobs, repo, branch)
        sides = side_runs(blobs, repo, branch, {run.model_md5 for run in mains})
        current = run_at(blobs, head, "main", f"{branch} ({head.sha[:8]})", "current")
        if current is None:
            raise InputError(f"{repo}@{branch}", "has no dvc.lock: run dvc repro and commit first")
        pipeline = pipeline_view.describe(blobs, head.sha)
        files = plot_files(pipeline["plots"])

        def backtest_rows(sha: str, path: str) -> list[dict[str, Any]]:
            return plot_rows(blobs.read(sha, path))

        found = versions(repo, blobs, artifact, backtest_rows)
        history = events(repo, artifact)
        by_commit = {version.commit: version.version for version in found}
        for run in [*mains, *sides, current]:
            run.version = by_commit.get(run.commit.sha)
            run.stages = next((v.stages for v in found if v.version == run.version), [])
            write_run(tmp, run, blobs, files)

        monitored = records(blobs, head.sha)
        models = {run.model_md5: run for run in reversed(mains) if run.model_md5}  # the first to have it
        for record in monitored:
            record["retrain_outcome"] = retrain_outcome(repo, blobs, record, branch, models)
        prod = next((v for v in reversed(found) if "prod" in v.stages), None)
        prod_records = [r for r in monitored if prod and r.get("model", {}).get("version") == prod.version]

        pages = docs.pages(blobs, head.sha)
        context = {
            "branch": branch,
            "head": head,
            "built": now,
            "artifact": artifact,
            "origin": origin,
            "nav_docs": [(page["name"], page["title"]) for page in pages],
        }
        env = environment()
        written = []

        def page(template: str, path: str, **values: Any) -> None:
            depth = path.count("/")
            html = env.get_template(template).render(**context, root="../" * depth, path=path, **values)
            (tmp / path).write_text(html, encoding="utf-8")
            written.append(path)

        runs = [*mains, *sides]
        page(
            "index.html",
            "index.html",
            prod=prod,
            last=prod_records[-1] if prod_records else None,
            versions=found,
            runs=runs,
            records=monitored,
        )
        spans, kept = stage_spans(history, now), held(history, found)  # once, for every page
        page(
            "registry.html",
            "registry.html",
            versions=found,
            events=history,
            held=kept,
            timeline=charts.stage_timeline(spans),
        )
        for number, version in enumerate(found):
            page(
                "version.html",
                f"versions/{version.version}.html",
                version=version,
                held=kept,
                previous=found[number - 1] if number else None,
                events=[e for e in history if e["version"] == version.version],
                run_key=next((r.key for r in mains if r.commit.sha == version.commit), None),
            )
        rows = [run.row() for run in runs]
        page(
            "experiments.html",
            "experiments.html",
            runs=rows,
            columns=differing(runs),
            scores=SCORES,
            rmse_chart=charts.rmse_over_commits(rows),
        )
        page("compare.html", "compare.html", runs=rows, plots=pipeline["plots"])
        quality_keys = sorted({key for record in monitored for key in record.get("quality") or {}})
        page(
            "monitoring.html",
            "monitoring.html",
            records=monitored,
            monitor_charts=charts.monitoring(monitored),
            quality_keys=quality_keys,
            backtest_chart=charts.backtests(found),
        )
        page("pipeline.html", "pipeline.html", pipeline=pipeline, current=current.row())
        for doc in pages:
            page("doc.html", f"docs/{doc['name']}.html", doc=doc)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (%(default)s)")
    parser.add_argument(
        "--out", type=Path, default=Path("site"), help="output folder, replaced (%(default)s)"
    )
    parser.add_argument("--branch", default="main", help="the branch that publishes (%(default)s)")
    parser.add_argument("--artifact", default=ARTIFACT, help="the GTO artifact (%(default)s)")
    parser.add_argument("--origin", help="the repository URL the `get` lines name (origin's URL)")
    args = parser.parse_args(argv)
    written = build(args.repo, args.out, args.branch, args.artifact, args.origin)
    print(f"site: {len(written)} pages in {args.out}/ ({args.out}/index.html)")


if __name__ == "__main__":
    from trip_duration.errors import run

    run(main)
