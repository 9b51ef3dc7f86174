"""Operator mistakes at the deploy commands: each one is a one-line error (exit 2) that
names what is wrong and changes nothing, or, where nothing is wrong, a plain exit 0."""

from __future__ import annotations

import json

import pytest
import yaml

from support.cli import run_cli
from support.cli import invoke as cli
from support.repos import build_file_tree, git, git_save
from support.releases import repo_snapshot

MANIFEST = """\
environments:
  production:
    support-refund:
      active: 1.0.0
      canary: {version: 2.0.0, weight: 5, started: "2026-01-01T00:00:00+00:00"}
"""
CONFIG = ("prompts_dir: prompts\nevals_dir: evals\nenvironments: [staging, production]\n"
          "canary:\n  min_calls: 300\n  deadline: 1h\n")


@pytest.fixture
def ops_repo(deploy_repo):
    build_file_tree(deploy_repo, {"release.yaml": MANIFEST, "promptctl.yaml": CONFIG})
    git_save(deploy_repo, "production runs 1.0.0 with a 2.0.0 canary")
    return deploy_repo


SR = "support-refund"
MISTAKES = [
    # environments: undeclared (a typo) or not a valid name
    (["promote", SR, "1.1.0", "--env", "prod"], "environment 'prod' is not declared"),
    (["promote", SR, "1.1.0", "--env", "prodution"], "known: staging, production"),
    (["promote", SR, "1.1.0", "--env", "production\n"], "is not valid"),
    (["promote", SR, "1.1.0", "--env", "Production"], "is not valid"),
    (["promote", SR, "1.1.0", "--env", "prod uction"], "is not valid"),
    (["promote", SR, "1.1.0", "--env", ""], "is not valid"),
    (["promote", SR, "1.1.0", "--env", "../production"], "is not valid"),
    (["canary", SR, "2.0.0", "--env", "prod", "--weight", "10"], "is not declared"),
    (["rollback", SR, "--env", "prod"], "is not declared"),
    (["history", SR, "--env", "prod"], "no environment 'prod'"),
    (["status", "--env", "prod"], "no environment 'prod'"),
    (["bundle", "--env", "prod"], "no environment 'prod'"),
    (["canary", "analyze", SR, "--env", "prod"], "no environment 'prod'"),
    # segments: named like prompts
    (["promote", SR, "1.1.0", "--env", "production", "--segment", "vip\n"], "segment name"),
    (["promote", SR, "1.1.0", "--env", "production", "--segment", "VIP"], "segment name"),
    (["promote", SR, "1.1.0", "--env", "production", "--segment", "a/b"], "segment name"),
    # versions and names
    (["promote", SR, "9.9.9", "--env", "production"], "has no release 9.9.9"),
    (["promote", SR, "abc", "--env", "production"], "not a semantic version"),
    (["promote", "Support Refund", "1.0.0", "--env", "production"], "invalid prompt name"),
    (["promote", "nosuch", "1.0.0", "--env", "production"], "has no release 1.0.0"),
    (["promote", SR, "1.0.0", "--env", "production"], "already active"),
    (["rollback", SR, "--env", "production", "--to", "1.0.0"], "already active"),
    # canary weights
    (["canary", SR, "2.0.0", "--env", "production", "--weight", "101"], "between 0 and 100"),
    (["canary", SR, "2.0.0", "--env", "production", "--weight", "-1"], "between 0 and 100"),
    (["canary", SR, "2.0.0", "--env", "production", "--weight", "5.123"], "two decimals"),
    (["canary", SR, "1.0.0", "--env", "production", "--weight", "5"], "already active"),
    (["canary", SR, "1.1.0", "--env", "production", "--weight", "0"], "running in production is 2.0.0"),
    (["canary", SR, "2.0.0", "--env", "staging", "--weight", "5"], "no active version in staging"),
]


@pytest.mark.parametrize("args,message", MISTAKES, ids=[" ".join(a)[:60] for a, _ in MISTAKES])
def test_a_mistake_is_one_line_exit_2_and_changes_nothing(ops_repo, args, message):
    before = repo_snapshot(ops_repo)
    result = cli(ops_repo, *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert repo_snapshot(ops_repo) == before


def test_re_weighting_a_canary_to_its_weight_is_a_no_op_and_restart_opens_a_window(ops_repo):
    before = repo_snapshot(ops_repo)
    result = cli(ops_repo, "canary", SR, "2.0.0", "--env", "production", "--weight", "5")
    assert result.exit_code == 0 and "already at 5% in production" in result.stdout
    assert repo_snapshot(ops_repo) == before

    result = cli(ops_repo, "canary", SR, "2.0.0", "--env", "production", "--weight", "5", "--restart")
    assert result.exit_code == 0 and "restart canary support-refund 2.0.0 at 5%" in result.stdout
    canary = yaml.safe_load((ops_repo / "release.yaml").read_text())["environments"]["production"][
        SR]["canary"]
    assert canary["weight"] == 5 and not str(canary["started"]).startswith("2026-01-01")
    assert "Promptctl-Restart: yes" in git(ops_repo, "log", "-1", "--format=%B")


def test_a_declared_environment_or_create_env_is_accepted(ops_repo):
    assert cli(ops_repo, "promote", SR, "1.1.0", "--env", "staging").exit_code == 0
    before = repo_snapshot(ops_repo)
    assert cli(ops_repo, "promote", SR, "1.1.0", "--env", "qa").exit_code == 2
    assert repo_snapshot(ops_repo) == before
    result = cli(ops_repo, "promote", SR, "1.1.0", "--env", "qa", "--create-env")
    assert result.exit_code == 0, result.output
    assert "qa" in yaml.safe_load((ops_repo / "release.yaml").read_text())["environments"]


def test_a_manifest_write_on_a_detached_head_is_refused(ops_repo):
    git(ops_repo, "checkout", "-q", "--detach")
    before = repo_snapshot(ops_repo)
    result = cli(ops_repo, "promote", SR, "1.1.0", "--env", "production")
    assert result.exit_code == 2 and "HEAD is detached" in result.stderr
    assert "git switch" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert repo_snapshot(ops_repo) == before


@pytest.mark.parametrize("stage", [False, True])
def test_an_uncommitted_manifest_is_named_with_a_diff_that_shows_it(ops_repo, stage):
    with open(ops_repo / "release.yaml", "a") as fh:
        fh.write("# a hand edit\n")
    if stage:
        git(ops_repo, "add", "release.yaml")
    before = repo_snapshot(ops_repo)
    result = cli(ops_repo, "promote", SR, "1.1.0", "--env", "production")
    assert result.exit_code == 2 and "uncommitted changes" in result.stderr
    # the suggested command shows the change, staged or not
    assert "git diff HEAD -- release.yaml" in result.stderr
    assert "a hand edit" in git(ops_repo, "diff", "HEAD", "--", "release.yaml")
    assert repo_snapshot(ops_repo) == before


def test_a_failing_webhook_prints_no_credentials(ops_repo):
    hook = "https://deploy:hunter2@127.0.0.1:9/hooks/T0AB12/B0CD34/xoxbSECRETtoken1234?token=abc123"
    result = run_cli("canary", "analyze", SR, "--env", "production", "--apply", "--webhook", hook,
                     cwd=ops_repo)
    assert result.returncode == 3, result.stderr
    assert "webhook https://***@127.0.0.1:9/hooks/" in result.stderr
    for secret in ("hunter2", "deploy:", "xoxbSECRETtoken1234", "abc123"):
        assert secret not in result.stderr + result.stdout
    assert "was applied and committed" in result.stderr    # the rollback itself landed


def test_autocrlf_checkout_diff_list_and_bump_agree(prompt_repo, tmp_path):
    assert cli(prompt_repo, "bump", SR).exit_code == 0
    clone = tmp_path / "crlf"
    git(tmp_path, "-c", "core.autocrlf=true", "clone", "-q", str(prompt_repo), str(clone))
    git(clone, "config", "core.autocrlf", "true")
    assert b"\r\n" in (clone / "prompts/support-refund/prompt.yaml").read_bytes()
    diff = cli(clone, "diff", SR, "--exit-code")
    assert diff.exit_code == 0 and "---" not in diff.stdout, diff.output
    listed = {row["name"]: row for row in json.loads(cli(clone, "list", "--json").stdout)}
    assert listed[SR]["unreleased"] is False
    bump = cli(clone, "bump", SR)
    assert bump.exit_code == 2 and "nothing changed" in bump.stderr
    # a real edit is seen by all three
    path = clone / "prompts/support-refund/prompt.yaml"
    path.write_bytes(path.read_bytes().replace(b"Question:", b"Please. Question:"))
    assert cli(clone, "diff", SR, "--exit-code").exit_code == 1
    assert cli(clone, "bump", SR).exit_code == 0


@pytest.mark.parametrize("env", ["prod", "prodution", "productio", "production-"])
def test_without_declared_environments_a_likely_typo_is_refused(deploy_repo, env):
    assert cli(deploy_repo, "promote", SR, "1.0.0", "--env", "production").exit_code == 0
    before = repo_snapshot(deploy_repo)
    result = cli(deploy_repo, "promote", SR, "1.1.0", "--env", env)
    assert result.exit_code == 2 and "did you mean 'production'?" in result.stderr, result.output
    assert repo_snapshot(deploy_repo) == before


def test_without_declared_environments_a_new_name_is_created_with_a_note(deploy_repo):
    assert cli(deploy_repo, "promote", SR, "1.0.0", "--env", "production").exit_code == 0
    result = cli(deploy_repo, "promote", SR, "1.0.0", "--env", "staging")
    assert result.exit_code == 0 and "note: creating environment 'staging'" in result.stderr
    assert cli(deploy_repo, "promote", SR, "1.1.0", "--env", "stage").exit_code == 2
