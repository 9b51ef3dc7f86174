"""Shared fixtures: an isolated git identity and home, and real prompt repos on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TEXT_PROMPT = """\
name: {name}
description: Answers a support question.
model:
  provider: echo
  name: echo-1
  params: {{temperature: 0}}
inputs:
  question: {{type: string}}
  customer_name: {{type: string, default: there}}
template: |
  Hello {{{{ customer_name }}}}.
  {{% include "_partials/policy.j2" %}}
  Question: {{{{ question }}}}
"""

CHAT_PROMPT = """\
name: {name}
description: Classifies a ticket.
model: {{provider: echo, name: echo-1}}
inputs:
  ticket: string
messages:
  - role: system
    content_file: system.j2
  - role: user
    content: "Ticket: {{{{ ticket }}}}"
"""

POLICY = "Never promise refunds.\n"


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var, value in {"GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
                       "GIT_COMMITTER_NAME": "Test Author",
                       "GIT_COMMITTER_EMAIL": "author@example.com"}.items():
        monkeypatch.setenv(var, value)
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
                "GITHUB_STEP_SUMMARY", "PROMPTCTL_CALL_LOG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


def build_file_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


def git_save(root: Path, message: str = "save", tag: str | None = None) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)
    if tag:
        git(root, "tag", "-a", tag, "-m", tag)
    return git(root, "rev-parse", "HEAD")


def repo_state(root: Path) -> dict:
    """HEAD, tags and every tracked or untracked file's content: to prove nothing changed.

    The write lock's own files are left out: any write command creates them, refused or not."""
    files = {}
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or not path.is_file():
            continue
        if path.name.startswith("release.lock") and path.parent.name == ".promptctl":
            continue
        if path.relative_to(root).as_posix().startswith(".promptctl/read-cache/"):
            continue   # what a read command remembers (see promptctl.workcache), not a change
        files[path.relative_to(root).as_posix()] = path.read_bytes()
    return {
        "head": git(root, "rev-parse", "HEAD") if (root / ".git").exists() else None,
        "tags": git(root, "for-each-ref", "refs/tags") if (root / ".git").exists() else None,
        "files": files,
    }


@pytest.fixture
def prompt_repo(tmp_path) -> Path:
    """A committed prompt repo with a text prompt (with a partial) and a chat prompt."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    build_file_tree(root, {
        "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n",
        "release.yaml": "environments: {}\n",
        ".gitignore": ".promptctl/\n",
        "prompts/_partials/policy.j2": POLICY,
        "prompts/support-refund/prompt.yaml": TEXT_PROMPT.format(name="support-refund"),
        "prompts/triage/prompt.yaml": CHAT_PROMPT.format(name="triage"),
        "prompts/triage/system.j2": "You label tickets as bug, billing or other.\n",
        "evals/support-refund/suite.yaml": "dataset: cases.jsonl\n",
        "evals/support-refund/cases.jsonl": '{"inputs": {"question": "Where is my order?"}}\n',
    })
    git_save(root, "initial")
    return root


@pytest.fixture
def deploy_repo(prompt_repo) -> Path:
    """prompt_repo with releases: support-refund 1.0.0, 1.1.0, 2.0.0 and triage 1.0.0."""
    from deploy_support import add_releases
    add_releases(prompt_repo)
    return prompt_repo


def modules_loaded_by(imports: str, candidates: tuple[str, ...]) -> list[str]:
    """Which of `candidates` a fresh interpreter has in sys.modules after `import {imports}`."""
    code = (f"import sys, {imports}; "
            f"print(','.join(m for m in {candidates!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [m for m in result.stdout.strip().split(",") if m]


def promptctl_exe() -> list[str]:
    """The installed console script, or the module when only the checkout is on the path."""
    exe = shutil.which("promptctl", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "promptctl"]


def run_cli(*args: str, cwd: Path, check: bool = False, env: dict | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `promptctl` in a subprocess."""
    return subprocess.run([*promptctl_exe(), *args], cwd=cwd, capture_output=True, text=True,
                          check=check, env={**os.environ, **(env or {})}, input=input)
