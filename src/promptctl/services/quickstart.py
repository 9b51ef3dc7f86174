"""The offline end-to-end demo behind `promptctl quickstart DIR`.

It drives the same services as the commands do, on a fresh repo with the `echo`
provider, so it needs no API key and no network. Each step yields (title, detail).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterator

from ..errors import UsageError
from . import prompts, scaffold
from .project import open_project

DEMO_PROMPT = "support-reply"


def quickstart(directory: Path) -> Iterator[tuple[str, str]]:
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty", field="DIR",
                         fix="give a new folder, e.g. promptctl quickstart demo")
    scaffold.init(directory)
    _use_echo_provider(directory)
    _ensure_identity(directory)
    _git(directory, "add", "-A")
    _git(directory, "commit", "-q", "-m", "promptctl init")
    yield "init", f"created a prompt repo in {directory} (git init, example prompt, suite, dataset)"

    project = open_project(directory)
    names, problems = prompts.check(project)
    yield "check", f"{len(names)} prompt(s), {len(problems)} problem(s)"

    first = prompts.bump(project, DEMO_PROMPT, "auto", message="first release")
    yield "bump", f"{first.name} {first.version} tagged {first.tag}"

    system = directory / "prompts" / DEMO_PROMPT / "system.j2"
    system.write_text(system.read_text().replace("at most three sentences", "at most two short sentences"))
    diff = prompts.diff(project, DEMO_PROMPT)
    yield "diff", f"suggested bump: {diff.level.label} ({'; '.join(diff.reasons)})"
    second = prompts.bump(project, DEMO_PROMPT, "auto", message="tighter answers")
    yield "bump", f"{second.name} {second.version} tagged {second.tag}"

    report = prompts.verify(project)
    yield "verify", f"{report.checked} release tag(s), {len(report.findings)} finding(s)"


def _use_echo_provider(directory: Path) -> None:
    # The demo must run offline: the echo provider answers with the rendered prompt.
    path = directory / "prompts" / DEMO_PROMPT / "prompt.yaml"
    text = path.read_text()
    text = text.replace("provider: openai", "provider: echo").replace(
        "name: gpt-4o-mini-2024-07-18", "name: echo-1")
    path.write_text(text)


def _ensure_identity(directory: Path) -> None:
    # A fresh machine may have no git identity; the demo repo gets a local one then.
    for key, value in (("user.name", "promptctl quickstart"), ("user.email", "quickstart@localhost")):
        found = subprocess.run(["git", "config", key], cwd=directory, capture_output=True, text=True)
        if not found.stdout.strip():
            _git(directory, "config", key, value)


def _git(directory: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=directory, check=True, capture_output=True)
