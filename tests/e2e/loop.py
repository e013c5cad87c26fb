"""The closed loop's world and story, shared by the tests that read it (test_loop, test_site).

Level 4, offline and end to end: months arrive, and the repository monitors, retrains, reviews,
publishes and redeploys itself, with no human step, while a client calls the service throughout.

One parent folder holds what GitHub, TLC and the serving host would: a bare `origin.git`, the DVC
remote that the committed .dvc/config names, a `tlc/` folder as TLC (TLC_MIRROR) where months
appear one at a time, the served folder with `trip-duration serve` on 127.0.0.1, and the recording
stand-in for GitHub's API (tests/github/gh), the one thing not here. Every workflow run starts from
a fresh clone of origin, as on a runner: the workflow files themselves run by act (tests/e2e/act.py)
for pull-request.yml on the retrain PRs, main.yml's publish job on every push to main and deploy.yml
on the workflow_run of every main.yml run that assigned prod; the run steps of retrain.yml's retrain
job are read from the file and run in order (see World.schedule).
GitHub's own part, the auto-merge of a PR whose checks passed, is played here.

The story: main trains on 2022-01 and validates on 2022-02 (v0.1.0, prod, deployed); the monitor
alerts above +10% rmse. 2022-03 .. 2022-08 arrive. 2022-05's rmse rises 11% (alert): its retrain
(train on 2022-04) beats main's model on 2022-05's trips, merges itself, becomes v0.2.0 in prod and
is deployed. 2022-07 arrives with its durations halved (a meter fault): the alert fires, but the
challenger trained on 2022-06 scores worse than prod on those trips, so the gate fails, its PR
stays open and prod stays. The other months are recorded and change no model.
"""

import dataclasses
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, ROOT, env, halve_durations, make_project, mirror_dir, sh, tlc_file

from bench.project import LOCAL_CONFIG
from tests.e2e.act import act, pull_request_event, push_event, workflow_run_event
from tests.e2e.serving import Server, request

MONTHS = ["2022-03", "2022-04", "2022-05", "2022-06", "2022-07", "2022-08"]
HALVED = "2022-07"  # durations halved: the alert fires and the retrain loses the gate
WORKFLOWS = ROOT / ".github" / "workflows"
TRIP = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 1.2}


def run_steps(workflow: str, job: str) -> list[str]:
    """The `run:` scripts of one job of a workflow file, in order."""
    steps = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"][job]["steps"]
    return [step["run"] for step in steps if "run" in step]


class Client(threading.Thread):
    """Calls /predict without pause until stopped, counting answers by status and version."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.stopped, self.failed, self.versions = port, threading.Event(), [], {}

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                status, _, headers = request(self.port, "POST", "/predict", TRIP)
            except OSError as error:
                self.failed.append(repr(error))
                continue
            if status != 200:
                self.failed.append(status)
            version = headers.get("x-model-version")
            self.versions[version] = self.versions.get(version, 0) + 1


@dataclasses.dataclass
class World:
    parent: Path
    origin: Path
    tlc: Path
    served: Path
    gh_state: Path
    runs: int = 0
    gates: dict[str, bool] = dataclasses.field(default_factory=dict)  # PR branch -> gate passed
    # month -> (prod after the month, the version the service then answers with)
    served_after: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    outputs: list[str] = dataclasses.field(default_factory=list)

    def runner(self, ref: str = "main") -> Path:
        """A fresh clone of origin at `ref`, as a runner checks it out (full history and tags)."""
        self.runs += 1
        clone = self.parent / f"run-{self.runs:02d}"
        sh("git", "clone", "-q", "--branch", ref, str(self.origin), str(clone), cwd=self.parent)
        (clone / ".dvc" / "config.local").write_text(LOCAL_CONFIG)
        return clone

    def environment(self) -> dict[str, str]:
        stand_in = ROOT / "tests" / "github"
        return {
            **env(),
            "PATH": f"{stand_in}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
            "TLC_MIRROR": str(self.tlc),
            "GH_STANDIN": str(self.gh_state),
            "GITHUB_OUTPUT": str(self.parent / "github-output"),
        }

    def bash(self, script: str, cwd: Path) -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script],
            cwd=cwd,
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        self.outputs.append(f"$ {script}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise AssertionError(
                f"{script} failed ({done.returncode}) in {cwd}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def workflow(
        self,
        event: str,
        workflow: str,
        payload: dict[str, Any],
        ref: str = "main",
        check: bool = True,
        job: str | None = None,
        **variables: str,
    ) -> subprocess.CompletedProcess:
        """`workflow` (or its `job` alone) run by act for `event` on a fresh clone of origin at `ref`."""
        clone = self.runner(ref)
        event_file = clone.with_suffix(".event.json")
        event_file.write_text(json.dumps(payload))
        artifacts = clone.with_suffix(".artifacts")
        done = act(
            clone,
            event,
            workflow,
            event_file,
            artifacts,
            variables,
            job=job,
            GH_STANDIN=str(self.gh_state),
            TLC_MIRROR=str(self.tlc),
        )
        self.outputs.append(f"$ act {event} {workflow} ({clone.name})\n{done.stdout}")
        if check and done.returncode != 0:
            raise AssertionError(f"{workflow} failed on {event} in {clone}:\n{done.stdout}")
        return done

    def pulls(self) -> list[dict[str, Any]]:
        return json.loads(self.gh_state.read_text())["pulls"] if self.gh_state.is_file() else []

    def prod(self) -> str:
        clone = self.parent / "prod-view"
        if not clone.exists():
            sh("git", "clone", "-q", str(self.origin), str(clone), cwd=self.parent)
        sh("git", "fetch", "-q", "--tags", "--force", "origin", cwd=clone)
        return sh("gto", "show", "trip-duration#prod", "--version", cwd=clone).stdout.strip()

    def schedule(self) -> None:
        """retrain.yml's run steps, in order, on a fresh clone of main.

        Read from the file, not run by act: each act run costs about 5 s more (the setup action's
        pip install), and the eight runs of the schedule would take the test past the minute it may
        add. retrain.yml has no `if:` for commands to skip, and act runs it in test_act_workflows."""
        clone = self.runner()
        for script in run_steps("retrain.yml", "retrain"):
            self.bash(script, clone)

    def pull_request_checks(self, pull: dict[str, Any]) -> bool:
        """pull-request.yml on the PR's head; whether the RMSE gate passes (its only way to fail here)."""
        head = sh("git", "rev-parse", f"refs/heads/{pull['head']}", cwd=self.origin).stdout.strip()
        event = pull_request_event(pull["number"], pull["head"], head)
        done = self.workflow("pull_request", "pull-request.yml", event, ref=pull["head"], check=False)
        gate_failed = "::error::validation RMSE fails the gate: see the report" in done.stdout
        stale = "::error::dvc.lock or reports/metrics.json is stale" in done.stdout
        assert not stale and (done.returncode == 0) != gate_failed, done.stdout[-3000:]
        return done.returncode == 0

    def merge(self, pull: dict[str, Any]) -> None:
        """GitHub's squash merge of a PR whose auto-merge was requested, once its checks passed."""
        clone = self.runner()
        sh("git", "merge", "-q", "--squash", f"origin/{pull['head']}", cwd=clone)
        sh("git", "commit", "-qm", f"{pull['title']} (#{pull['number']})", cwd=clone)
        sh("git", "push", "-q", "origin", "main", cwd=clone)
        state = json.loads(self.gh_state.read_text())
        next(p for p in state["pulls"] if p["number"] == pull["number"])["state"] = "merged"
        self.gh_state.write_text(json.dumps(state, indent=2))

    def main_workflow(self) -> None:
        """main.yml's publish job on a push to main: reproduce as committed, then publish and release.
        Its pages job, which the story does not read, is test_act_workflows'."""
        head = sh("git", "rev-parse", "refs/heads/main", cwd=self.origin).stdout.strip()
        self.workflow("push", "main.yml", push_event("refs/heads/main", head), job="publish")

    def deploy_workflow(self) -> None:
        """deploy.yml on the workflow_run of main.yml's successful run on main's head, from main's
        file, as GitHub starts it after every such run. Run here after the runs that changed prod:
        after the others it finds prod deployed already and changes nothing (test_act_workflows
        shows it), and each act run costs the setup's install."""
        head = sh("git", "rev-parse", "refs/heads/main", cwd=self.origin).stdout.strip()
        self.workflow("workflow_run", "deploy.yml", workflow_run_event(head), SERVE_DIR=str(self.served))


def tags(repo: Path) -> set[str]:
    refs = sh("git", "ls-remote", "--tags", "--refs", str(repo), cwd=repo.parent).stdout.split()[1::2]
    return {ref.removeprefix("refs/tags/") for ref in refs}


def wait_for_version(port: int, version: str) -> str:
    deadline = time.monotonic() + 30
    served = None
    while time.monotonic() < deadline:
        served = (request(port, "GET", "/model")[1].get("serving") or {}).get("version")
        if served == version:
            break
        time.sleep(0.2)
    return served


def start_world(parent: Path) -> World:
    """main trained on 2022-01, validated on 2022-02, published as v0.1.0 in prod and deployed."""
    world = World(parent, parent / "origin.git", parent / "tlc", parent / "served", parent / "gh.json")
    world.tlc.mkdir()
    for month in ("2022-01", "2022-02"):
        (world.tlc / tlc_file(month)).symlink_to(mirror_dir() / tlc_file(month))
    dev = make_project(parent / "dev", ["2022-01", "2022-02"])
    shutil.copytree(ROOT / ".github", dev / ".github")  # the workflows the runs below follow
    params = yaml.safe_load((dev / "params.yaml").read_text())
    params["data"].update(train_months=["2022-01"], val_months=["2022-02"])
    params["monitor"]["max_rmse_increase_pct"] = 10.0
    (dev / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    world.bash("trip-duration params sync && trip-duration params compose", dev)
    world.bash("trip-duration fetch 2022-01 2022-02 && dvc add -q data && dvc repro", dev)
    sh("git", "add", "-A", cwd=dev)
    sh("git", "commit", "-qm", "baseline: train on 2022-01, validate on 2022-02", cwd=dev)
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(world.origin), cwd=parent)
    sh("git", "remote", "add", "origin", str(world.origin), cwd=dev)
    sh("git", "push", "-q", "origin", "main", cwd=dev)
    sh("dvc", "push", "-q", cwd=dev)  # the DVC remote exists and holds main's outputs
    world.main_workflow()
    world.deploy_workflow()
    return world


@dataclasses.dataclass
class Story:
    world: World
    client: Client
    records: dict[str, dict[str, Any]]
    log: list[str]
    before_again: tuple
    after_again: tuple
    broken: tuple[str, tuple]  # the failed run's error, and what it left


def snapshot(world: World) -> tuple:
    """What a run may change: origin's refs, the pull requests, prod, the served manifest."""
    refs = sh("git", "ls-remote", str(world.origin), cwd=world.parent).stdout
    manifest = (world.served / "manifest.json").read_text()
    return refs, json.dumps(world.pulls(), sort_keys=True), world.prod(), manifest


def tell_story(parent: Path) -> Story:
    """The story of the module docstring, run to its end: what the tests read of it."""
    world = start_world(parent)
    server = Server("--model-dir", str(world.served), cwd=world.parent)
    client = Client(server.port)
    assert wait_for_version(server.port, "v0.1.0") == "v0.1.0"
    client.start()
    try:
        for month in MONTHS:
            source, target = mirror_dir() / tlc_file(month), world.tlc / tlc_file(month)
            halve_durations(source, target) if month == HALVED else target.symlink_to(source)
            world.schedule()
            world.main_workflow()  # the month's data commit reached main
            pull = next((p for p in world.pulls() if p["head"] == f"retrain/{month}"), None)
            if pull is not None:
                world.gates[pull["head"]] = passed = world.pull_request_checks(pull)
                if passed and pull["auto_merge"] == "squash":
                    prod_before = world.prod()
                    world.merge(pull)
                    world.main_workflow()
                    if world.prod() != prod_before:
                        world.deploy_workflow()
            prod = world.prod()
            world.served_after[month] = (prod, wait_for_version(server.port, prod))
        before = snapshot(world)
        world.schedule()  # the same month again
        after = snapshot(world)
        # A month that arrives broken (cut short in transfer): the run fails on it and changes nothing.
        cut = (mirror_dir() / tlc_file("2022-09")).read_bytes()[:5000]
        (world.tlc / tlc_file("2022-09")).write_bytes(cut)
        with pytest.raises(AssertionError) as failed:
            world.schedule()
        broken = (str(failed.value), snapshot(world))
    finally:
        client.stopped.set()
        client.join(timeout=30)
        server.stop()
    final = world.runner()
    records = {m: json.loads((final / "monitoring" / f"{m}.json").read_text()) for m in MONTHS}
    log = sh("git", "log", "--format=%s", "--reverse", cwd=final).stdout.splitlines()
    return Story(world, client, records, log, before, after, broken)
