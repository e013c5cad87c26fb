"""The workflow files themselves, run by act (tests/e2e/act.py) on a throwaway copy of the project.

main holds the course's model; the copy has a bare origin and a DVC remote with main's outputs;
GitHub's API is the recording stand-in of tests/github. pull-request.yml on two pull requests: one
that changes only how many points the plots sample (RMSE unchanged: the gate passes) and one that
swaps in ridge with alpha 2.0 (RMSE +1.41%: the gate fails) and whose own code writes down every
environment it runs in, given the write keys and the read-only ones, and one from a fork (no secrets,
no DVC remote); pr-comment.yml on the first's workflow_run; main.yml on a push of main (publish,
release, then the Pages site), then deploy.yml on that run's workflow_run (and skipping a failed run
or another branch's), and after a prod tag was put on a commit that never reached main (the tag
itself starts nothing); retrain.yml on its schedule (three new months, the last alerting; then the
Pages site, from main as the loop left it). The Pages jobs run `trip-duration site`.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, halve_durations, make_project, mirror_dir, sh, tlc_file, working_tree

from tests.e2e.act import STAND_INS, act, pull_request_event, push_event, schedule_event, workflow_run_event

WORKFLOWS = ROOT / ".github" / "workflows"


@pytest.fixture(scope="module")
def main(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project on main, reproduced, pushed to a bare origin and its outputs to the DVC remote."""
    parent = tmp_path_factory.mktemp("act")
    project = make_project(parent / "project", ["2021-01", "2021-02"])
    shutil.copytree(ROOT / ".github", project / ".github")
    sh("trip-duration", "fetch", "2021-01", "2021-02", cwd=project)
    sh("dvc", "add", "-q", "data", cwd=project)
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "baseline", cwd=project)
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(parent / "origin.git"), cwd=parent)
    sh("git", "remote", "add", "origin", str(parent / "origin.git"), cwd=project)
    sh("git", "push", "-q", "origin", "main", cwd=project)
    sh("dvc", "push", "-q", cwd=project)
    return project


def pull_request(
    main: Path, branch: str, number: int, section: str, values: dict, files: dict[str, str] | None = None
) -> tuple[Path, Path]:
    """A copy of main on `branch` with one params section changed (and `files` written: path -> text),
    reproduced, committed and pushed; the pull_request event's payload beside it."""
    project = main.parent / branch
    shutil.copytree(main, project, symlinks=True)
    sh("git", "checkout", "-qb", branch, cwd=project)
    for name, text in (files or {}).items():
        (project / name).write_text(text)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[section] = values if section == "model" else {**params[section], **values}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("trip-duration", "params", "sync", cwd=project)
    sh("trip-duration", "params", "compose", cwd=project)
    sh("dvc", "repro", cwd=project)
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", f"{section}: {values}", cwd=project)
    sh("git", "push", "-q", "origin", branch, cwd=project)
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    payload = main.parent / f"{branch}-event.json"
    payload.write_text(json.dumps(pull_request_event(number, branch, head)))
    return project, payload


def test_every_action_the_workflows_use_has_a_stand_in_with_its_inputs() -> None:
    files = [*WORKFLOWS.glob("*.yml"), ROOT / ".github" / "actions" / "setup" / "action.yml"]
    used: dict[str, set[str]] = {}
    for path in files:
        document = yaml.safe_load(path.read_text())
        steps = [s for job in document.get("jobs", {}).values() for s in job.get("steps", [])]
        steps += document.get("runs", {}).get("steps", [])
        for step in steps:
            action = str(step.get("uses", ""))
            if action and not action.startswith("./"):
                used.setdefault(action, set()).update(step.get("with", {}))
    assert set(used) == set(STAND_INS)
    for action, inputs in used.items():
        declared = yaml.safe_load((STAND_INS[action] / "action.yml").read_text())["inputs"]
        assert inputs <= set(declared), (action, inputs - set(declared))


@pytest.fixture(scope="module")
def plots(main: Path) -> tuple[Path, Path, str, subprocess.CompletedProcess]:
    """PR #7, fewer plot points, run through pull-request.yml: (project, artifacts, head, act's run)."""
    project, payload = pull_request(main, "plots", 7, "evaluate", {"plot_points": 1000})
    artifacts = main.parent / "plots-artifacts"
    # docs/ci.md's command, run as printed with this payload.
    printed = "python -m tests.e2e.act pull_request pull-request.yml event.json"
    page = (ROOT / "docs" / "ci.md").read_text()
    assert f"`{printed}`" in page or f"\n{printed}\n" in page
    command = printed.replace("event.json", str(payload)).split()[1:]
    done = subprocess.run(
        [sys.executable, *command, "--artifacts", str(artifacts)],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    return project, artifacts, head, done


def test_a_pull_request_that_keeps_the_rmse_runs_to_the_end_with_its_report(plots: tuple) -> None:
    _, artifacts, _, done = plots
    assert done.returncode == 0, done.stdout[-3000:]
    assert "🏁  Job succeeded" in done.stdout
    report = (artifacts / "pr-report" / "report.md").read_text()
    assert report.startswith("✅ **Unchanged**: validation RMSE 7.7587, as on origin/main; passes the gate")
    assert "| evaluate.plot_points | `2000` | `1000` |" in report
    assert (artifacts / "pr-report" / "pr-number").read_text().strip() == "7"
    images = sorted(path.name for path in (artifacts / "pr-report" / "reports" / "pr-images").iterdir())
    assert "reports-plots-predicted_vs_actual.png" in images


def comment_run(plots: tuple, head_sha: str, state: Path) -> subprocess.CompletedProcess:
    """pr-comment.yml on the workflow_run event of the plots PR's pull-request run."""
    project, artifacts, _, _ = plots
    run = {"event": "pull_request", "conclusion": "success", "head_sha": head_sha, "head_branch": "plots",
           "head_repository": {"full_name": "standin/nyc-taxi-duration"}, "id": 1,
           "html_url": "https://github.com/standin/nyc-taxi-duration/actions/runs/1"}  # fmt: skip
    repository = {"default_branch": "main", "private": False, "full_name": "standin/nyc-taxi-duration"}
    payload = state.with_suffix(".event.json")
    payload.write_text(json.dumps({"workflow_run": run, "repository": repository}))
    return act(project, "workflow_run", "pr-comment.yml", payload, artifacts, GH_STANDIN=str(state))


def test_the_comment_is_posted_once_then_updated_and_never_on_a_stale_head(plots: tuple) -> None:
    head = plots[2]
    state = plots[1].parent / "github.json"
    pull = {"number": 7, "head": "plots", "head_sha": head, "base": "main", "state": "open"}
    state.write_text(json.dumps({"pulls": [pull]}))
    for _ in range(2):
        done = comment_run(plots, head, state)
        assert done.returncode == 0, done.stdout[-3000:]
    [comment] = json.loads(state.read_text())["comments"]
    assert (comment["target"], comment["watermark"], comment["updates"]) == (
        "pr/7",
        "trip-duration report",
        1,
    )
    assert comment["body"].startswith("✅ **Unchanged**: validation RMSE 7.7587")
    assert "](https://asset.cml.dev/" in comment["body"] and "](reports/pr-images/" not in comment["body"]
    # A run of an older head: its PR has moved on, so that run's report is not posted.
    stale = comment_run(plots, "0" * 40, state)
    assert stale.returncode == 0, stale.stdout[-3000:]
    assert f"#7 is at {head} now, not {'0' * 40}: its newer run will post" in stale.stdout
    assert json.loads(state.read_text())["comments"] == [comment]


# The repository's secrets in the ridge PR's run: main.yml's write keys and the read-only ones.
WRITE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAWRITEKEY0000", "AWS_SECRET_ACCESS_KEY": "write-secret-5b2f0c"}
READ_KEYS = {
    "DVC_READ_AWS_ACCESS_KEY_ID": "AKIAREADKEY00000",
    "DVC_READ_AWS_SECRET_ACCESS_KEY": "read-secret-9e1d7a",
}
# The ridge PR's own code, as a pull request may change it: its data script and every process that
# imports the library (params check, each DVC stage, the report) write down the environment they got.
PR_DATA_SCRIPT = """#!/usr/bin/env bash
set -euo pipefail
mkdir -p "$STANDIN_ARTIFACTS/environments"
env >"$STANDIN_ARTIFACTS/environments/dvc-data.sh"
dvc pull --allow-missing
echo remote=true >>"$GITHUB_OUTPUT"
"""
PR_LIBRARY_LINES = r"""
import os as _os  # noqa: E402
import sys as _sys  # noqa: E402

if "STANDIN_ARTIFACTS" in _os.environ:
    _folder = _os.path.join(_os.environ["STANDIN_ARTIFACTS"], "environments")
    _os.makedirs(_folder, exist_ok=True)
    with open(_os.path.join(_folder, f"python-{_os.getpid()}"), "w") as _file:
        _file.write(" ".join(_sys.argv) + "\n" + "\n".join(f"{k}={v}" for k, v in _os.environ.items()))
"""


@pytest.fixture(scope="module")
def ridge(main: Path) -> tuple[Path, subprocess.CompletedProcess]:
    """PR #8, ridge with alpha 2.0, whose own code writes down its environments, run through
    pull-request.yml with the repository's write and read-only secrets: (artifacts, act's run)."""
    ridge = {"name": "ridge", "estimator": "sklearn.linear_model.Ridge", "alpha": 2.0}
    library = (ROOT / "trip_duration" / "__init__.py").read_text() + PR_LIBRARY_LINES
    files = {".github/scripts/dvc-data.sh": PR_DATA_SCRIPT, "trip_duration/__init__.py": library}
    project, payload = pull_request(main, "ridge", 8, "model", ridge, files)
    artifacts = main.parent / "ridge-artifacts"
    secrets = {**WRITE_KEYS, **READ_KEYS}
    return artifacts, act(project, "pull_request", "pull-request.yml", payload, artifacts, secrets=secrets)


def test_a_failing_gate_fails_the_job_after_the_report_is_uploaded(ridge: tuple) -> None:
    artifacts, done = ridge
    assert done.returncode != 0
    assert "::error::validation RMSE fails the gate: see the report" in done.stdout
    assert "🏁  Job failed" in done.stdout
    uploaded = done.stdout.index("Success - Main actions/upload-artifact@")
    assert uploaded < done.stdout.index("Failure - Main RMSE gate and dvc.lock")
    report = (artifacts / "pr-report" / "report.md").read_text()
    assert report.startswith("❌ **Worse**: validation RMSE 7.7587 → 7.8679 (+1.41%) against origin/main;")


def test_no_step_that_runs_the_pull_requests_code_sees_a_write_key(ridge: tuple) -> None:
    artifacts, done = ridge
    seen = {path.name: path.read_text() for path in (artifacts / "environments").iterdir()}
    data_step = seen.pop("dvc-data.sh")
    commands = [text.split("\n", 1)[0] for text in seen.values()]
    # The PR's code ran in the data step and in the later steps: params check, the stages, the report.
    assert any("trip-duration params check" in c or c.endswith("trip-duration params") for c in commands), (
        commands
    )
    assert any("stages/train.py" in c for c in commands) and any("report" in c for c in commands), commands
    for value in WRITE_KEYS.values():
        assert value not in done.stdout
        assert [name for name, text in {"dvc-data.sh": data_step, **seen}.items() if value in text] == []
    # The read-only keys reach the data step, as AWS_*, and no other step.
    assert f"AWS_ACCESS_KEY_ID={READ_KEYS['DVC_READ_AWS_ACCESS_KEY_ID']}\n" in data_step
    assert f"AWS_SECRET_ACCESS_KEY={READ_KEYS['DVC_READ_AWS_SECRET_ACCESS_KEY']}\n" in data_step
    for value in READ_KEYS.values():
        assert [name for name, text in seen.items() if value in text] == []


def push_run(
    project: Path, ref: str, workflow: str, state: Path, **variables: str
) -> subprocess.CompletedProcess:
    """`workflow` on a push of `ref` (a branch or a tag) of `project`."""
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    payload = state.with_suffix(f".{workflow}.json")
    payload.write_text(json.dumps(push_event(ref, head)))
    artifacts = project.parent / f"{workflow}-artifacts"
    return act(project, "push", workflow, payload, artifacts, variables, GH_STANDIN=str(state))


def deploy_run(project: Path, state: Path, served: Path, **run: str) -> subprocess.CompletedProcess:
    """deploy.yml of `project` (checked out at main, as GitHub runs it) on the workflow_run event of
    a run of main.yml at main's head: by default one that succeeded on a push to main; `run` changes
    its fields (conclusion, event, branch). Verbose: a job that its `if:` skips says so only there."""
    head = sh("git", "rev-parse", "main", cwd=project).stdout.strip()
    payload = state.with_suffix(".deploy.yml.json")
    payload.write_text(json.dumps(workflow_run_event(head, **run)))
    artifacts = project.parent / "deploy.yml-artifacts"
    variables = {"SERVE_DIR": str(served)}
    return act(
        project,
        "workflow_run",
        "deploy.yml",
        payload,
        artifacts,
        variables,
        verbose=True,
        GH_STANDIN=str(state),
    )


SKIPPED = "Skipping job 'deploy' due to"  # act's line for a job whose `if:` is false
SITE_URL = "https://standin.github.io/nyc-taxi-duration"  # the repository variable: the Pages address


def job_line(done: subprocess.CompletedProcess, workflow: str, job: str, text: str) -> int:
    """Where act's run of `workflow` (its `name:`) first logs `text` for its job `job`; -1: nowhere.
    act pads the job's name to the longest of the workflow's."""
    found = re.search(rf"\[{re.escape(workflow)}/{re.escape(job)} *\] {re.escape(text)}", done.stdout)
    return found.start() if found else -1


def succeeded(done: subprocess.CompletedProcess, workflow: str, job: str) -> bool:
    return job_line(done, workflow, job, "🏁  Job succeeded") >= 0


def site_files(artifacts: Path) -> list[str]:
    """The files of the site the Pages job uploaded (upload-pages-artifact's stand-in's archive)."""
    members = sh("tar", "-tf", str(artifacts / "github-pages" / "artifact.tar"), cwd=artifacts).stdout.split()
    return sorted(name.removeprefix("./") for name in members if not name.endswith("/"))


@pytest.fixture(scope="module")
def published(main: Path) -> tuple[Path, list[subprocess.CompletedProcess]]:
    """main.yml run twice on a push of main, with the site's address: (GitHub's state, the runs)."""
    state = main.parent / "main-github.json"
    # a second run on the same commit registers, assigns and releases nothing
    runs = [push_run(main, "refs/heads/main", "main.yml", state, SITE_URL=SITE_URL) for _ in range(2)]
    return state, runs


def test_main_publishes_and_releases_once_and_deploy_serves_the_prod_model(
    main: Path, published: tuple
) -> None:
    state, runs = published
    for done in runs:
        assert succeeded(done, "main", "publish"), done.stdout[-3000:]
    origin = main.parent / "origin.git"
    tags = sh("git", "ls-remote", "--tags", "--refs", str(origin), cwd=main).stdout.split()[1::2]
    assert sorted(tags) == ["refs/tags/trip-duration#prod#1", "refs/tags/trip-duration@v0.1.0"]
    [release] = json.loads(state.read_text())["releases"]
    assert release["tag"] == "trip-duration@v0.1.0"
    card = "# trip-duration v0.1.0\n\n- tag: `trip-duration@v0.1.0` (first version)"
    assert release["notes"].startswith(card)
    # the workflow's SITE_URL reached publish: the card, so the release, links the version's page
    assert f"\n- page: {SITE_URL}/versions/v0.1.0.html\n" in release["notes"]
    assert "release: trip-duration@v0.1.0 exists already" in runs[1].stdout
    # deploy.yml on the workflow_run of that main.yml run, from a clone of main that has the tags
    clone = main.parent / "deploy-clone"
    sh("git", "clone", "-q", str(origin), str(clone), cwd=main.parent)
    shutil.copy2(main / ".dvc" / "config", clone / ".dvc" / "config")
    served = main.parent / "served"
    deployed = deploy_run(clone, state, served)
    assert deployed.returncode == 0, deployed.stdout[-3000:]
    assert SKIPPED not in deployed.stdout
    manifest = json.loads((served / "manifest.json").read_text())
    assert (manifest["version"], manifest["stage"]) == ("v0.1.0", "prod")
    # After a run that assigned nothing new (the second above), it finds prod deployed already.
    before = folder_state(served)
    again = deploy_run(clone, state, served)
    assert again.returncode == 0, again.stdout[-3000:]
    assert f"| deploy: trip-duration v0.1.0 (prod) is deployed already in {served}\n" in again.stdout
    assert folder_state(served) == before
    # A failed run, a pull request's run and another branch's run of main.yml deploy nothing.
    for run in ({"conclusion": "failure"}, {"event": "pull_request"}, {"branch": "unmerged"}):
        skipped = deploy_run(clone, state, served, **run)
        assert skipped.returncode == 0 and SKIPPED in skipped.stdout, (run, skipped.stdout[-3000:])
        assert "Run Main Deploy the model" not in skipped.stdout
        assert folder_state(served) == before


def test_main_deploys_the_site_with_the_published_versions_page_after_publishing(
    main: Path, published: tuple
) -> None:
    """The pages job, after publish: `trip-duration site` on main with the tags publish pushed; its
    folder archived as upload-pages-artifact does, then deployed (deploy-pages' stand-in)."""
    _, runs = published
    for done in runs:
        assert done.returncode == 0, done.stdout[-3000:]
        assert succeeded(done, "main", "pages")
        assert (
            0 <= job_line(done, "main", "publish", "🏁  Job succeeded") < job_line(done, "main", "pages", "")
        )
    artifacts = main.parent / "main.yml-artifacts"  # push_run's
    files = site_files(artifacts)
    assert {"index.html", "versions/v0.1.0.html"} <= set(files), files
    deployed = (artifacts / "pages-deployments").read_text().splitlines()
    assert [line.split()[0] for line in deployed] == ["https://standin.github.io/nyc-taxi-duration/"] * 2


def folder_state(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in sorted(folder.iterdir())}


def test_a_prod_tag_on_a_commit_not_on_main_deploys_nothing(main: Path) -> None:
    """Someone who may push tags registers v0.2.0 at a commit of an unmerged branch, whose code
    would leave a marker wherever it ran, and assigns it to prod. Pushing that tag starts nothing
    (the tagged commit's deploy.yml, main's, has no push trigger). The next deploy.yml, on the
    workflow_run of main.yml's run on main (as GitHub runs it: main's file), finds v0.2.0 in prod and
    refuses it in one line: the served folder is as it was, and nothing of the branch ran."""
    origin = main.parent / "origin-unmerged.git"  # a copy: the other tests' origin keeps its stages
    shutil.copytree(main.parent / "origin.git", origin)
    clone = main.parent / "unmerged-clone"
    sh("git", "clone", "-q", str(origin), str(clone), cwd=main.parent)
    shutil.copy2(main / ".dvc" / "config", clone / ".dvc" / "config")
    if not sh("git", "tag", "-l", "trip-duration@v0.1.0", cwd=clone).stdout.strip():  # run on its own
        sh("gto", "register", "trip-duration", "HEAD", "--version", "v0.1.0", cwd=clone)
    served = main.parent / "unmerged-served"  # serving v0.1.0, from main
    sh("trip-duration", "deploy", "--version", "v0.1.0", "--to", str(served), cwd=clone)
    before = folder_state(served)

    marker = main.parent / "unmerged-code-ran"
    sh("git", "checkout", "-qb", "unmerged", cwd=clone)
    library = clone / "trip_duration" / "__init__.py"
    library.write_text(library.read_text() + f"\nopen({str(marker)!r}, 'a').write('library\\n')\n")
    setup = clone / ".github" / "actions" / "setup" / "action.yml"
    action = setup.read_text()
    setup.write_text(action.replace("      run: |\n", f"      run: |\n        echo setup >>'{marker}'\n"))
    assert setup.read_text() != action
    sh("git", "commit", "-qam", "not reviewed", cwd=clone)
    commit = sh("git", "rev-parse", "HEAD", cwd=clone).stdout.strip()
    sh("gto", "register", "trip-duration", "HEAD", "--version", "v0.2.0", cwd=clone)
    sh("gto", "assign", "trip-duration", "--version", "v0.2.0", "--stage", "prod", cwd=clone)
    sh("git", "push", "-q", "--tags", "origin", "unmerged", cwd=clone)
    [tag] = sh("git", "tag", "-l", "trip-duration#prod#*", "--points-at", "HEAD", cwd=clone).stdout.split()
    assert not marker.exists()

    state = main.parent / "unmerged-github.json"
    # The tag's push, with the tagged commit's workflow files: deploy.yml has no job for it.
    pushed = push_run(clone, f"refs/tags/{tag}", "deploy.yml", state, SERVE_DIR=str(served))
    assert "Could not find any stages to run" in pushed.stdout, pushed.stdout[-3000:]
    assert folder_state(served) == before and not marker.exists()

    sh("git", "checkout", "-q", "main", cwd=clone)  # GitHub runs a workflow_run from main's file
    done = deploy_run(clone, state, served)
    assert done.returncode != 0
    refusal = (
        f"error: trip-duration@v0.2.0: its commit {commit} is not on main:"
        " only a version merged into main is deployed; nothing was changed"
    )
    assert f"| {refusal}\n" in done.stdout, done.stdout[-3000:]
    page = (ROOT / "docs" / "security.md").read_text()
    assert f"`{refusal.replace(commit, '<sha>')}`" in page  # as the security model prints it
    assert "Traceback" not in done.stdout
    assert folder_state(served) == before
    assert not marker.exists()
    sh("git", "checkout", "-q", "unmerged", cwd=clone)
    sh("python", "trip_duration", cwd=clone, check=False)  # the branch's library, run: it leaves its marker
    assert marker.read_text() == "library\n"


@pytest.fixture(scope="module")
def loop(main: Path, published: tuple) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """retrain.yml on its schedule, after main.yml put v0.1.0 in prod: TLC has three months after
    2021-02, and 2021-05 arrives with its durations halved (a meter fault). (GitHub's state, the
    uploaded artifacts, act's run)."""
    origin = main.parent / "origin.git"
    assert "trip-duration#prod#1" in sh("git", "ls-remote", "--tags", str(origin), cwd=main).stdout
    tlc = main.parent / "tlc"
    tlc.mkdir()
    for month in ("2021-03", "2021-04"):
        (tlc / tlc_file(month)).symlink_to(mirror_dir() / tlc_file(month))
    halve_durations(mirror_dir() / tlc_file("2021-05"), tlc / tlc_file("2021-05"))
    runner = main.parent / "retrain-clone"
    sh("git", "clone", "-q", str(origin), str(runner), cwd=main.parent)
    state = main.parent / "retrain-github.json"
    payload = state.with_suffix(".event.json")
    payload.write_text(json.dumps(schedule_event("17 6 3 * *")))
    artifacts = main.parent / "retrain-artifacts"
    done = act(
        runner, "schedule", "retrain.yml", payload, artifacts, GH_STANDIN=str(state), TLC_MIRROR=str(tlc)
    )
    return state, artifacts, done


def test_the_monthly_loop_records_the_months_and_proposes_the_retrain_of_the_one_that_alerts(
    main: Path, loop: tuple
) -> None:
    """Each month is recorded on main; 2021-05 alerts, so the workflow itself proposes its retrain pull
    request, set to merge itself once its checks pass (here they would not: the challenger loses the gate)."""
    origin = main.parent / "origin.git"
    state, artifacts, done = loop
    assert succeeded(done, "retrain", "retrain"), done.stdout[-3000:]
    assert "retrain: 2021-04 monitored on prod v0.1.0: ok: no retrain: no alert" in done.stdout
    subject = sh("git", "log", "--format=%s", "-1", "main", cwd=origin).stdout.strip()
    assert subject == (
        "data: 2021-03 2021-04 2021-05 monitored on prod v0.1.0"
        " (2021-03 ok, 2021-04 ok, 2021-05 ALERT (max_rmse_increase_pct 23.86 > 15.0): retrain)"
    )
    record = json.loads(sh("git", "show", "main:monitoring/2021-05.json", cwd=origin).stdout)
    decision = record["decision"]
    assert (record["alert"], decision["retrain"]) == (True, True)
    assert decision["why"] == "alert: max_rmse_increase_pct 23.86 > 15.0"
    assert (decision["train_months"], decision["val_months"]) == (["2021-04"], ["2021-05"])
    # The branch in origin, trained on the new window; its pull request through gh, set to merge itself.
    branch = yaml.safe_load(sh("git", "show", "retrain/2021-05:params.yaml", cwd=origin).stdout)
    assert (branch["data"]["train_months"], branch["data"]["val_months"]) == (["2021-04"], ["2021-05"])
    assert branch["retrain"]["auto_merge"] is True
    github = json.loads(state.read_text())
    [pull] = github["pulls"]
    assert (pull["head"], pull["base"], pull["state"]) == ("retrain/2021-05", "main", "open")
    assert pull["title"] == "Retrain: train on 2021-04, validate on 2021-05"
    assert pull["body"].startswith(f"Retrain on 2021-05: {decision['why']}.\n")
    assert "- new window: train on 2021-04, validate on 2021-05" in pull["body"]
    assert "- gate: fails; merges itself once the checks pass (retrain.auto_merge: true)" in pull["body"]
    assert "❌ **Worse**: validation RMSE 9.6096 → 11.1478 (+16.01%)" in pull["body"]
    assert (pull["number"], pull["auto_merge"]) == (1, "squash")
    assert github["calls"][-1] == ["pr", "merge", "1", "--auto", "--squash"]
    proposed = "retrain: proposed retrain/2021-05 (train on 2021-04, validate on 2021-05), gate fails"
    assert f"{proposed}: PR #1 created" in done.stdout
    reports = sorted(path.name for path in (artifacts / "monitoring-reports").rglob("*.html"))
    assert reports == ["2021-03.html", "2021-04.html", "2021-05.html"]


def test_the_loop_deploys_the_site_from_main_with_its_new_records(main: Path, loop: tuple) -> None:
    _, artifacts, done = loop
    assert done.returncode == 0, done.stdout[-3000:]
    assert succeeded(done, "retrain", "pages")
    assert (
        0
        <= job_line(done, "retrain", "retrain", "🏁  Job succeeded")
        < job_line(done, "retrain", "pages", "")
    )
    # built from main as the loop pushed it, not from the commit the schedule started on
    main_head = sh("git", "rev-parse", "main", cwd=main.parent / "origin.git").stdout.strip()
    assert (artifacts / "github-pages" / "commit").read_text().strip() == main_head
    assert {"index.html", "versions/v0.1.0.html"} <= set(site_files(artifacts))
    assert len((artifacts / "pages-deployments").read_text().splitlines()) == 1


def test_a_fork_without_secrets_or_the_dvc_remote_still_gets_its_report(main: Path) -> None:
    """A pull request from a fork: GitHub gives it no secrets, and its runner cannot reach the DVC
    remote (here: a remote folder that does not exist). The data comes from TLC instead."""
    project, payload = pull_request(main, "fork", 9, "evaluate", {"plot_points": 500})
    event = json.loads(payload.read_text())
    event["pull_request"]["head"]["repo"] = {"fork": True, "full_name": "someone/nyc-taxi-duration"}
    payload.write_text(json.dumps(event))
    sh("dvc", "remote", "modify", "local", "url", str(main.parent / "no-such-remote"), cwd=project)
    sh("git", "commit", "-qam", "a fork's runner: no DVC remote", cwd=project)
    artifacts = main.parent / "fork-artifacts"
    done = act(project, "pull_request", "pull-request.yml", payload, artifacts)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "No DVC remote credentials: fetching the TLC months from their public URL" in done.stdout
    assert "Running stage 'train':" in done.stdout  # nothing pulled: the pipeline ran from the data
    report = (artifacts / "pr-report" / "report.md").read_text()
    assert report.startswith("✅ **Unchanged**: validation RMSE 7.7587, as on origin/main; passes the gate")


def test_the_tests_workflow_runs_pytest_on_the_months_it_fetched(tmp_path: Path) -> None:
    """tests.yml runs the whole suite, this test included: through act it would run itself again, so
    PYTEST_ADDOPTS, which pytest reads, narrows its `pytest` to the reference test. That test reads
    the course months from the data/ folder the workflow fetched, its TLC_MIRROR."""
    project = working_tree(tmp_path / "repository")
    head = sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    payload = tmp_path / "push.json"
    payload.write_text(json.dumps(push_event("refs/heads/main", head)))
    selection = "--color=no -n 0 tests/e2e/test_reference.py"  # one test: no workers to start
    done = act(project, "push", "tests.yml", payload, tmp_path / "artifacts", PYTEST_ADDOPTS=selection)
    assert done.returncode == 0, done.stdout[-3000:]
    hooks = "pre-commit hooks (ruff, params.yaml matches conf/, actionlint, zizmor, promtool)"
    prometheus = "prometheus, the alert rules' checker (promtool) and the server of their end-to-end test"
    for step in ("wrk, the serving benchmark's load generator", prometheus, hooks):
        assert f"Success - Main {step}" in done.stdout
    assert "[20/20] green_tripdata_2023-03.parquet  1.7 MB  fetched, md5 ok" in done.stdout  # into data/
    assert "| tests/e2e/test_reference.py .  " in done.stdout
    assert "| ============================== 1 passed in " in done.stdout
