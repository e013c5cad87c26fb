"""The closed loop: each new TLC month is monitored, recorded on main, and may retrain the model by PR.

    trip-duration fetch --new         # first: the months TLC has published since data.dvc's newest
    trip-duration retrain check       # monitor prod on them, decide, commit month + records to main
    trip-duration retrain propose     # the retrain pull request for the newest month that decided one

Run on main, in a clone with full history and tags whose DVC remote is reachable (the scheduled
workflow .github/workflows/retrain.yml runs exactly these). Each step does nothing when there is
nothing to do, and running it again changes nothing, so a failed run is mended by the next.

`check`: the months that data.dvc records after the `prod` model's validation window and that have
no monitoring record yet are monitored (as `trip-duration monitor --stage prod`), and each record
gets the decision of params.yaml's `retrain` section (conf/retrain/default.yaml): `when: alert`
retrains on an alert about the model (not on too few trips: that is a data problem), `always` on
every month, `never` on none; the new window trains on the `train_window` months before the month
and validates on it. Then `dvc add data`, `dvc repro` (the model does not change: only the backtest
gains the month), one commit of the month and its records, `dvc push`, `git push` to main. The
month reaches main whatever the decision: it changes no model, so no version is published for it.

`propose`: when the newest monitored month decided a retrain (a later month supersedes it), unless
main already trains on its window, branch `retrain/YYYY-MM` from main: the window written into
conf/ and composed into params.yaml, `dvc repro`, one commit, `dvc push`, `git push --force`, then
`trip-duration report --base origin/main` (the gate: the challenger against main's model on the
new validation trips) and the pull request through `gh`, created or updated; nothing is pushed or
edited when origin's branch already holds the same tree and its PR is open. With
`auto_merge: true`, GitHub's auto-merge (squash) is requested: the PR merges itself once its
required checks pass (level 4); with false, a person merges it (level 3). The PR body holds the
trigger (the monitoring numbers against their thresholds) and the report.
Expected output:
    retrain: 2022-05 monitored on prod v0.1.0: ALERT (max_rmse_increase_pct 11.07 > 10.0): retrain (train
    on 2022-04, validate on 2022-05)
    retrain: committed data and records for 2022-05 to main
    retrain: proposed retrain/2022-05 (train on 2022-04, validate on 2022-05), gate passes: PR #1 created
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, cast

import yaml

from trip_duration.errors import InputError, run
from trip_duration.files import read_yaml, write_text
from trip_duration.params import Data, read_section
from trip_duration_ops import monitor, registry
from trip_duration_ops.catalog import data_months
from trip_duration_ops.gitops import changed_files, git, rev, tool

DATA_PROBLEM = "min_trips"  # the reason that says the month, not the model, is wrong
BRANCH = "retrain/{month}"


def reason_text(reason: dict[str, Any]) -> str:
    """`max_rmse_increase_pct 11.04 > 10.0`; too few trips reads `min_trips 812 < 1000`."""
    sign = "<" if reason["name"] == DATA_PROBLEM else ">=" if reason["name"] == "max_drifted_share" else ">"
    return f"{reason['name']} {reason['value']} {sign} {reason['threshold']}"


def decide(record: dict[str, Any], rules: dict[str, Any], months: list[str]) -> dict[str, Any]:
    """Whether a monitored month retrains, why, and the window it would train and validate on."""
    month, reasons = record["month"], record["reasons"]
    before = [m for m in months if m < month][-rules["train_window"] :]
    window = {"train_months": before, "val_months": [month]}
    if rules["when"] == "never":
        retrain, why = False, "policy: never"
    elif any(reason["name"] == DATA_PROBLEM for reason in reasons):
        retrain, why = False, f"a data problem, not the model's: {reason_text(reasons[0])}"
    elif rules["when"] == "always":
        retrain, why = True, "policy: always"
    elif reasons:
        retrain, why = True, "alert: " + "; ".join(reason_text(reason) for reason in reasons)
    else:
        retrain, why = False, "no alert"
    if retrain and not before:
        retrain, why = False, f"{why}; but data.dvc holds no month before {month} to train on"
    return {"retrain": retrain, "when": rules["when"], "why": why, **window}


def window_text(decision: dict[str, Any]) -> str:
    return f"train on {', '.join(decision['train_months'])}, validate on {', '.join(decision['val_months'])}"


def verdict(record: dict[str, Any]) -> str:
    """What the month's record says: `ALERT (reasons)` or `ok`."""
    return f"ALERT ({'; '.join(map(reason_text, record['reasons']))})" if record["alert"] else "ok"


def trigger(record: dict[str, Any]) -> str:
    """Why a retrain was decided, with the record's alert where the policy, not the alert, decided it."""
    why = record["decision"]["why"]
    if why.startswith("alert: "):
        return why
    return f"{why}; {verdict(record) if record['alert'] else 'no alert'}"


def month_summary(record: dict[str, Any]) -> str:
    """A month in the commit message: `2022-05 ALERT (…): retrain`, `2023-04 ok: retrain (policy: always)`."""
    decision = record["decision"]
    if not decision["retrain"]:
        kept = f": no retrain ({decision['why']})" if record["alert"] else ""
        return f"{record['month']} {verdict(record)}{kept}"
    why = "" if decision["why"].startswith("alert: ") else f" ({decision['why']})"
    return f"{record['month']} {verdict(record)}: retrain{why}"


def pr_body(record: dict[str, Any], report: str, gate_passes: bool, auto_merge: bool) -> str:
    """The pull request's description: the trigger with its numbers, the plan, then the report."""
    decision, metric = record["decision"], record["metrics"]
    lines = [
        f"Retrain on {record['month']}: {trigger(record)}.",
        "",
        f"- monitored model: {record['model']['name']} {record['model']['version']} (`prod`), validated on"
        f" {', '.join(record['reference']['months'])} (rmse {record['reference']['rmse']})",
        f"- {record['month']}: {metric['rows']:,} trips, rmse {metric['rmse']}"
        f" ({metric['rmse_increase_pct']:+}% against validation),"
        f" drifted share {record['drift']['drifted_share']}, prediction drift"
        f" {record['drift']['prediction']['score']}",
        f"- new window: {window_text(decision)}",
        f"- gate: {'passes' if gate_passes else 'fails'}; "
        + (
            "merges itself once the checks pass (retrain.auto_merge: true)"
            if auto_merge
            else "a person reviews and merges (retrain.auto_merge: false)"
        ),
        "",
        "---",
        "",
        report.split("\n## Plots")[0].rstrip() + "\n\n(Plots: in the pull-request workflow's comment.)",
    ]
    return "\n".join(lines) + "\n"


def dvc_repo():
    from dvc.repo import Repo

    return Repo()


def check(args: argparse.Namespace) -> None:
    """Monitor prod on the months not yet monitored; commit them and their records to main."""
    rules = read_section(args.params, "retrain").model_dump()
    stray = [path for path in changed_files() if path != str(args.data_dvc)]
    if stray:
        raise InputError(stray[0], "differs from HEAD: retrain check commits to main, so it starts clean")
    prod = registry.stage_version(".", "prod")
    if prod is None:
        print("retrain: no model in prod to monitor: publish one first")
        return
    commit = registry.version_commit(".", prod)
    # prod's taxi and window: params.yaml at its commit
    data = cast(Data, registry.params_at(".", commit).section("data"))
    months = data_months(read_yaml(args.data_dvc), data.taxi)
    after = max(data.val_months)
    todo = [m for m in months if m > after and not (args.out / f"{m}.json").exists()]
    if not todo:
        print(f"retrain: no new month to monitor after {after}")
        return
    watch = monitor.watch_of(args.params, ".", version=prod, stage=None, model_path=None)
    reference = monitor.reference_of(watch, args.data_dir)

    def then(record: dict[str, Any]) -> None:
        record["decision"] = decide(record, rules, months)

    records = [
        monitor.record_month(watch, reference, args.data_dir, month, args.out, args.reports, then)
        for month in todo
    ]
    monitor.write_history(args.out)
    for record in records:
        decision, version = record["decision"], record["model"]["version"]
        by = "" if decision["why"].startswith("alert: ") else f"{decision['why']}; "
        plan = f"retrain ({by}{window_text(decision)})"
        plan = plan if decision["retrain"] else f"no retrain: {decision['why']}"
        print(f"retrain: {record['month']} monitored on prod {version}: {verdict(record)}: {plan}")
    with dvc_repo() as repo:
        repo.add(str(args.data_dir))
        repo.reproduce()
    git("add", str(args.data_dvc), str(args.out), "dvc.lock", "reports")
    summary = ", ".join(map(month_summary, records))
    git("commit", "-q", "-m", f"data: {' '.join(todo)} monitored on prod {watch.name['version']} ({summary})")
    with dvc_repo() as repo:
        repo.push()
    git("push", "-q", "origin", "HEAD:refs/heads/main")
    print(f"retrain: committed data and records for {' '.join(todo)} to main")


def newest_record(out: Path) -> dict[str, Any] | None:
    """The newest monitoring record: a later month supersedes an earlier month's retrain."""
    newest = max(out.glob("????-??.json"), default=None)
    return None if newest is None else json.loads(newest.read_text(encoding="utf-8"))


def write_window(params: Path, conf: Path, decision: dict[str, Any]) -> None:
    """The new window into params.yaml, then into the conf/ file that sets it, then composed back."""
    from trip_duration_ops.conf_diff import compose
    from trip_duration_ops.conf_sync import sync

    tree = yaml.safe_load(params.read_text(encoding="utf-8"))
    tree["data"] = {
        **tree["data"],
        "train_months": decision["train_months"],
        "val_months": decision["val_months"],
    }
    write_text(params, yaml.safe_dump(tree, sort_keys=False))
    sync(conf, params, "config", dry_run=False)
    compose(conf, "config", [], params)


def gh(*args: str) -> str:
    """GitHub's CLI (GH_TOKEN in the environment); a failure is one error line."""
    return tool("gh", *args)


def pull_request_of(branch: str) -> str | None:
    """The number of the open pull request of `branch`, if there is one."""
    found = gh("pr", "list", "--head", branch, "--state", "open", "--json", "number", "--jq", ".[].number")
    return found.split()[0] if found else None


def open_pull_request(branch: str, title: str, body: str, auto_merge: bool) -> str:
    """Create the PR of `branch`, or update the one open for it; request auto-merge (squash)."""
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as file:
        file.write(body)
    try:
        number = pull_request_of(branch)
        if number is not None:
            gh("pr", "edit", number, "--title", title, "--body-file", file.name)
            done = f"PR #{number} updated"
        else:
            created = ["--head", branch, "--base", "main", "--title", title, "--body-file", file.name]
            number = gh("pr", "create", *created).rstrip("/").rsplit("/", 1)[-1]
            done = f"PR #{number} created"
        if auto_merge:
            gh("pr", "merge", number, "--auto", "--squash")
    finally:
        os.unlink(file.name)
    return done


def propose(args: argparse.Namespace) -> None:
    """The retrain branch and pull request for the newest month that decided one."""
    rules = read_section(args.params, "retrain").model_dump()
    data = read_section(args.params, "data").model_dump()
    record = newest_record(args.out)
    if record is None or "decision" not in record:
        print("retrain: no month monitored by the loop yet")
        return
    decision = record["decision"]
    if not decision["retrain"]:
        print(f"retrain: the newest month, {record['month']}, decided no retrain ({decision['why']})")
        return
    window = {key: decision[key] for key in ("train_months", "val_months")}
    if {key: data[key] for key in window} == window:
        print(f"retrain: main already trains on {record['month']}'s window ({window_text(decision)})")
        return
    changed = changed_files()
    if changed:
        raise InputError(changed[0], "differs from HEAD: retrain propose branches from main, clean")
    branch = BRANCH.format(month=record["month"])
    start = git("rev-parse", "--abbrev-ref", "HEAD")
    git("checkout", "-q", "-B", branch)
    try:
        write_window(Path(args.params), args.conf, decision)
        with dvc_repo() as repo:
            repo.reproduce()
        git("add", str(args.conf), args.params, "dvc.lock", "reports")
        git("commit", "-q", "-m", f"retrain: {window_text(decision)} ({record['month']}: {trigger(record)})")
        subprocess.run(["git", "fetch", "-q", "origin", branch], capture_output=True)  # absent the first time
        if rev(f"origin/{branch}^{{tree}}") == rev("HEAD^{tree}"):
            number = pull_request_of(branch)
            if number is not None:  # a run again: nothing to change
                print(f"retrain: {branch} and its PR #{number} are up to date")
                return
        else:
            with dvc_repo() as repo:
                repo.push()
            git("push", "-q", "--force", "origin", f"HEAD:refs/heads/{branch}")
        command = [sys.executable, "-m", "trip_duration_ops.report", "--base", "origin/main"]
        done = subprocess.run([*command, "--out", str(args.report)], capture_output=True, text=True)
        if done.returncode not in (0, 1):
            raise InputError("trip-duration report", (done.stderr or done.stdout).strip().splitlines()[-1])
        report = args.report.read_text(encoding="utf-8")
        title = f"Retrain: {window_text(decision)}"
        body = pr_body(record, report, done.returncode == 0, rules["auto_merge"])
        opened = open_pull_request(branch, title, body, rules["auto_merge"])
    finally:
        git("checkout", "-q", "-f", start)
        with dvc_repo() as repo:
            repo.checkout(force=True)
    gate = "gate passes" if done.returncode == 0 else "gate fails"
    print(f"retrain: proposed {branch} ({window_text(decision)}), {gate}: {opened}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration retrain", description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["check", "propose"])
    parser.add_argument("--params", default="params.yaml", help="its `retrain` section is the policy")
    parser.add_argument("--conf", type=Path, default=Path("conf"), help="where the window is written")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--data-dvc", type=Path, default=Path("data.dvc"))
    parser.add_argument("--out", type=Path, default=Path("monitoring"), help="the monitoring records")
    parser.add_argument("--reports", type=Path, default=Path("reports/monitoring"), help="HTML reports")
    parser.add_argument("--report", type=Path, default=Path("report.md"), help="the PR report (propose)")
    args = parser.parse_args(argv)
    check(args) if args.step == "check" else propose(args)


if __name__ == "__main__":
    run(main)
