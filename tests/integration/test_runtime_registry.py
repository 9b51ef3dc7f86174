"""The runtime on real repos and bundles: routing, hot reload, last good, no git, HTTP."""

import json
import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from support.cli import modules_loaded_by, run_cli
from support.fleet import live_deploy
from support.http import EtagServer
from support.repos import git
from support.releases import project

import promptctl
from promptctl.errors import NotFoundError, RenderError, RepoError
from promptctl.services import bundle, deploy


@pytest.fixture
def live_repo(deploy_repo):
    return live_deploy(deploy_repo)


def test_get_routes_renders_and_reads_git_objects_not_the_working_tree(live_repo):
    (live_repo / "prompts/_partials/policy.j2").write_text("EDITED, NOT RELEASED\n")
    reg = promptctl.Registry.open(live_repo, env="production")
    seen = {}
    for key in range(400):
        p = reg.get("support-refund", key=f"user-{key}")
        seen.setdefault((p.version, p.variant), p)
    assert set(seen) == {("1.0.0", "stable"), ("2.0.0", "canary")}
    text = seen[("2.0.0", "canary")].render(question="Where is my refund?")
    assert "Never promise refunds." in text and "Be brief and kind." in text
    assert "Question: Where is my refund?" in text and "EDITED" not in text
    stable = seen[("1.0.0", "stable")]
    assert (stable.model, stable.provider, stable.params) == ("echo-1", "echo", {"temperature": 0})
    assert stable.digest.startswith("sha256:") and stable.kind == "text"


def test_same_key_same_variant_and_segments_fall_back(live_repo):
    reg = promptctl.Registry.open(live_repo, env="production")
    first = [reg.get("support-refund", key=f"k{i}").version for i in range(100)]
    assert first == [reg.get("support-refund", key=f"k{i}").version for i in range(100)]
    assert reg.get("support-refund", key="x", segment="enterprise").version == "1.1.0"
    assert reg.get("triage", segment="enterprise").segment is None
    chat = reg.get("triage").render(ticket="printer on fire")
    assert chat[0]["role"] == "system" and chat[1] == {"role": "user", "content": "Ticket: printer on fire"}


def test_missing_input_names_prompt_version_and_variable(live_repo):
    reg = promptctl.Registry.open(live_repo, env="production")
    with pytest.raises(RenderError, match=r"support-refund@1\.1\.0.*'question'"):
        reg.get("support-refund", segment="enterprise").render(customer_name="Ann")
    assert "Hello there." in reg.get("support-refund", segment="enterprise").render(question="q")
    with pytest.raises(NotFoundError, match="not deployed in production"):
        reg.get("nope")


def test_model_pin_in_the_manifest_overrides_the_prompt(live_repo):
    text = (live_repo / "release.yaml").read_text().replace(
        "    triage:\n      active: 1.0.0\n", "    triage:\n      active: 1.0.0\n      model: echo-2\n")
    (live_repo / "release.yaml").write_text(text)
    reg = promptctl.Registry.open(live_repo, env="production")
    assert reg.get("triage").model == "echo-2"


def test_hot_reload_after_another_process_rolls_back(live_repo):
    reg = promptctl.Registry.open(live_repo, env="production", refresh_interval=0.05)
    keys = [f"user-{i}" for i in range(300)]
    assert any(reg.get("support-refund", key=k).variant == "canary" for k in keys)
    compiled = next(p._compiled for p in map(lambda k: reg.get("support-refund", key=k), keys)
                    if p.variant == "stable")
    result = run_cli("rollback", "support-refund", "--env", "production", "-m", "bad", cwd=live_repo)
    assert result.returncode == 0, result.stderr
    deadline = time.monotonic() + 5
    while reg.get("support-refund", key="warm").variant == "canary" or \
            any(reg.get("support-refund", key=k).variant == "canary" for k in keys):
        assert time.monotonic() < deadline, "rollback never reached the running registry"
        time.sleep(0.02)
    assert reg.get("support-refund", key="x")._compiled is compiled   # compiled once per process


def test_a_corrupt_manifest_is_refused_and_the_last_good_keeps_serving(live_repo, caplog):
    reg = promptctl.Registry.open(live_repo, env="production", refresh_interval=None)
    (live_repo / "release.yaml").write_text("environments:\n  production:\n    triage: {active: 1.0}\n")
    with caplog.at_level(logging.ERROR, logger="promptctl.runtime"):
        assert reg.refresh() is False
    assert reg.get("triage").version == "1.0.0"
    assert "refused a changed manifest" in caplog.text and "active" in caplog.text
    assert reg.last_error is not None
    (live_repo / "release.yaml").write_text(
        "environments:\n  production:\n    triage: {active: 9.9.9}\n")   # valid YAML, no such tag
    reg.refresh()
    assert reg.get("triage").version == "1.0.0"
    assert "9.9.9" in str(reg.last_error)


def test_fallback_serves_when_nothing_can_load(tmp_path):
    reg = promptctl.Registry.open(tmp_path, env="production", fallback="Hi {{ name }}")
    p = reg.get("anything")
    assert (p.variant, p.version, p.render(name="Ann")) == ("fallback", None, "Hi Ann")
    with pytest.raises(RepoError, match="no promptctl.yaml"):
        promptctl.Registry.open(tmp_path, env="production")


def test_threads_share_one_registry(live_repo):
    reg = promptctl.Registry.open(live_repo, env="production", refresh_interval=0.01)
    errors = []

    def work(n):
        try:
            for i in range(300):
                p = reg.get("support-refund", key=f"{n}-{i}")
                assert "Question: q" in p.render(question="q")
        except Exception as exc:   # surfaced below: a thread's assert is otherwise lost
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


NO_GIT_APP = textwrap.dedent("""
    import shutil, sys
    import promptctl
    assert shutil.which("git") is None
    reg = promptctl.Registry.from_bundle(sys.argv[1], env="production")
    p = reg.get("support-refund", key="user-1", segment="enterprise")
    print(p.version, p.variant, p.render(question="hi").splitlines()[-1])
    heavy = [m for m in ("git", "typer", "rich", "click", "promptctl.store", "promptctl.cli")
             if m in sys.modules]
    print("heavy:", heavy)
""")


def test_bundle_only_app_without_git_on_path(live_repo, tmp_path):
    out = tmp_path / "release.lock.json"
    data = bundle.bundle(project(live_repo), "production", out)
    assert sorted((v["name"], v["version"]) for v in data["versions"]) == [
        ("support-refund", "1.0.0"), ("support-refund", "1.1.0"), ("support-refund", "2.0.0"),
        ("triage", "1.0.0")]
    assert data["manifest_commit"] == git(live_repo, "rev-parse", "HEAD")
    result = subprocess.run([sys.executable, "-c", NO_GIT_APP, str(out)], capture_output=True,
                            text=True, env={"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1.1.0 stable Question: hi", "heavy: []"]


def test_verify_bundle_catches_tampering(live_repo, tmp_path):
    out = tmp_path / "release.lock.json"
    bundle.bundle(project(live_repo), "production", out)
    assert bundle.verify_bundle(project(live_repo), out) == []
    data = json.loads(out.read_text())
    data["versions"][0]["files"]["support-refund/prompt.yaml"] += "# sneaky\n"
    out.write_text(json.dumps(data))
    problems = bundle.verify_bundle(project(live_repo), out)
    assert problems and "digest" in str(problems[0])
    with pytest.raises(Exception, match="digest"):
        promptctl.Registry.from_bundle(out, env="production")


def test_bundle_over_http_reloads_on_etag_change(live_repo, tmp_path):
    p = project(live_repo)
    bundle.bundle(p, "production", tmp_path / "a.json")
    deploy.promote(p, "triage", "1.0.0", "production", segment="vip")
    deploy.rollback(p, "support-refund", "production")
    bundle.bundle(p, "production", tmp_path / "b.json")
    with EtagServer((tmp_path / "a.json").read_bytes()) as handler:
        url = f"{handler.url}/release.lock.json"
        reg = promptctl.Registry.from_bundle(url, env="production", refresh_interval=None)
        assert any(reg.get("support-refund", key=i).variant == "canary" for i in range(100))
        assert reg.refresh() is False
        assert handler.hits["304"] >= 1      # this server's ETag is a content hash: trusted
        handler.body = (tmp_path / "b.json").read_bytes()
        assert reg.refresh() is True
        assert all(reg.get("support-refund", key=i).variant == "stable" for i in range(100))
        assert handler.hits["200"] == 2


def test_importing_the_runtime_stays_light():
    heavy = ("typer", "rich", "click", "git", "promptctl.evals", "promptctl.cli")
    assert modules_loaded_by("promptctl.runtime.registry, promptctl.runtime.bundle", heavy) == []


def test_fallback_as_chat_messages_per_name(tmp_path):
    fallback = {"triage": [{"role": "system", "content": "Label it."},
                           {"role": "user", "content": "{{ ticket }}"}]}
    reg = promptctl.Registry.from_bundle(tmp_path / "missing.json", env="production", fallback=fallback)
    assert reg.get("triage").render(ticket="t") == [{"role": "system", "content": "Label it."},
                                                    {"role": "user", "content": "t"}]
    with pytest.raises(NotFoundError, match="no fallback"):
        reg.get("support-refund")


def test_open_with_a_manifest_url_reads_content_from_git(live_repo):
    with EtagServer((live_repo / "release.yaml").read_bytes()) as handler:
        url = f"{handler.url}/release.yaml"
        reg = promptctl.Registry.open(live_repo, env="production", manifest=url, refresh_interval=None)
        assert reg.get("support-refund", segment="enterprise").version == "1.1.0"
        handler.body = (b"environments: {production: {support-refund: {active: 2.0.0, segments: "
                        b"{enterprise: {active: 2.0.0}}}, triage: {active: 1.0.0}}}\n")
        assert reg.refresh() is True
        assert reg.get("support-refund", segment="enterprise").version == "2.0.0"
        handler.body = b"environments: {production: {support-refund: {active: nope}}}\n"
        assert reg.refresh() is False
        assert reg.get("support-refund").version == "2.0.0" and "nope" in str(reg.last_error)


def test_an_env_the_manifest_does_not_have_fails_at_open(live_repo):
    # a typo in env= must not start an app whose every get() fails
    with pytest.raises(NotFoundError, match="no environment 'prodution'.*known: production"):
        promptctl.Registry.open(live_repo, env="prodution")
    reg = promptctl.Registry.open(live_repo, env="prodution", fallback="Hi")
    assert reg.get("support-refund").variant == "fallback"


def test_a_release_made_before_promptctl_yaml_was_committed_serves(tmp_path):
    # the first bump in a fresh repo commits only the prompt's files, not promptctl.yaml
    from support.repos import POLICY, TEXT_PROMPT, build_file_tree, git_save
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    build_file_tree(root, {
        "promptctl.yaml": "prompts_dir: prompts\n", "release.yaml": "environments: {}\n",
        "prompts/_partials/policy.j2": POLICY,
        "prompts/support-refund/prompt.yaml": TEXT_PROMPT.format(name="support-refund"),
    })
    run_cli("bump", "support-refund", "-m", "first", cwd=root, check=True)
    git_save(root, "the rest")
    run_cli("promote", "support-refund", "1.0.0", "--env", "production", cwd=root, check=True)
    reg = promptctl.Registry.open(root, env="production")
    assert reg.get("support-refund").render(question="Where?").endswith("Question: Where?\n")


def test_changing_params_of_one_call_does_not_leak_into_the_next(live_repo):
    reg = promptctl.Registry.open(live_repo, env="production")
    first = reg.get("triage")
    first.params["temperature"] = 1.5
    assert "temperature" not in reg.get("triage").params


def test_the_issue_spelling_of_the_api_works(live_repo, tmp_path):
    # Registry.open(repo_path, env=...), Registry.from_bundle(path, env=...) as docs/runtime.md names them
    out = tmp_path / "release.lock.json"
    bundle.bundle(project(live_repo), "production", out)
    assert promptctl.Registry.open(repo_path=live_repo, env="production").get("triage").version == "1.0.0"
    assert promptctl.Registry.from_bundle(path=out, env="production").get("triage").version == "1.0.0"


@pytest.mark.parametrize("text", [
    'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
    "environments:\n  production:\n    triage: {active: 1.0.0}\n    triage: {active: 1.0.0}\n",
], ids=["alias-bomb", "duplicate-key"])
def test_a_hostile_manifest_does_not_block_get_and_is_named(live_repo, text):
    reg = promptctl.Registry.open(live_repo, env="production", refresh_interval=None)
    (live_repo / "release.yaml").write_text(text)
    start = time.monotonic()
    assert reg.refresh() is False
    assert time.monotonic() - start < 1.0
    assert reg.get("triage").version == "1.0.0"   # the last good manifest keeps serving
    assert "release.yaml" in str(reg.last_error)
