"""Services of deployment: promote, canary, rollback.

Every write runs the same transaction (`_edit`): under the manifest lock, read the
committed release.yaml, apply a pure edit, validate, write temp + fsync + rename, and
commit release.yaml alone. If the commit fails the old file is put back, so a failure
leaves the previous manifest and no half commit. Reading inside the lock is what lets
two processes editing different entries both land.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from .. import manifest as mf
from .. import manifest_edits as edits
from ..errors import ManifestError, PromptctlError, ReleaseError
from ..manifest import Manifest, dump_manifest
from ..manifest_edits import Change
from ..manifest_io import write_atomic
from ..model import ENV_NAME_RULE, PromptContent
from .deploy_status import previous_active
from .project import Project, load_release
from .working_manifest import EMPTY, manifest_of


def promote(project: Project, name: str, version: str, env: str, *, segment: str | None = None,
            why: str = "", require_eval: bool | None = None, create_env: bool = False) -> Change:
    """Make a released version active in env (or a segment); clears its canary."""
    version = _normal(version)
    content = _released(project, name, version)
    _eval_gate(project, name, version, content, env, segment, require_eval)

    def edit(manifest: Manifest) -> tuple[Manifest, Change]:
        declared_env(project, manifest, env, create_env)
        check_pins(manifest, name, version, content.digest)
        return edits.promote(manifest, env, name, version, segment, digest=content.digest)
    return _published(project, env, _edit(project, edit, why))


def declared_env(project: Project, manifest: Manifest, env: str, create: bool = False) -> None:
    """A typo in --env must not create (and commit) a new environment.

    With `environments:` in promptctl.yaml, only those (and the ones release.yaml already
    has) are accepted. Without it, a new name is refused when it looks like a typo of one
    release.yaml has (`prod` for `production`), and otherwise created with a notice."""
    if not re.fullmatch(mf.ENV_RE, env):
        raise ManifestError(f"environment name {env!r} is not valid", field="--env",
                            fix=f"use {ENV_NAME_RULE}")
    listed = list(project.config.environments)
    known = [*listed, *[e for e in manifest.environments if e not in listed]]
    if env in known or create:
        return
    fix = (f"known: {', '.join(known)}; check the spelling, add it to `environments:` in "
           f"promptctl.yaml, or pass --create-env")
    if listed:
        raise ManifestError(f"environment {env!r} is not declared", field="--env", fix=fix)
    typo_of = _looks_like(env, known)
    if typo_of:
        raise ManifestError(f"environment {env!r} is not declared (did you mean {typo_of!r}?)",
                            field="--env", fix=fix)
    if known:
        from ..locking import notice
        notice(f"note: creating environment {env!r} (not in {project.config.manifest} yet)")


def _looks_like(env: str, known: list[str]) -> str | None:
    import difflib

    for name in known:
        if name.startswith(env) or env.startswith(name):
            return name
    close = difflib.get_close_matches(env, known, n=1, cutoff=0.6)
    return close[0] if close else None


def canary(project: Project, name: str, version: str, env: str, weight: float, *,
           segment: str | None = None, why: str = "", require_eval: bool | None = None,
           restart: bool = False) -> Change:
    """Start or re-weight a canary; weight 0 stops it (the record stays); `restart` starts
    a new measurement window for a running one."""
    version = _normal(version)
    digest = None
    if weight != 0:
        content = _released(project, name, version)
        _eval_gate(project, name, version, content, env, segment, require_eval)
        digest = content.digest

    def edit(manifest: Manifest) -> tuple[Manifest, Change]:
        declared_env(project, manifest, env)
        if digest is not None:
            check_pins(manifest, name, version, digest)
        return edits.canary(manifest, env, name, version, weight, segment, digest=digest,
                         restart=restart)
    return _published(project, env, _edit(project, edit, why))


def check_pins(manifest: Manifest, name: str, version: str, digest: str) -> None:
    """A version pinned anywhere in release.yaml must still have that content: a tag
    re-created on other content is refused, not pinned anew."""
    from ..runtime.bundle import pins

    for env in manifest.environments:
        pinned = pins(manifest, env).get((name, version))
        if pinned is not None and pinned != digest:
            raise ReleaseError(f"{name} {version} is pinned to {pinned[:19]} in {env}, but its tag "
                               f"now holds {digest[:19]}: the tag was re-created",
                               fix="run `promptctl verify`; release the new content as a new version")


def rollback(project: Project, name: str, env: str, *, segment: str | None = None,
             to: str | None = None, why: str = "") -> Change:
    """Stop a running canary; else restore the previous active version (or `to`)."""
    if to is not None:
        to = _normal(to)
        _released(project, name, to)

    def edit(manifest: Manifest) -> tuple[Manifest, Change]:
        declared_env(project, manifest, env)
        current = manifest.exact(env, name, segment)
        target_version = to
        if to is None and current is not None and not (current.canary and current.canary.running):
            target_version = previous_active(project, name, env, segment, current.active)
        digest = None
        if target_version is not None and not (to is None and current is not None and
                                               current.canary and current.canary.running):
            digest = _released(project, name, target_version).digest
            check_pins(manifest, name, target_version, digest)
        return edits.rollback(manifest, env, name, segment, to=target_version, digest=digest)
    return _published(project, env, _edit(project, edit, why))


def _published(project: Project, env: str, change: Change) -> Change:
    """Publish the env's bundle after its manifest commit; a failure keeps the commit."""
    from ..errors import PublishError
    from .publish import after_commit, attach
    if change.noop:
        return change       # nothing was committed: nothing new to publish
    try:
        after_commit(project, env)
    except PublishError as exc:
        raise attach(change, env, exc) from exc
    return change


def _edit(project: Project, edit: Callable[[Manifest], tuple[Manifest, Change]], why: str) -> Change:
    from . import recovery
    from ..locking import crash_point

    rel = project.config.manifest
    path = project.root / rel
    store = project.store
    with recovery.exclusive(project):
        _check_writable(project, rel)
        old_text = project.working.read(rel)    # None when missing; not UTF-8 is a finding
        new, change = edit(manifest_of(project, old_text or EMPTY))
        if change.noop:
            return change
        text = _header(old_text) + dump_manifest(new)
        manifest_of(project, text)     # never write what we could not read back
        message = commit_message(change, why)
        with recovery.journaled(project, {"op": "manifest", "path": rel, "head": store.head(),
                                          "subject": message.splitlines()[0]}):
            crash_point("manifest:journaled")
            write_atomic(path, text)
            crash_point("manifest:written")
            try:
                store.commit_paths([rel], message)
            except BaseException:
                _restore(project, path, rel, old_text)
                raise
            crash_point("manifest:committed")
    return change


def _check_writable(project: Project, rel: str) -> None:
    """A manifest commit must land on a branch, on top of a committed release.yaml."""
    store = project.store
    if not store.has_commits():
        return
    if store.repo.head.is_detached:
        raise ManifestError("HEAD is detached: the commit would belong to no branch and be lost",
                            file=rel, fix="switch to the deploy branch first: git switch main "
                                          "(or git switch -c NAME to keep this state)")
    if store.dirty_paths([rel]):
        raise ManifestError("has uncommitted changes", file=rel,
                            fix=f"commit or discard them first: git diff HEAD -- {rel} "
                                f"(or run `promptctl doctor`)")


def _header(text: str | None) -> str:
    """Keep the comment block at the top of release.yaml (it explains the file to readers)."""
    lines = []
    for line in (text or "").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)


def _restore(project: Project, path: Path, rel: str, old_text: str | None) -> None:
    if old_text is None:
        path.unlink(missing_ok=True)
    else:
        write_atomic(path, old_text)
    try:
        project.store.run_git("reset", "-q", "--", rel)
    except PromptctlError:
        pass    # nothing staged, or no HEAD yet: the file itself is already restored


def commit_message(change: Change, why: str) -> str:
    why = " ".join(why.split())
    subject = change.summary() + (f": {why}" if why else "")
    return f"{subject}\n\n{change.trailers()}\n"


def _normal(version: str) -> str:
    """`v2.1.0` → `2.1.0`: every command takes a version as show, diff and bump do."""
    from ..versions import parse_version

    return str(parse_version(version))


def _released(project: Project, name: str, version: str) -> PromptContent:
    """The version's tag must exist and its content must match the recorded digest."""
    from ..versions import parse_version

    parse_version(version)
    release = project.store.release(name, version)
    if not release.annotated or release.digest is None:
        # verify flags these; a deploy must not accept what verify rejects
        what = "is a lightweight tag" if not release.annotated else "records no Prompt-Digest"
        raise ReleaseError(f"tag {release.tag} {what}: not a release made by `promptctl bump`",
                           fix="run `promptctl verify`; release the content again with `promptctl bump`")
    return load_release(project, release)


def _eval_gate(project: Project, name: str, version: str, content: PromptContent, env: str,
               segment: str | None, require: bool | None) -> None:
    """--require-eval: an attestation in git notes must prove what `env` would serve."""
    if require is None:
        require = bool(project.config.eval.get("require_eval", False))
    if require:
        from .evidence import require as require_attestation
        require_attestation(project, name, version, content, env, segment)
