"""Real prompt repos on disk: the files, the git commands that commit them, and a snapshot
of a repo's state to prove a refused command changed nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

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

CHAT_BODY = """\
model: {provider: echo, name: echo-1}
inputs:
  ticket: string
messages:
  - role: system
    content_file: system.j2
  - role: user
    content: "Ticket: {{ ticket }}"
"""

POLICY = "Never promise refunds.\n"


def chat_prompt(name: str = "triage", description: str | None = None) -> str:
    """The chat prompt of `prompt_repo` (system file, one user turn), optionally described."""
    head = f"name: {name}\n" + (f"description: {description}\n" if description else "")
    return head + CHAT_BODY


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


def make_prompt_repo(root: Path) -> Path:
    """A committed prompt repo with a text prompt (with a partial) and a chat prompt."""
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    build_file_tree(root, {
        "promptctl.yaml": "prompts_dir: prompts\nevals_dir: evals\n",
        "release.yaml": "environments: {}\n",
        ".gitignore": ".promptctl/\n",
        "prompts/_partials/policy.j2": POLICY,
        "prompts/support-refund/prompt.yaml": TEXT_PROMPT.format(name="support-refund"),
        "prompts/triage/prompt.yaml": chat_prompt("triage", "Classifies a ticket."),
        "prompts/triage/system.j2": "You label tickets as bug, billing or other.\n",
        "evals/support-refund/suite.yaml": "dataset: cases.jsonl\n",
        "evals/support-refund/cases.jsonl": '{"inputs": {"question": "Where is my order?"}}\n',
    })
    git_save(root, "initial")
    return root
