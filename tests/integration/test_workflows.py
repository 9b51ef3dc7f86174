"""The GitHub workflows promptctl writes (and its own) are valid and call real commands."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import run_cli
from promptctl.services.scaffold import init

PROJECT = Path(__file__).resolve().parents[2]


def workflow_files(tmp_path) -> list[Path]:
    init(tmp_path / "repo")
    return [tmp_path / "repo/.github/workflows/prompts.yml", *sorted(PROJECT.glob(".github/workflows/*.yml"))]


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
