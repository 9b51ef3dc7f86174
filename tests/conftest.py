"""Fixtures and hooks only: an isolated git identity and home, and real prompt repos on disk.

The helpers they use live in the `support` package beside this file."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.releases import add_releases
from support.repos import make_prompt_repo


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


@pytest.fixture
def prompt_repo(tmp_path) -> Path:
    """A committed prompt repo with a text prompt (with a partial) and a chat prompt."""
    return make_prompt_repo(tmp_path / "repo")


@pytest.fixture
def deploy_repo(prompt_repo) -> Path:
    """prompt_repo with releases: support-refund 1.0.0, 1.1.0, 2.0.0 and triage 1.0.0."""
    add_releases(prompt_repo)
    return prompt_repo
