"""The app and `canary analyze` find the call log the same way: $PROMPTCTL_CALL_LOG, else
promptctl.yaml's `call_log: {path}`, else the default; relative to the repo's root,
whatever folder the app runs in."""

import pytest

from promptctl.runtime.log_target import resolve_target
from promptctl.services.canary import call_log_path
from support.releases import project


@pytest.mark.parametrize("env_value, config_path, expected", [
    (None, None, ".promptctl/calls.sqlite"),
    (None, "logs/calls.sqlite", "logs/calls.sqlite"),
    ("shared/calls.jsonl", "logs/calls.sqlite", "shared/calls.jsonl"),
])
def test_the_app_writes_where_canary_analyze_reads(prompt_repo, tmp_path, monkeypatch,
                                                   env_value, config_path, expected):
    if config_path:
        with open(prompt_repo / "promptctl.yaml", "a") as fh:
            fh.write(f"call_log:\n  path: {config_path}\n")
    if env_value:
        monkeypatch.setenv("PROMPTCTL_CALL_LOG", env_value)
    else:
        monkeypatch.delenv("PROMPTCTL_CALL_LOG", raising=False)
    monkeypatch.chdir(tmp_path)                 # the app runs from another folder
    written = resolve_target(None, prompt_repo)
    assert written == prompt_repo / expected
    assert call_log_path(project(prompt_repo)) == written


def test_an_absolute_path_is_taken_as_it_is(prompt_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTCTL_CALL_LOG", str(tmp_path / "calls.sqlite"))
    assert resolve_target(None, prompt_repo) == tmp_path / "calls.sqlite"
    assert call_log_path(project(prompt_repo)) == tmp_path / "calls.sqlite"


@pytest.mark.parametrize("name", ["otel", "prometheus"])
def test_a_sink_named_in_the_environment_is_not_taken_for_a_file(prompt_repo, monkeypatch, name):
    monkeypatch.setenv("PROMPTCTL_CALL_LOG", name)
    assert resolve_target(None, prompt_repo) == name
