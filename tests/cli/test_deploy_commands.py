"""The deploy commands as users type them: output, JSON, exit codes, nothing changed on errors."""

import json

import pytest
from support.cli import run_cli
from support.cli import invoke as cli
from support.releases import repo_snapshot
from typer.testing import CliRunner



def test_promote_canary_status_history(deploy_repo):
    r = cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production", "-m", "go")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "promote support-refund 1.0.0 to production"
    r = cli(deploy_repo, "canary", "support-refund", "2.0.0", "--env", "production", "--weight", "2.5")
    assert r.exit_code == 0, r.output
    assert "canary support-refund 2.0.0 at 2.5% in production" in r.output
    r = cli(deploy_repo, "status", "--env", "production", "--json")
    row = json.loads(r.output)[0]
    assert (row["active"], row["canary"], row["weight"]) == ("1.0.0", "2.0.0", 2.5)
    r = cli(deploy_repo, "status")
    assert "support-refund" in r.output and "2.0.0 @ 2.5%" in r.output
    r = cli(deploy_repo, "history", "support-refund", "--env", "production", "--json")
    assert [(h["action"], h["why"]) for h in json.loads(r.output)] == [("canary", ""), ("promote", "go")]


def test_canary_is_a_group_with_a_default_start(deploy_repo):
    cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    r = cli(deploy_repo, "canary", "--env", "production", "support-refund", "1.1.0", "-w", "5")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, "canary", "start", "support-refund", "1.1.0", "--env", "production", "-w", "0")
    assert r.exit_code == 0 and "stop canary" in r.output
    r = cli(deploy_repo, "canary", "--help")
    assert r.exit_code == 0 and "start" in r.output


@pytest.mark.parametrize("args, words", [
    (["canary", "support-refund", "1.1.0", "--env", "production", "--weight", "150"], "weight"),
    (["promote", "support-refund", "7.0.0", "--env", "production"], "no release 7.0.0"),
    (["promote", "support-refund", "1.0.0", "--env", "Prod"], "--env"),
    (["rollback", "triage", "--env", "production"], "nothing deployed"),
])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(deploy_repo, args, words):
    before = repo_snapshot(deploy_repo)
    r = cli(deploy_repo, *args)
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error: ") and words in r.output and r.output.count("\n") == 1
    assert repo_snapshot(deploy_repo) == before


def test_require_eval_needs_a_passing_run_of_that_version(deploy_repo):
    before = repo_snapshot(deploy_repo)
    args = ["promote", "support-refund", "1.0.0", "--env", "production", "--require-eval"]
    r = cli(deploy_repo, *args)
    assert r.exit_code == 1 and "no passing eval run" in r.output
    assert repo_snapshot(deploy_repo)["head"] == before["head"]
    r = cli(deploy_repo, "eval", "support-refund@1.0.0", "--provider", "echo")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, *args)
    assert r.exit_code == 0, r.output


def test_an_invalid_release_yaml_names_file_line_and_field(deploy_repo):
    from support.repos import git_save
    (deploy_repo / "release.yaml").write_text("environments:\n  production:\n    triage: {active: one}\n")
    git_save(deploy_repo, "hand edit")
    before = repo_snapshot(deploy_repo)
    r = cli(deploy_repo, "promote", "triage", "1.0.0", "--env", "production")
    assert r.exit_code == 2
    assert "release.yaml:3: environments.production.triage.active" in r.output
    assert repo_snapshot(deploy_repo) == before


def test_schema_manifest_prints_the_json_schema(deploy_repo):
    r = cli(deploy_repo, "schema", "manifest")
    schema = json.loads(r.output)
    assert schema["title"].startswith("promptctl release manifest")
    assert "Canary" in schema["$defs"]


def test_bundle_and_verify_through_the_installed_command(deploy_repo):
    run_cli("promote", "triage", "1.0.0", "--env", "staging", cwd=deploy_repo, check=True)
    r = run_cli("bundle", "--env", "staging", "-o", "out/staging.json", cwd=deploy_repo)
    assert r.returncode == 0, r.stderr
    assert "1 versions" in r.stdout
    data = json.loads((deploy_repo / "out/staging.json").read_text())
    assert data["versions"][0]["tag"] == "triage/v1.0.0"
    r = run_cli("bundle", "--env", "staging", "-o", "out/staging.json", "--verify", cwd=deploy_repo)
    assert r.returncode == 0 and "ok" in r.stdout
    r = run_cli("bundle", "--env", "nowhere", cwd=deploy_repo)
    assert r.returncode == 2 and "nowhere" in r.stderr


def test_a_default_group_takes_more_subcommands_beside_the_default():
    import typer

    from promptctl.cli.groups import DefaultGroup

    class StartGroup(DefaultGroup):
        default_command = "start"

    group = typer.Typer(cls=StartGroup)
    calls = []

    @group.command("start")
    def start(name: str, version: str, weight: float = typer.Option(..., "--weight")):
        calls.append(("start", name, version, weight))

    @group.command("analyze")
    def analyze(name: str, apply: bool = typer.Option(False, "--apply")):
        calls.append(("analyze", name, apply))

    runner = CliRunner()
    assert runner.invoke(group, ["p", "1.1.0", "--weight", "5"]).exit_code == 0
    assert runner.invoke(group, ["analyze", "p", "--apply"]).exit_code == 0
    assert calls == [("start", "p", "1.1.0", 5.0), ("analyze", "p", True)]


def test_bundle_with_C_writes_into_that_folder_and_verify_checks_it(deploy_repo, tmp_path):
    # -C DIR runs "as if started in DIR": the default -o lands there, where verify looks for it
    cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    r = run_cli("-C", str(deploy_repo), "bundle", "--env", "production", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (deploy_repo / "release.lock.json").is_file() and not (tmp_path / "release.lock.json").exists()
    assert run_cli("verify", cwd=deploy_repo).returncode == 0
    data = json.loads((deploy_repo / "release.lock.json").read_text())
    files = data["versions"][0]["files"]
    files[next(iter(files))] += "tampered\n"
    (deploy_repo / "release.lock.json").write_text(json.dumps(data))
    r = run_cli("verify", cwd=deploy_repo)
    assert r.returncode == 1 and "release.lock.json" in r.stderr and "digest" in r.stderr


def test_require_eval_as_the_default_from_promptctl_yaml(deploy_repo):
    # the documented `eval: {require_eval: true}` must be accepted, and act as the default
    from support.repos import git_save
    config = deploy_repo / "promptctl.yaml"
    config.write_text(config.read_text() + "eval:\n  require_eval: true\n")
    git_save(deploy_repo, "gate every rollout")
    before = repo_snapshot(deploy_repo)
    r = cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    assert r.exit_code == 1 and "no passing eval run" in r.output, r.output
    assert repo_snapshot(deploy_repo) == before
    r = cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production", "--no-require-eval")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, "eval", "support-refund@1.1.0", "--provider", "echo")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, "canary", "support-refund", "1.1.0", "--env", "production", "-w", "5")
    assert r.exit_code == 0, r.output


def test_bundle_verify_needs_no_env_and_a_mangled_bundle_is_a_finding(deploy_repo):
    run_cli("promote", "triage", "1.0.0", "--env", "staging", cwd=deploy_repo, check=True)
    run_cli("bundle", "--env", "staging", "-o", "lock.json", cwd=deploy_repo, check=True)
    r = run_cli("bundle", "--verify", "-o", "lock.json", cwd=deploy_repo)    # as docs/runtime.md shows it
    assert r.returncode == 0, r.stderr
    data = json.loads((deploy_repo / "lock.json").read_text())
    del data["versions"][0]["files"]
    (deploy_repo / "lock.json").write_text(json.dumps(data))
    r = run_cli("verify", "--bundle", "lock.json", cwd=deploy_repo)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "lock.json: versions.0.files: missing" in r.stderr


@pytest.mark.parametrize("retag", [
    ["tag", "-f", "support-refund/v1.1.0", "support-refund/v1.0.0^{}"],             # lightweight
    ["tag", "-f", "-a", "support-refund/v1.1.0", "-m", "moved", "support-refund/v1.0.0^{}"],  # no digest
])
def test_promote_and_the_runtime_refuse_a_tag_verify_rejects(deploy_repo, retag):
    from support.repos import git
    git(deploy_repo, *retag)
    assert run_cli("verify", cwd=deploy_repo).returncode == 1
    before = repo_snapshot(deploy_repo)
    for args in (["promote", "support-refund", "1.1.0", "--env", "production"],
                 ["canary", "support-refund", "1.1.0", "--env", "production", "-w", "5"]):
        r = cli(deploy_repo, *args)
        assert r.exit_code == 2 and "not a release made by `promptctl bump`" in r.output, r.output
    assert repo_snapshot(deploy_repo) == before
    manifest = deploy_repo / "release.yaml"
    manifest.write_text("environments:\n  production:\n    support-refund: {active: 1.1.0}\n")
    import promptctl
    with pytest.raises(promptctl.errors.ValidationError, match="support-refund/v1.1.0"):
        promptctl.Registry.open(deploy_repo, env="production")


def test_history_of_an_env_that_does_not_exist_is_an_error(deploy_repo):
    cli(deploy_repo, "promote", "support-refund", "1.0.0", "--env", "production")
    r = cli(deploy_repo, "history", "support-refund", "--env", "prodution")
    assert r.exit_code == 2 and "no environment 'prodution'" in r.output and "known: production" in r.output
    r = cli(deploy_repo, "history", "triage", "--env", "production")
    assert r.exit_code == 0 and "no history for triage in production" in r.output


def test_a_release_yaml_that_is_not_utf8_is_named_not_a_crash(deploy_repo):
    from support.repos import git_save
    (deploy_repo / "release.yaml").write_bytes(b"environments: {}\n# caf\xe9\n")
    git_save(deploy_repo, "latin-1 hand edit")
    before = repo_snapshot(deploy_repo)
    for args in (["status"], ["promote", "triage", "1.0.0", "--env", "production"]):
        r = run_cli(*args, cwd=deploy_repo)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert r.stderr.startswith("error: release.yaml: not UTF-8 text"), r.stderr
    assert repo_snapshot(deploy_repo) == before


def test_deploy_commands_take_a_v_prefixed_version_as_show_and_bump_do(deploy_repo):
    r = cli(deploy_repo, "promote", "support-refund", "v1.0.0", "--env", "production")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, "canary", "support-refund", "v2.0.0", "--env", "production", "-w", "5")
    assert r.exit_code == 0, r.output
    r = cli(deploy_repo, "rollback", "support-refund", "--env", "production", "--to", "v1.1.0")
    assert r.exit_code == 0, r.output
    manifest = (deploy_repo / "release.yaml").read_text()
    assert "active: 1.1.0" in manifest and "v1" not in manifest and "v2" not in manifest
