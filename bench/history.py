"""A synthetic history of this repository, real git and real GTO tags, for timing `trip-duration site`.

    python -m bench.history OUT [--commits 500] [--versions 100] [--seed 0]

OUT becomes a git repository holding this pipeline's tracked files, then main grows to --commits
commits, each an experiment: one change to params.yaml (model, alpha, features, training rows) with
the dvc.lock, metrics, plots and backtest it would give. Now and then a new TLC month arrives
(data.dvc) and is monitored on prod (monitoring/YYYY-MM.json, history.csv); an alerting month leaves
a `retrain/YYYY-MM` branch of one commit and its retrain lands on main next. Every
(commits / versions)-th commit registers a version; a version no worse than prod, or trained on a
new window, is assigned `prod`, and some others `staging`. Two pull-request branches and three
`dvc exp push` refs (refs/exps/...) start at main's tip. Commits go in through `git fast-import`,
dated from the seed; the tags are GTO's own (its Python API), dated minutes after their commits.
Prints what it made and how long it took. Expected output (commits 500, versions 100):
    history: /tmp/h500: 500 commits on main, 100 versions, 30 prod and 27 staging assignments,
      20 monitored months; made in 72.9 s (git 4.6 s, GTO 68.3 s: each GTO call reads every tag)
"""

import argparse
import contextlib
import copy
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import history_files as files
from bench.git_import import Commit, fast_import, source_files
from trip_duration import monitoring
from trip_duration_ops.registry import ARTIFACT, FIRST_VERSION

START = 1_681_084_800  # 2023-04-10, just after the last month data.dvc holds (2023-03)
FIRST_MONTH = (2023, 4)
HOUR = 3600
T = TypeVar("T")
PUBLISH_DELAY = 600  # seconds from a commit on main to its version's tag
CHOICES = {"model": ["linear", "ridge", "gram_ridge", "lasso"], "features": ["course", "time", "zones"]}


@dataclass
class Release:
    """A version GTO registers at a commit, and the stages it is assigned to."""

    mark: int
    version: str
    stages: list[str]
    message: str


@dataclass
class Story:
    """main's files as they stand, and what the registry holds so far."""

    source: dict[str, bytes]  # the pipeline's files as this repository holds them
    tip: dict[str, bytes]
    rng: random.Random
    choices: dict[str, dict]
    window_rmse: float = 0.0
    rmse: float = 0.0
    releases: list[Release] = field(default_factory=list)
    prod: tuple[str, float, list[str]] | None = None  # version, its rmse, its validation months
    history_rows: list[dict[str, Any]] = field(default_factory=list)
    parsed: dict[str, tuple[bytes, Any]] = field(default_factory=dict)  # the last parse of each file

    def read(self, path: str) -> Any:
        """A YAML file of main's tip, parsed (once for each content), to change freely."""
        content = self.tip[path]
        if path not in self.parsed or self.parsed[path][0] is not content:
            self.parsed[path] = (content, files.load_yaml(content))
        return copy.deepcopy(self.parsed[path][1])

    def yaml_file(self, path: str, found: dict[str, Any]) -> bytes:
        """`found` as the YAML file at `path`, remembered parsed for the next read."""
        content = files.yaml_file(found)
        self.parsed[path] = (content, copy.deepcopy(found))
        return content

    def rerun(self, params: dict[str, Any], stages: list[str], message: str) -> dict[str, bytes]:
        """The files `dvc repro` of `stages` would change with `params`, its rmse drawn from the seed."""
        self.rmse = files.expected_rmse(params, self.window_rmse, self.rng)
        base = json.loads(self.source["reports/metrics.json"])  # plots and metrics: the real ones, scaled
        written = {"params.yaml": self.yaml_file("params.yaml", params)}
        written["reports/metrics.json"] = files.json_file(files.metrics(self.rmse, base, self.rng))
        ratio = self.rmse / base["rmse"]
        for path in [p for p in self.tip if p.startswith("reports/") and p.endswith(".csv")]:
            written[path] = files.scale_csv(self.source[path].decode(), ratio)
        if (reference := "reports/reference.json") in self.source:  # predictions scale with the error
            scaled = {
                key: round(value * ratio, 4) for key, value in json.loads(self.source[reference]).items()
            }
            written[reference] = files.json_file(scaled)
        lock = files.relock(self.read("dvc.lock"), params, stages, written, self.rng)
        written["dvc.lock"] = self.yaml_file("dvc.lock", lock)
        self.tip |= written
        return written

    def aside(self, change: Callable[[], T]) -> T:
        """`change` made off main's tip, which stays where it was: a branch's or an experiment's."""
        saved = (dict(self.tip), self.rmse)
        try:
            return change()
        finally:
            self.tip, self.rmse = saved

    def experiment(self) -> tuple[str, dict[str, bytes]]:
        params = self.read("params.yaml")
        what = files.tweak_params(params, self.choices, self.rng)
        return what, self.rerun(params, ["train", "evaluate", "monitor"], what)

    def new_month(self, month: str, alert: bool) -> dict[str, bytes]:
        """data.dvc with `month`, and prod's monitoring record of it; an alert when `alert`."""
        data_dvc = files.with_month(self.read("data.dvc"), month, self.rng)
        lock = self.read("dvc.lock")
        files.set_md5(lock, "data", data_dvc["outs"][0]["md5"], data_dvc["outs"][0]["size"])
        months = sorted(name[15:22] for name in data_dvc["meta"]["files"])
        version, rmse, _ = self.prod
        params = self.read("params.yaml")
        record = files.monitoring_record(month, version, rmse, params, months, alert, self.rng)
        self.history_rows.append(monitoring.history_row(record))
        written = {
            "data.dvc": self.yaml_file("data.dvc", data_dvc),
            "dvc.lock": self.yaml_file("dvc.lock", lock),
            f"monitoring/{month}.json": files.json_file(record),
            "monitoring/history.csv": monitoring.history_csv(self.history_rows).encode(),
        }
        self.tip |= written
        return written

    def retrain(self, month: str, before: str) -> dict[str, bytes]:
        """Train on the month before `month`, validate on it: every stage runs again."""
        params = self.read("params.yaml")
        params["data"] |= {"train_months": [before], "val_months": [month]}
        self.window_rmse += self.rng.gauss(0, 0.25)
        return self.rerun(params, ["prepare", "train", "evaluate", "monitor"], f"retrain on {month}")

    def release(self, mark: int) -> Release:
        """Register the commit's model: minor after a new window, else patch; promote if no worse."""
        window = self.read("params.yaml")["data"]["val_months"]
        if not self.releases:
            version = FIRST_VERSION
        else:
            major, minor, patch = map(int, self.releases[-1].version[1:].split("."))
            new_window = self.prod is not None and self.prod[2] != window
            version = f"v{major}.{minor + 1}.0" if new_window else f"v{major}.{minor}.{patch + 1}"
        stages = []
        if self.prod is None or self.prod[2] != window or self.rmse <= self.prod[1]:
            self.prod = (version, self.rmse, window)
            stages.append("prod")
        elif self.rng.random() < 0.4:
            stages.append("staging")
        release = Release(mark, version, stages, f"{ARTIFACT}: val rmse {self.rmse:.4f}")
        self.releases.append(release)
        return release


def month_name(index: int) -> str:
    year, month = divmod(FIRST_MONTH[0] * 12 + FIRST_MONTH[1] - 1 + index, 12)
    return f"{year}-{month + 1:02d}"


def plan(tip: dict[str, bytes], commits: int, versions: int, seed: int) -> tuple[list[Commit], Story]:
    """Every commit of the history, in order, and the story (with its releases) they tell."""
    rng = random.Random(seed)
    conf = {
        kind: {n: files.load_yaml(tip[f"conf/{kind}/{n}.yaml"]) for n in names}
        for kind, names in CHOICES.items()
    }
    story = Story(tip, dict(tip), rng, conf)
    story.window_rmse = story.rmse = json.loads(tip["reports/metrics.json"])["rmse"]
    every = max(1, commits // max(versions, 1))
    month_every = max(4, min(25, commits // 4))  # 20 months in 500 commits, 4 in 20
    hours = 30 * 24 // month_every
    history: list[Commit] = []
    merge_next, months = None, 0  # a retrain's pull request, merged by main's next commit
    for number in range(1, commits + 1):
        when, pull = START + number * hours * HOUR, None
        if number == 1:
            message, changed = "project: the trip-duration pipeline", dict(tip)
        elif merge_next:
            message, changed, story.rmse = merge_next
            story.tip |= changed
            merge_next = None
        elif number % month_every == month_every // 2 and story.prod:
            month, alert = month_name(months), months % 3 == 1  # every third month alerts
            months += 1
            changed = story.new_month(month, alert)
            message = f"retrain check: {month} monitored on prod {story.prod[0]}" + (
                ": ALERT" if alert else ""
            )
            if alert:
                # main takes the retrain in its next commit, after the pull request
                before = month_name(months - 2)
                retrain, rmse = story.aside(lambda m=month, b=before: (story.retrain(m, b), story.rmse))
                merge_next = (f"Merge retrain/{month}: retrain on {month} (#{months})", retrain, rmse)
                pull = Commit(
                    -number,
                    f"refs/heads/retrain/{month}",
                    f"retrain on {month}",
                    retrain,
                    number,
                    when + HOUR,
                )
        else:
            message, changed = story.experiment()
        history.append(Commit(number, "refs/heads/main", message, changed, number - 1 or None, when))
        history += [pull] if pull else []
        if number % every == 0 and len(story.releases) < versions:
            story.release(number)
    return history, story


def side_commits(story: Story, tip_mark: int, when: int) -> list[Commit]:
    """Two pull-request branches off main's tip, each one experiment."""
    tried = [story.aside(story.experiment) for _ in range(2)]
    return [
        Commit(
            -(10**6 + n), f"refs/heads/experiment/{what.split(':')[0]}-{n + 1}", what, changed, tip_mark, when
        )
        for n, (what, changed) in enumerate(tried)
    ]


def exp_commits(story: Story, tip_sha: str, when: int) -> list[Commit]:
    """Three experiments as `dvc exp push` leaves them: refs/exps/<baseline sha split 2/38>/<name>."""
    tried = [(story.aside(story.experiment), story.rng.getrandbits(20)) for _ in range(3)]
    base = f"refs/exps/{tip_sha[:2]}/{tip_sha[2:]}"
    return [
        Commit(-(2 * 10**6 + n), f"{base}/exp-{name:05x}", what, changed, tip_sha, when + n * HOUR)
        for n, ((what, changed), name) in enumerate(tried)
    ]


@contextlib.contextmanager
def committer_date(when: int) -> Iterator[None]:
    """Tags made inside are dated `when`: git reads GIT_COMMITTER_DATE for the tagger's date."""
    before = os.environ.get("GIT_COMMITTER_DATE")
    os.environ["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    try:
        yield
    finally:
        if before is None:
            del os.environ["GIT_COMMITTER_DATE"]
        else:
            os.environ["GIT_COMMITTER_DATE"] = before


def register_all(
    repo: Path, releases: list[Release], commits: dict[int, Commit], shas: dict[int, str]
) -> None:
    """The versions and their stages, in order, through GTO's API: annotated tags GTO itself makes,
    dated a few minutes after their commits, as a publish after a merge would.

    GTO orders a stage's assignments by their tags' dates, so the dates must differ: pygit2 makes
    no tag with a set date and hands it to gitpython, whose `git tag` honours it."""
    from gto.api import assign, register
    from scmrepo.git import Git

    scm = Git(str(repo), backends=["pygit2", "gitpython"])
    try:
        for release in releases:
            when = commits[release.mark].when + PUBLISH_DELAY
            with committer_date(when):
                register(scm, ARTIFACT, shas[release.mark], version=release.version, message=release.message)
            for offset, stage in enumerate(release.stages, start=1):
                with committer_date(when + offset):
                    assign(
                        scm, ARTIFACT, stage, version=release.version, message=f"{stage}: {release.version}"
                    )
    finally:
        scm.close()


def make_history(out: Path, commits: int, versions: int, seed: int) -> tuple[Story, dict[str, float]]:
    """The history at `out` (which must not exist); the story it tells and the seconds each part took."""
    started = time.perf_counter()
    story_commits, story = plan(source_files(), commits, versions, seed)
    tip_when = max(commit.when for commit in story_commits) + HOUR
    story_commits += side_commits(story, commits, tip_when)
    shas = fast_import(out, story_commits)
    fast_import(out, exp_commits(story, shas[commits], tip_when), checkout=False)
    made = time.perf_counter()
    register_all(out, story.releases, {c.key: c for c in story_commits}, shas)
    tagged = time.perf_counter()
    return story, {"commits": made - started, "tags": tagged - made}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the repository to make (must not exist)")
    parser.add_argument("--commits", type=int, default=500, help="commits on main")
    parser.add_argument(
        "--versions", type=int, default=100, help="versions registered, at most one per commit"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists: give a new folder")
    if not 1 <= args.versions <= args.commits:
        parser.error("--versions must be between 1 and --commits")
    story, seconds = make_history(args.out, args.commits, args.versions, args.seed)
    stages = [stage for release in story.releases for stage in release.stages]
    print(
        f"history: {args.out}: {args.commits} commits on main, {len(story.releases)} versions,"
        f" {stages.count('prod')} prod and {stages.count('staging')} staging assignments,"
        f" {len(story.history_rows)} monitored months; made in {sum(seconds.values()):.1f} s"
        f" (git {seconds['commits']:.1f} s, GTO {seconds['tags']:.1f} s)"
    )


if __name__ == "__main__":
    main()
