"""Helpers for the deploy tests: real releases in a real repo, made the way bump makes them."""

from __future__ import annotations

from pathlib import Path

from support.repos import git, git_save

from promptctl.config import load_config
from promptctl.prompt_files import load_prompt
from promptctl.sources import WorkingTree
from promptctl.tags import format_message

EDITS = {
    "1.1.0": "Be brief.\n",
    "2.0.0": "Be brief and kind.\n",
}


def release(root: Path, name: str, version: str, message: str = "release") -> str:
    """Commit the working tree and tag it `name/vVERSION` with the content digest."""
    content = load_prompt(WorkingTree(root), load_config(WorkingTree(root)), name)
    git_save(root, f"release {name} {version}")
    git(root, "tag", "-a", f"{name}/v{version}", "-m",
        format_message(name, version, content.digest, message))
    return content.digest


def add_releases(root: Path) -> None:
    """support-refund 1.0.0, 1.1.0, 2.0.0 (each a different template) and triage 1.0.0."""
    release(root, "support-refund", "1.0.0")
    release(root, "triage", "1.0.0")
    path = root / "prompts/support-refund/prompt.yaml"
    base = path.read_text()
    for version, extra in EDITS.items():
        path.write_text(base.replace("Question:", extra.strip() + "\n  Question:"))
        release(root, "support-refund", version)
    path.write_text(base)
    git_save(root, "back to the original working tree")


def project(root: Path):
    from promptctl.services.project import open_project
    return open_project(root)


def commit_files(root: Path, rev: str = "HEAD") -> list[str]:
    return git(root, "show", "--name-only", "--format=", rev).splitlines()


def repo_snapshot(root: Path) -> dict:
    """repo_state without .promptctl/ (the gitignored lock file is expected to exist)."""
    from support.repos import repo_state
    state = repo_state(root)
    state["files"] = {k: v for k, v in state["files"].items() if not k.startswith(".promptctl/")}
    return state


def recreate_tag(root: Path, name: str, version: str, extra: str) -> str:
    """An attacker's swap: new content committed, the tag deleted and re-created on it with
    a recomputed, valid Prompt-Digest (so the tag alone looks genuine)."""
    path = root / f"prompts/{name}/prompt.yaml"
    path.write_text(path.read_text().replace("Question:", f"{extra}\n  Question:"))
    git(root, "tag", "-d", f"{name}/v{version}")
    return release(root, name, version)


CANARY_MANIFEST = """\
environments:
  production:
    support-refund:
      active: 1.0.0
      canary: {version: 1.1.0, weight: 5, started: "2026-01-01T00:00:00+00:00"}
"""


def seed_failing_canary(root: Path, calls: int = 300) -> None:
    """A committed 5% canary of support-refund 1.1.0 whose calls fail one in three:
    the controller's decision is a rollback."""
    import time

    from support.repos import build_file_tree
    from support.traffic import canary_fails_one_in_three, log_canary_traffic

    build_file_tree(root, {"release.yaml": CANARY_MANIFEST})
    git_save(root, "canary")
    now = time.time()
    log_canary_traffic(root, calls, outcome=canary_fails_one_in_three, at=lambda i: now)
