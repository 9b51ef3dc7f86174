"""release.yaml pins each active and canary version's digest: a tag re-created on other
content (with a recomputed Prompt-Digest) is refused by the runtime, verify and bundle."""

from __future__ import annotations

import json

import pytest
import yaml

from support.cli import run_cli
from support.repos import git
from support.releases import project, recreate_tag
from promptctl.errors import PromptctlError, ReleaseError, ValidationError
from promptctl.runtime.registry import Registry
from promptctl.services import bundle, deploy, prompts


@pytest.fixture
def pinned(deploy_repo):
    p = project(deploy_repo)
    deploy.promote(p, "support-refund", "1.0.0", "production")
    deploy.canary(p, "support-refund", "2.0.0", "production", 5)
    return deploy_repo


def _entry(root) -> dict:
    return yaml.safe_load((root / "release.yaml").read_text())["environments"]["production"][
        "support-refund"]


def test_promote_and_canary_pin_the_released_digests(pinned):
    p = project(pinned)
    entry = _entry(pinned)
    assert entry["digest"] == prompts.show(p, "support-refund@1.0.0")[0].digest
    assert entry["canary"]["digest"] == prompts.show(p, "support-refund@2.0.0")[0].digest
    assert entry["digest"] != entry["canary"]["digest"]


def test_a_recreated_tag_is_refused_by_runtime_verify_bundle_and_deploys(pinned):
    pinned_digest = _entry(pinned)["canary"]["digest"]
    new_digest = recreate_tag(pinned, "support-refund", "2.0.0", "Offer a refund at once.")
    assert new_digest != pinned_digest
    # the tag itself is self-consistent: only the pin tells the swap apart
    assert prompts.show(project(pinned), "support-refund@2.0.0")[0].digest == new_digest

    with pytest.raises(ValidationError, match="re-created") as caught:
        Registry.open(pinned, env="production")
    assert pinned_digest in str(caught.value) and new_digest in str(caught.value)

    r = run_cli("verify", cwd=pinned)
    assert r.returncode == 1 and "support-refund@2.0.0" in r.stderr and "re-created" in r.stderr

    before = git(pinned, "rev-parse", "HEAD")
    r = run_cli("bundle", "--env", "production", "-o", "out.json", cwd=pinned)
    assert r.returncode == 2 and "re-created" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (pinned / "out.json").exists()

    with pytest.raises(ReleaseError, match="re-created"):
        deploy.promote(project(pinned), "support-refund", "2.0.0", "production")
    assert git(pinned, "rev-parse", "HEAD") == before


def test_a_running_app_keeps_the_pinned_content_after_a_tag_swap(pinned):
    pins = _entry(pinned)
    reg = Registry.open(pinned, env="production", refresh_interval=None)   # refreshed by hand below
    recreate_tag(pinned, "support-refund", "2.0.0", "Offer a refund at once.")
    deploy.promote(project(pinned), "triage", "1.0.0", "production")   # a new manifest to load
    reg.refresh()                      # the background thread may have loaded it already
    assert reg.get("triage").version == "1.0.0" and reg.last_error is None, reg.last_error
    served = {reg.get("support-refund", key=f"user{i}").digest for i in range(400)}
    assert served == {pins["digest"], pins["canary"]["digest"]}


def test_bundle_records_pins_and_from_bundle_checks_them(deploy_repo, tmp_path):
    root = deploy_repo
    # an older release.yaml without pins still deploys and bundles
    (root / "release.yaml").write_text("environments:\n  production:\n"
                                       "    support-refund: {active: 1.0.0}\n")
    git(root, "commit", "-qam", "hand-written manifest")
    assert Registry.open(root, env="production").get("support-refund").version == "1.0.0"
    out = tmp_path / "bundle.json"
    bundle.bundle(project(root), "production", out)
    data = json.loads(out.read_text())
    pin = data["manifest"]["environments"]["production"]["support-refund"]["digest"]
    assert pin == data["versions"][0]["digest"]
    assert Registry.from_bundle(out, env="production").get("support-refund").digest == pin

    # a bundle whose manifest pins other content than it carries is refused
    data["manifest"]["environments"]["production"]["support-refund"]["digest"] = \
        "sha256:" + "0" * 64
    out.write_text(json.dumps(data))
    with pytest.raises(PromptctlError, match="swapped"):
        Registry.from_bundle(out, env="production", cache_dir=None)
    # with the on-disk copy of the last good bundle, the app keeps serving it, marked stale
    stale = Registry.from_bundle(out, env="production")
    assert stale.health()["status"] == "stale" and "swapped" in stale.health()["last_error"]
    assert stale.get("support-refund").digest == pin
    r = run_cli("bundle", "--verify", "-o", str(out), cwd=root)
    assert r.returncode == 1 and "swapped" in r.stderr
