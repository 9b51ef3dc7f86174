"""Two clones and a bare origin: eval evidence, tags and the manifest travel through git."""

from __future__ import annotations

import json

import pytest

from support.clones import cli, clone, make_origin, release_next
from support.repos import git, git_save
from support.llm import FakeLLM

PROMOTE = ("promote", "support-reply", "1.0.0", "--env", "production", "--require-eval")


@pytest.fixture
def llm(monkeypatch):
    server = FakeLLM()
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    yield server
    server.close()


@pytest.fixture
def team(tmp_path):
    origin = make_origin(tmp_path)
    return origin, clone(origin, tmp_path / "ci"), clone(origin, tmp_path / "laptop")


def remote_notes(origin) -> list[dict]:
    out = git(origin, "notes", "--ref=refs/notes/promptctl", "show", "support-reply/v1.0.0")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_ci_attests_and_another_clone_promotes_after_sync(team, llm, monkeypatch):
    origin, ci, laptop = team
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/prompts")
    monkeypatch.setenv("GITHUB_RUN_ID", "99")
    r = cli(ci, "eval", "support-reply@1.0.0")
    assert r.exit_code == 0, r.output
    assert llm.requests, "the eval must have called the model API"
    r = cli(ci, "sync", "--push")
    assert r.exit_code == 0, r.output
    assert "refs/notes/promptctl" in r.output
    [note] = remote_notes(origin)
    assert (note["provider"], note["model"]) == ("openai", "gpt-4o-mini")
    assert note["ran_at"].endswith("/actions/runs/99")
    # the other clone has no evidence until it syncs
    r = cli(laptop, *PROMOTE)
    assert r.exit_code == 1 and "no passing eval run attested" in r.output
    r = cli(laptop, "sync")
    assert r.exit_code == 0 and "notes: fetched" in r.output, r.output
    r = cli(laptop, *PROMOTE)
    assert r.exit_code == 0, r.output
    # the deploy commit travels back, and CI's clone fast-forwards to it
    r = cli(laptop, "sync", "--push")
    assert r.exit_code == 0 and "main" in r.output.splitlines()[-1], r.output
    r = cli(ci, "sync")
    assert r.exit_code == 0 and "fast-forwarded" in r.output, r.output
    assert "active: 1.0.0" in (ci / "release.yaml").read_text()


def test_lenient_suite_echo_and_other_model_runs_are_refused_with_the_reason(team, llm):
    _, _, laptop = team
    version = release_next(laptop, "Answer politely, briefly:")
    promote = ("promote", "support-reply", version, "--env", "production", "--require-eval")
    for run, reason in [
        (("--suite", "evals/lenient/suite.yaml"), "used suite evals/lenient/suite.yaml"),
        (("--provider", "echo"), "used provider echo, the environment serves openai"),
        (("--model", "gpt-4.1"), "used model gpt-4.1, the environment serves gpt-4o-mini"),
    ]:
        r = cli(laptop, "eval", f"support-reply@{version}", *run)
        assert r.exit_code == 0, r.output
        r = cli(laptop, *promote)
        assert r.exit_code == 1 and reason in r.output, r.output
        assert "active" not in (laptop / "release.yaml").read_text()
    assert cli(laptop, "eval", f"support-reply@{version}").exit_code == 0
    assert cli(laptop, *promote).exit_code == 0


def test_an_offline_run_counts_when_the_suite_says_so(team):
    _, _, laptop = team
    suite = laptop / "evals/support-reply/suite.yaml"
    suite.write_text(suite.read_text() + "accept_offline_runs: true\n")
    git_save(laptop, "offline runs vouch for the template")
    # echo replies with the rendered prompt, which contains "politely": the gate holds
    assert cli(laptop, "eval", "support-reply@1.0.0", "--provider", "echo").exit_code == 0
    r = cli(laptop, *PROMOTE)
    assert r.exit_code == 0, r.output


def test_notes_from_two_clones_are_merged_not_replaced(team, llm):
    origin, ci, laptop = team
    assert cli(ci, "eval", "support-reply@1.0.0").exit_code == 0
    assert cli(ci, "sync", "--push").exit_code == 0
    assert cli(laptop, "eval", "support-reply@1.0.0", "--model", "gpt-4.1").exit_code == 0
    r = cli(laptop, "sync", "--push")
    assert r.exit_code == 0 and "merged" in r.output, r.output
    assert sorted(n["model"] for n in remote_notes(origin)) == ["gpt-4.1", "gpt-4o-mini"]


def test_a_diverged_manifest_is_refused_and_explained(team):
    origin, ci, laptop = team
    assert cli(laptop, "promote", "support-reply", "1.0.0", "--env", "production").exit_code == 0
    assert cli(laptop, "sync", "--push").exit_code == 0
    assert cli(ci, "promote", "support-reply", "1.0.0", "--env", "staging").exit_code == 0
    before = git(origin, "rev-parse", "main")
    r = cli(ci, "sync", "--push")
    assert r.exit_code == 2, r.output
    assert "release.yaml changed here" in r.output and "git pull --rebase origin main" in r.output
    assert git(origin, "rev-parse", "main") == before
    assert "staging" in (ci / "release.yaml").read_text()


def test_the_same_version_released_in_two_clones_is_refused(team):
    _, ci, laptop = team
    release_next(ci, "Reply kindly:")
    assert cli(ci, "sync", "--push").exit_code == 0
    release_next(laptop, "Reply briefly:")
    r = cli(laptop, "sync")
    assert r.exit_code == 2 and "support-reply/v1.0.1 differs here and on origin" in r.output


@pytest.mark.parametrize("how", [("--no-tags",), ("--depth", "1")])
def test_bump_refuses_in_a_partial_clone_until_it_syncs(tmp_path, how):
    origin = make_origin(tmp_path)
    partial = clone(origin, tmp_path / "partial", *how)
    path = partial / "prompts/support-reply/prompt.yaml"
    path.write_text(path.read_text().replace("politely", "kindly"))
    before = git(partial, "rev-parse", "HEAD"), git(partial, "tag")
    r = cli(partial, "bump", "support-reply", "patch")
    assert r.exit_code == 2, r.output
    assert "run git fetch --tags (or promptctl sync)" in r.output
    assert (git(partial, "rev-parse", "HEAD"), git(partial, "tag")) == before
    assert cli(partial, "sync").exit_code == 0
    r = cli(partial, "bump", "support-reply", "patch")
    assert r.exit_code == 0 and "support-reply 1.0.1" in r.output, r.output


def test_show_log_promote_and_the_runtime_advise_fetching_tags(tmp_path):
    origin = make_origin(tmp_path)
    partial = clone(origin, tmp_path / "partial", "--no-tags")
    advice = "git fetch --tags (or promptctl sync)"
    for args in [("show", "support-reply@1.0.0"), ("promote", "support-reply", "1.0.0", "--env", "production")]:
        r = cli(partial, *args)
        assert r.exit_code == 2 and advice in r.output, (args, r.output)
    r = cli(partial, "log", "support-reply")
    assert advice in r.output and "support-reply@1.0.0" in r.output
    (partial / "release.yaml").write_text("environments:\n  production:\n    support-reply: {active: 1.0.0}\n")
    from promptctl import PromptctlError, Registry
    with pytest.raises(PromptctlError, match="fetch --tags"):
        Registry.open(partial, env="production")


def test_eval_history_shows_local_and_attested_runs_marked(team, llm):
    _, ci, laptop = team
    assert cli(ci, "eval", "support-reply@1.0.0").exit_code == 0
    assert cli(ci, "sync", "--push").exit_code == 0
    assert cli(laptop, "eval", "support-reply@1.0.0", "--provider", "echo").exit_code == 0
    assert cli(laptop, "sync").exit_code == 0
    r = cli(laptop, "eval", "history", "support-reply", "--json")
    rows = json.loads(r.output)
    assert sorted((row["provider"], row["source"]) for row in rows) == [
        ("echo", "local+attested"), ("openai", "attested")]
    r = cli(laptop, "eval", "history")
    assert "attested" in r.output and "local+attested" in r.output


def test_sync_without_a_remote_and_in_a_detached_head(tmp_path, deploy_repo):
    r = cli(deploy_repo, "sync")
    assert r.exit_code == 2 and "no git remote" in r.output and "git remote add" in r.output
    origin = make_origin(tmp_path)
    ci = clone(origin, tmp_path / "ci")
    git(ci, "checkout", "-q", "--detach")
    r = cli(ci, "sync", "upstream")
    assert r.exit_code == 2 and "no git remote named 'upstream'" in r.output and "origin" in r.output
    r = cli(ci, "sync", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["branch"] is None and "detached" in report["manifest"]
    assert report["fetched_tags"] == [] and report["remote"] == "origin"
