"""The attestation record: its JSON line, and which field a deploy's requirement rejects."""

from __future__ import annotations

import pytest

from promptctl.evals.attestation import (
    OFFLINE_FIELD, Attestation, GateValue, Requirement, judge, mismatch, parse_note, where_it_ran)

NEED = Requirement(prompt="reply", version="1.0.0", prompt_digest="sha256:" + "a" * 64,
                   suite="evals/reply/suite.yaml", suite_digest="sha256:" + "b" * 64,
                   dataset_digest="sha256:" + "c" * 64, provider="openai", model="gpt-4o-mini")


def attestation(**changes) -> Attestation:
    fields = dict(prompt="reply", version="1.0.0", tag="reply/v1.0.0",
                  prompt_digest=NEED.prompt_digest, suite=NEED.suite, suite_digest=NEED.suite_digest,
                  dataset_digest=NEED.dataset_digest, provider="openai", model="gpt-4o-mini",
                  params_digest="sha256:" + "d" * 64,
                  gates=[GateValue(gate="accuracy >= 0.8", value=0.9, passed=True)], passed=True,
                  time="2026-01-01T00:00:00+00:00", promptctl_version="0.1.0", ran_at="ci")
    return Attestation(**{**fields, **changes})


def test_a_note_round_trips_and_foreign_lines_are_skipped():
    a, b = attestation(), attestation(model="gpt-4.1", passed=False)
    note = "\n".join(["written by hand", a.to_line(), "", "{not json", '{"format": "other/1"}',
                      b.to_line()])
    assert parse_note(note) == [a, b]
    assert parse_note(None) == []


def test_a_newer_promptctl_may_add_fields():
    line = attestation().to_line()[:-1] + ',"future_field":1}'
    assert parse_note(line) == [attestation()]


@pytest.mark.parametrize("changes, words", [
    ({"suite": "evals/other/suite.yaml"}, "used suite evals/other/suite.yaml"),
    ({"suite_digest": "sha256:" + "e" * 64}, "another revision of evals/reply/suite.yaml"),
    ({"dataset_digest": "sha256:" + "e" * 64}, "another dataset"),
    ({"provider": "echo"}, f"used provider echo, the environment serves openai (set {OFFLINE_FIELD}"),
    ({"provider": "python:scorers.fake"}, "used provider python:scorers.fake"),
    ({"provider": "anthropic"}, "used provider anthropic"),
    ({"model": "gpt-4.1"}, "used model gpt-4.1, the environment serves gpt-4o-mini"),
    ({"prompt_digest": "sha256:" + "f" * 64}, "evaluated content"),
])
def test_each_differing_field_is_named(changes, words):
    assert words in mismatch(attestation(**changes), NEED)
    verdict = judge([attestation(**changes)], NEED)
    assert not verdict.ok and words in verdict.reason and "last passing run" in verdict.reason


def test_an_offline_run_counts_only_when_the_suite_says_so():
    from dataclasses import replace
    echo = attestation(provider="echo")
    assert mismatch(echo, NEED) is not None
    assert mismatch(echo, replace(NEED, accept_offline=True)) is None
    # accepting offline runs never lets another model API stand in
    assert mismatch(attestation(provider="anthropic"), replace(NEED, accept_offline=True))


def test_judge_takes_the_newest_matching_pass_and_explains_failures():
    good = attestation(time="2026-01-01T00:00:00+00:00")
    lenient = attestation(suite="evals/other/suite.yaml", time="2026-01-02T00:00:00+00:00")
    assert judge([good, lenient], NEED).accepted == good
    assert "no passing eval run attested" in judge([], NEED).reason
    failed = attestation(passed=False, gates=[GateValue(gate="accuracy >= 0.8", value=0.5,
                                                        passed=False)])
    reason = judge([failed], NEED).reason
    assert "no passing eval run of reply@1.0.0" in reason and "failed gate accuracy >= 0.8" in reason


def test_where_it_ran_names_the_ci_run():
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/prompts",
           "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}
    assert where_it_ran(env) == "https://github.com/acme/prompts/actions/runs/42/attempts/2"
    assert "@" in where_it_ran({})
