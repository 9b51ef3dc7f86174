"""The hook in .pre-commit-hooks.yaml, installed by pre-commit itself, refuses a broken prompt.

`pre-commit try-repo` builds this checkout into its own environment (as users' pre-commit
does from a git URL) and runs the hook; a real `git commit` calls it through .git/hooks.
"""

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import run_cli
from support.repos import git

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hooked_repo(tmp_path, monkeypatch) -> Path:
    exe = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("pre-commit is not installed (pip install -e '.[test]')")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    root = tmp_path / "repo"
    run_cli("init", str(root), cwd=tmp_path, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    hook = root / ".git/hooks/pre-commit"
    hook.write_text(f'#!/bin/sh\nexec "{exe}" try-repo "{PROJECT}" promptctl-check\n')
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    return root


def commit(root: Path, message: str):
    git(root, "add", "-A")
    return subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, capture_output=True,
                          text=True)


@pytest.mark.slow      # pre-commit builds this checkout into a fresh virtualenv: 15-30 s
def test_a_commit_with_a_broken_prompt_is_refused_with_checks_message(hooked_repo):
    head = git(hooked_repo, "rev-parse", "HEAD")
    template = hooked_repo / "prompts/support-reply/system.j2"
    template.write_text(template.read_text().replace("{{ customer_name }}", "{{ customer_nam }}"))
    refused = commit(hooked_repo, "typo in a variable")
    out = refused.stdout + refused.stderr
    assert refused.returncode != 0, out
    assert "promptctl check" in out and "Failed" in out
    assert "'customer_nam', which is not a declared input" in out
    assert git(hooked_repo, "rev-parse", "HEAD") == head

    template.write_text(template.read_text().replace("{{ customer_nam }}", "{{ customer_name }}"))
    (hooked_repo / "prompts/support-reply/prompt.yaml").write_text(
        (hooked_repo / "prompts/support-reply/prompt.yaml").read_text().replace(
            "friendly, concise", "friendly, short"))
    accepted = commit(hooked_repo, "shorter description")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "promptctl check" in accepted.stdout + accepted.stderr
    assert git(hooked_repo, "rev-parse", "HEAD") != head
