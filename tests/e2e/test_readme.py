"""The README and docs/ say what the repository does, and every route they print runs as printed.

Commands are read from the pages' own code blocks and run in a throwaway copy of the project
with the real dvc, git and GTO, in the order a new user would take them.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import BIN, ROOT, copy_of, env, sh, working_tree

from bench.services import free_port
from trip_duration_ops.cli import COMMANDS

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = PAGES[0].read_text(encoding="utf-8")
DOCS = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)  # every page a user reads


def shell_lines() -> list[str]:
    """Every line of the pages' bash blocks, without trailing comments."""
    blocks = re.findall(r"```bash\n(.*?)```", DOCS, re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [re.sub(r"\s+#\s.*$", "", line) for line in lines if line and not line.startswith("#")]


def command(prefix: str) -> str:
    """The one printed command that starts with `prefix`."""
    found = [line for line in shell_lines() if line.startswith(prefix)]
    assert len(found) == 1, f"the docs have {len(found)} commands starting with {prefix!r}: {found}"
    return found[0]


def run(line: str, cwd: Path, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    """A printed line through bash, with this environment's tools first on PATH."""
    environment = {**env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=environment, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{line} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def test_pipeline_page_dag_is_what_dvc_draws() -> None:
    dag = subprocess.run(
        [sys.executable, "-m", "dvc", "dag", "--md"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert dag in (ROOT / "docs" / "pipeline.md").read_text(encoding="utf-8")


def test_readme_result_row_is_the_committed_metrics() -> None:
    metrics = json.loads((ROOT / "reports" / "metrics.json").read_text())
    keys = ["rmse", "mae", "r2", "train_rmse", "train_rows", "val_rows", "features"]
    row = " | ".join(
        f"{metrics[key]:,}" if isinstance(metrics[key], int) else f"{metrics[key]}" for key in keys
    )
    assert f"| {row} |" in README


def test_readme_lists_every_subcommand_in_the_order_help_gives() -> None:
    listed = README[README.index("`trip-duration --help` lists the") :].split(")", 1)[0]
    assert re.findall(r"`([a-z-]+)`", listed.split("subcommands:", 1)[1]) == list(COMMANDS)


def test_readme_set_up_has_exactly_two_commands() -> None:
    setup = README[README.index("## Set up") :].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", setup, re.S)
    assert [block.strip() for block in blocks] == [
        "python3.11 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e '.[pipeline]'"
        " && trip-duration fetch && dvc repro",
        ". .venv/bin/activate && pip install -c constraints.txt -e '.[dev]' && pytest",
    ]


def test_readme_is_a_front_page() -> None:
    assert len(README.splitlines()) <= 200


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    prose = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#+ (.+)$", prose, re.M)
    slugs = [re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings]
    # A heading met again gets -1, -2...
    return {f"{slug}-{slugs[:i].count(slug)}" if slug in slugs[:i] else slug for i, slug in enumerate(slugs)}


def relative_links(page: Path) -> list[str]:
    """The targets of a page's Markdown links that are not URLs, outside code."""
    prose = re.sub(r"```.*?```|`[^`]*`", "", page.read_text(encoding="utf-8"), flags=re.S)
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    return [target for target in targets if not re.match(r"[a-z]+:", target)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    for link in relative_links(page):
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.is_file(), f"{page.name}: {link} is no file"
        assert not anchor or anchor in anchors(target), f"{page.name}: {link} is no heading"


def test_every_docs_page_has_a_title_and_an_intro_and_is_linked_from_the_readme() -> None:
    linked = set(relative_links(PAGES[0]))
    for page in PAGES[1:]:
        title, blank, intro = page.read_text(encoding="utf-8").splitlines()[:3]
        assert title.startswith("# ") and blank == "", page
        assert intro and not intro.startswith(("#", "`", "|", "-")), page  # a paragraph, first
        assert f"docs/{page.name}" in linked, page


@pytest.fixture(scope="module")
def project(reproduced: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project on the course months after one `dvc repro`, committed on main."""
    return copy_of(reproduced, tmp_path_factory.mktemp("readme") / "project")


def exp_name(project: Path, rmse: str) -> str:
    shown = sh("dvc", "exp", "show", "--csv", "--no-pager", cwd=project).stdout.splitlines()
    header = shown[0].split(",")
    rows = [dict(zip(header, line.split(","), strict=False)) for line in shown[1:]]
    names = [row["Experiment"] for row in rows if row["rmse"] == rmse and row["Experiment"]]
    assert len(names) == 1, shown
    return names[0]


def inline(text: str) -> str:
    """A command a page prints inside a sentence, as `code`."""
    assert f"`{text}`" in DOCS, text
    return text


def test_every_route_runs_as_printed(project: Path, tmp_path: Path) -> None:
    # A failed experiment: params.yaml keeps the bad value, prepare's outputs are gone; one command back.
    committed = sh("git", "show", "HEAD:params.yaml", cwd=project).stdout
    failed = run("dvc exp run -S 'data.val_months=[2099-01]'", project, check=False)
    assert failed.returncode != 0 and "green_tripdata_2099-01.parquet: is missing" in failed.stderr
    assert (project / "params.yaml").read_text() != committed
    assert not (project / "prepared/val.parquet").exists()
    run(command("trip-duration params compose"), project)
    assert (project / "params.yaml").read_text() == committed
    assert sh("dvc", "status", "-q", cwd=project, check=False).returncode == 0

    # An experiment, shown in a 120-column terminal.
    run(command("dvc exp run -S model=ridge"), project)
    shown = run(command("dvc exp show --only-changed"), project, COLUMNS="120").stdout
    lines = shown.splitlines()
    assert max(map(len, lines)) <= 120 and "…" not in shown
    header = next(line for line in lines if "Experiment" in line).split()
    assert header[:4] == ["Experiment", "rmse", "mae", "r2"]
    assert set(header[4:]) == {"model.name", "model.fit_intercept", "model.alpha"}
    experiments = [line.split() for line in lines if "[" in line]  # ├── 3edf31f [fined-aura] ...
    assert len(experiments) == 1
    assert experiments[0][3:6] == ["7.5991", "5.1405", "0.6103"] and set(experiments[0][6:]) == {
        "ridge",
        "-",
        "0.5",
    }

    # The experiment becomes a branch that passes CI's params check, pushed to origin.
    name = exp_name(project, "7.5991")
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", "--initial-branch=main", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=project)
    block = DOCS[DOCS.index("dvc exp apply <exp-name>") :].split("```")[0].strip().splitlines()
    assert len(block) == 3
    for line in block:
        run(re.sub(r"\s+#\s.*$", "", line).replace("<exp-name>", name), project)
    assert sh("trip-duration", "params", "check", cwd=project).stdout == "params.yaml matches conf/\n"
    assert sh("dvc", "status", "-q", cwd=project, check=False).returncode == 0
    changed = set(sh("git", "diff", "--name-only", "main", "my-branch", cwd=project).stdout.split())
    assert {"conf/config.yaml", "conf/model/ridge.yaml", "params.yaml", "dvc.lock"} <= changed
    assert not {path for path in changed if path.startswith(("stages/", "trip_duration"))}
    assert "my-branch" in sh("git", "ls-remote", "--heads", str(origin), cwd=project).stdout
    params_diff = run(command("dvc params diff main my-branch"), project).stdout
    assert "model.name" in params_diff and "ridge" in params_diff

    # The report, locally, on the branch.
    report = run(inline("dvc repro && trip-duration report --base main"), project)
    assert "**Better**: validation RMSE 7.7587 → 7.5991" in report.stdout
    assert (project / "report.md").is_file()

    # Plots go to a folder git ignores.
    run(inline("dvc plots show"), project)
    assert (project / "dvc_plots" / "index.html").is_file()
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""

    # Publishing on main, then consuming prod as docs/gitops.md prints it.
    sh("git", "checkout", "-q", "main", cwd=project)
    sh("dvc", "checkout", cwd=project)
    out = run(command("trip-duration publish"), project).stdout
    assert "publish: trip-duration@v0.1.0 registered (first version)" in out
    assert "v0.1.0" in run(command("gto show trip-duration"), project).stdout
    got = run(command("trip-duration get --stage prod"), project).stdout
    assert got == "get: trip-duration v0.1.0 (prod) -> trip-duration.joblib, md5 ok\n"
    [snippet] = re.findall(r"```python\n(.*?)```", DOCS, re.S)
    done = subprocess.run([sys.executable, "-c", snippet], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 1 < float(done.stdout.strip().strip("[]")) < 60

    # The better model merged on main is the next version; metrics diff between the two.
    sh("git", "merge", "-q", "--no-ff", "-m", "Merge my-branch", "my-branch", cwd=project)
    sh("dvc", "checkout", cwd=project)
    out = run(command("trip-duration publish"), project).stdout
    assert "publish: trip-duration@v0.1.1 registered (patch: train changed since v0.1.0)" in out
    assert "publish: prod: v0.1.1 (val rmse 7.5991 <= 7.7587 of v0.1.0)" in out
    diff = run(command("dvc metrics diff trip-duration@v0.1.0"), project).stdout
    assert "7.7587" in diff and "7.5991" in diff
    history = run(command("dvc exp show --all-commits"), project, COLUMNS="120").stdout
    assert "7.5991" in history and "7.7587" in history

    # A new month, recorded in data.dvc and committed.
    run(inline("trip-duration fetch 2023-04").replace("2023-04", "2021-03"), project)
    add = 'dvc add data && git add data.dvc && git commit -m "data: add 2023-04"'
    run(inline(add).replace("2023-04", "2021-03"), project)
    recorded = yaml.safe_load((project / "data.dvc").read_text())["meta"]["files"]
    assert "green_tripdata_2021-03.parquet" in recorded
    assert sh("git", "log", "-1", "--format=%s", cwd=project).stdout == "data: add 2021-03\n"

    # Serving prod, and scoring the new month with it.
    run(command("trip-duration deploy --stage prod --to deploy/"), project)
    port = free_port()
    serve = command("trip-duration serve --model-dir deploy/ --port 8000").replace("8000", str(port))
    environment = {**env(), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(["bash", "-c", f"exec {serve}"], cwd=project, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        curl = command("curl -s -X POST localhost:8000/predict").replace("8000", str(port))
        deadline = time.monotonic() + 60
        while run(f"curl -sf localhost:{port}/ready", project, check=False).returncode:
            assert time.monotonic() < deadline, "the service did not become ready"
            time.sleep(0.2)
        printed = re.search(r"The last prints `(.*?)`", DOCS)
        assert printed is not None and run(curl, project).stdout == printed.group(1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    scored = run(command("trip-duration score").replace("2023-04", "2021-03"), project).stdout
    assert scored.startswith("score: 2021-03, ") and "trip-duration v0.1.1 -> predictions.parquet" in scored
    assert sh("git", "status", "--porcelain", cwd=project).stdout == ""

    # Monitoring prod on the new month: a record for git, an HTML report that git ignores.
    monitored = run(
        command("trip-duration monitor --months 2023-04 --stage prod").replace("2023-04", "2021-03"), project
    )
    record = json.loads((project / "monitoring" / "2021-03.json").read_text())
    assert record["model"]["version"] == "v0.1.1" and record["alert"] is False
    assert "2021-03" in monitored.stdout
    changed = sh("git", "status", "--porcelain", cwd=project).stdout
    assert changed == " M monitoring/history.csv\n?? monitoring/2021-03.json\n"


def test_pre_commit_installs_its_hook_and_its_hooks_pass_in_a_fresh_repository(tmp_path: Path) -> None:
    """`pre-commit install` in a new repository of the working tree, no pre-commit cache: the hooks
    pass on every file, then refuse a commit that ruff formats, leaving the file formatted."""
    repository = working_tree(tmp_path / "repository")
    cache = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache")}
    run(inline("pre-commit install"), repository, **cache)
    assert (repository / ".git" / "hooks" / "pre-commit").is_file()
    run(inline("pre-commit run --all-files"), repository, **cache)

    (repository / "stages" / "unformatted.py").write_text("x=1\n")
    sh("git", "add", "stages/unformatted.py", cwd=repository)
    refused = run("git commit -qm unformatted", repository, check=False, **cache)
    assert refused.returncode != 0 and "ruff format" in refused.stdout + refused.stderr
    assert (repository / "stages" / "unformatted.py").read_text() == "x = 1\n"
    sh("git", "add", "stages/unformatted.py", cwd=repository)
    run("git commit -qm formatted", repository, **cache)
