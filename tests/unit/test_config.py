"""promptctl.yaml read once: typed sections, every problem at its line, raised where used."""

from __future__ import annotations

import pytest

from promptctl.config import (call_log_settings, eval_settings, load_config, parse_config,
                              provider_settings, section_problems)
from promptctl.errors import NotFoundError, ValidationError
from promptctl.model import Config
from promptctl.sources import DictSource


def test_sections_are_typed_and_keep_what_the_file_sets():
    config = parse_config("eval: {history: ci/h.sqlite}\ncall_log: {path: calls.jsonl}\n"
                          "providers:\n  openai: {timeout: 5, api_key_env: KEY}\n")
    assert eval_settings(config).history == "ci/h.sqlite"
    assert call_log_settings(config).path == "calls.jsonl"
    openai = provider_settings(config, "openai")
    assert openai.timeout == 5.0 and openai.model_fields_set == {"timeout", "api_key_env"}
    assert provider_settings(config, "python:mod:fn") is None
    assert section_problems(config) == []


def test_a_broken_section_waits_for_the_command_that_reads_it():
    text = "prompts_dir: prompts\neval: {histroy: x}\ncanary: {alpha: lots}\n"
    config = parse_config(text)
    assert config.prompts_dir == "prompts"          # the rest of the file still serves
    assert [str(p) for p in section_problems(config)] == [
        "promptctl.yaml:2: eval.histroy: unknown setting (known: history, cache, require_eval)",
        "promptctl.yaml:3: canary.alpha: 'lots' is not a number"]
    with pytest.raises(ValidationError, match=r"^promptctl.yaml:2: eval.histroy: "):
        eval_settings(config)
    assert call_log_settings(config).path is None


def test_provider_problems_name_the_provider_and_the_line():
    config = parse_config("providers:\n  openai: {timeoutt: 5}\n  echo:\n    azure: "
                          "{endpoint: e, deployment: d, api_version: 2024-10-21}\n")
    found = [str(p) for p in section_problems(config)]
    assert found[0].startswith("promptctl.yaml:2: providers.openai: unknown provider setting 'timeoutt'")
    assert found[1] == ("promptctl.yaml:4: providers.echo.azure: azure settings apply to the "
                        "openai provider only (move them under providers.openai)")
    unquoted_date = parse_config("providers:\n  openai:\n    azure: {endpoint: e, deployment: d, "
                                 "api_version: 2024-10-21}\n")
    assert provider_settings(unquoted_date, "openai").azure.api_version == "2024-10-21"


def test_a_config_built_in_code_is_checked_on_first_use():
    assert eval_settings(Config()).cache is None
    with pytest.raises(ValidationError, match="call_log.path"):
        call_log_settings(Config(call_log={"path": 5}))


def test_the_loader_needs_the_file():
    with pytest.raises(NotFoundError):
        load_config(DictSource({}))
    assert load_config(DictSource({"promptctl.yaml": "evals_dir: e\n"})).evals_dir == "e"
