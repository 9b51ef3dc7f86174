"""`bump --sign` signs the release tag with git's own tag signing (SSH keys here: offline
and needing no agent); `verify --require-signed` accepts only tags signed by an allowed key."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from support.cli import run_cli
from support.repos import git, repo_state

pytestmark = pytest.mark.skipif(shutil.which("ssh-keygen") is None,
                                reason="ssh-keygen (openssh-client) is not installed")


def _key(folder, name: str):
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True)
    return key


def _signers(folder, key, email="author@example.com"):
    path = folder / f"allowed-{key.name}"
    path.write_text(f'{email} namespaces="git" {(key.with_suffix(".pub")).read_text()}')
    return path


@pytest.fixture
def signing_repo(prompt_repo, tmp_path):
    key = _key(tmp_path, "release-key")
    git(prompt_repo, "config", "gpg.format", "ssh")
    git(prompt_repo, "config", "user.signingkey", str(key))
    return prompt_repo, key


def test_signed_bumps_pass_require_signed_and_unsigned_or_foreign_fail(signing_repo, tmp_path):
    root, key = signing_repo
    for name in ("triage", "support-refund"):
        r = run_cli("bump", name, "--sign", "-m", "signed", cwd=root)
        assert r.returncode == 0, r.stderr
    assert "Good" in subprocess.run(
        ["git", "-c", f"gpg.ssh.allowedSignersFile={_signers(tmp_path, key)}", "verify-tag",
         "triage/v1.0.0"], cwd=root, capture_output=True, text=True).stderr
    allowed = _signers(tmp_path, key)
    r = run_cli("verify", "--require-signed", "--allowed-signers", str(allowed), cwd=root)
    assert r.returncode == 0 and "2 release tag(s): ok" in r.stdout, r.stderr
    assert git(root, "tag", "-l", "promptctl-sign-check-*") == ""

    # a key that is not in the allowed-signers file
    other = _signers(tmp_path, _key(tmp_path, "someone-else"))
    r = run_cli("verify", "--require-signed", "--allowed-signers", str(other), cwd=root)
    assert r.returncode == 1 and "signature not accepted" in r.stderr

    # an unsigned release among signed ones
    (root / "prompts/triage/system.j2").write_text("Label tickets, briefly.\n")
    assert run_cli("bump", "triage", cwd=root).returncode == 0
    r = run_cli("verify", "--require-signed", "--allowed-signers", str(allowed), cwd=root)
    assert r.returncode == 1 and "triage/v1.1.0: not signed" in r.stderr
    assert run_cli("verify", cwd=root).returncode == 0     # signatures are opt-in


def test_bump_sign_without_a_usable_key_changes_nothing(prompt_repo):
    git(prompt_repo, "config", "gpg.format", "ssh")
    git(prompt_repo, "config", "user.signingkey", str(prompt_repo / "no-such-key"))
    before = repo_state(prompt_repo)
    r = run_cli("bump", "triage", "--sign", cwd=prompt_repo)
    assert r.returncode == 2 and r.stderr.startswith("error: user.signingkey: --sign: git cannot sign")
    assert len(r.stderr.strip().splitlines()) == 1
    assert repo_state(prompt_repo) == before


def test_allowed_signers_file_must_exist(prompt_repo):
    r = run_cli("verify", "--require-signed", "--allowed-signers", "nope.txt", cwd=prompt_repo)
    assert r.returncode == 2 and "--allowed-signers" in r.stderr
