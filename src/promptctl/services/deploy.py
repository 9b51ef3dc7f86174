"""Services of deployment: promote, canary, rollback, status, history, bundle, verify.

Every write runs the same transaction (`_edit`): under the manifest lock, read the
committed release.yaml, apply a pure edit, validate, write temp + fsync + rename, and
commit release.yaml alone. If the commit fails the old file is put back, so a failure
leaves the previous manifest and no half commit. Reading inside the lock is what lets
two processes editing different entries both land.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

from .. import manifest as mf
from .. import manifest_edits as edits
from ..errors import CheckFailed, ManifestError, NotFoundError, Problem, PromptctlError, ReleaseError
from ..manifest import Manifest, dump_manifest, parse_manifest
from ..manifest_edits import Change
from ..manifest_io import write_atomic
from ..model import ENV_NAME_RULE, PromptContent, Release
from .project import Project, load_release, preload_releases

EMPTY = "environments: {}\n"


# ---------------------------------------------------------------- writes

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


# ---------------------------------------------------------------- history

@dataclass
class HistoryRow:
    commit: str
    date: str
    author: str
    action: str
    active: str | None
    canary: str | None
    weight: float | None
    why: str

    def as_dict(self) -> dict:
        return asdict(self)


def history(project: Project, name: str, env: str, segment: str | None = None) -> list[HistoryRow]:
    """Every commit that changed this entry: newest first."""
    from .manifest_history import manifest_history

    rows = [_row(info, state) for info, state in manifest_history(project).rows(env, name, segment)]
    if not rows:
        _known_env(project, env)
    return list(reversed(rows))


def _known_env(project: Project, env: str) -> None:
    """A typo in --env is an error (exit 2), as in `status`, not an empty answer."""
    known = read_manifest(project).environments
    if env not in known:
        raise NotFoundError(f"no environment {env!r} in {project.config.manifest}",
                            fix=f"known: {', '.join(known) or 'none yet'}")


def _row(info: dict, state: list) -> HistoryRow:
    """A history row from a commit and the entry's [hash, active, canary, weight] after it."""
    trailers = info["trailers"]
    subject = info["subject"]
    action = trailers.get("Promptctl-Action", "edit")
    if "Promptctl-Action" in trailers:
        why = subject.split(": ", 1)[1] if ": " in subject else ""
    else:
        why = subject     # a hand edit: its subject is all we know
    _, active, canary, weight = state
    return HistoryRow(info["commit"], info["date"], info["author"], action, active, canary,
                      weight, why)


def previous_active(project: Project, name: str, env: str, segment: str | None,
                    current: str) -> str | None:
    """The active version this entry had before `current`, from the manifest's git history."""
    for row in history(project, name, env, segment):
        if row.active is not None and row.active != current:
            return row.active
    return None


# ---------------------------------------------------------------- status

@dataclass
class StatusRow:
    env: str
    name: str
    segment: str | None
    active: str
    since: str | None
    canary: str | None
    weight: float | None
    canary_started: str | None
    model: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def status(project: Project, env: str | None = None) -> list[StatusRow]:
    from .manifest_history import manifest_history, working_rows

    rel = project.config.manifest
    current = working_rows(project, project.working.read(rel) or EMPTY,
                           lambda manifest: _status_rows(manifest, manifest_history(project)))
    if env is not None and env not in current["envs"]:
        raise NotFoundError(f"no environment {env!r} in {rel}",
                            fix=f"known: {', '.join(current['envs']) or 'none yet'}")
    return [StatusRow(*row) for row in current["rows"] if env is None or row[0] == env]


def _status_rows(manifest: Manifest, history) -> dict:
    """What status shows of a manifest, as JSON (kept by the text's hash and HEAD)."""
    since = history.active_since()
    rows = []
    for env_name, prompts in manifest.environments.items():
        for name, entry in prompts.items():
            for segment, target in [(None, entry), *entry.segments.items()]:
                c = target.canary
                rows.append([env_name, name, segment, target.active,
                             since.get((env_name, name, segment, target.active)),
                             c.version if c else None, c.weight if c else None,
                             c.started.isoformat() if c and c.started else None, target.model])
    return {"envs": list(manifest.environments), "rows": rows}


def read_manifest(project: Project) -> Manifest:
    """The working release.yaml (an empty one when missing), parsed once per text."""
    return manifest_of(project, project.working.read(project.config.manifest) or EMPTY)


def manifest_of(project: Project, text: str) -> Manifest:
    """`text` as release.yaml; a command that reads the same text again (analyze, then the
    edit that applies its decision) reuses the model. Only the latest text is kept, so a
    long `canary watch` does not pile up manifests."""
    rel = project.config.manifest
    cached = project.loaded.get(("manifest", rel))
    if cached is not None and cached[0] == text:
        return cached[1]
    manifest = parse_manifest(text, rel)
    project.loaded[("manifest", rel)] = (text, manifest)
    return manifest


# ---------------------------------------------------------------- bundle and verify

def bundle(project: Project, env: str, output: Path) -> dict[str, Any]:
    """Write one env's committed manifest and every version it references to `output`."""
    from ..collect import fewer_collections

    with fewer_collections():
        return _bundle(project, env, output)


def _bundle(project: Project, env: str, output: Path) -> dict[str, Any]:
    from datetime import datetime, timezone

    from ..runtime.bundle import bundle_data, referenced_versions

    store = project.store
    rel = project.config.manifest
    commit = store.head()
    manifest = parse_manifest(store.source_at(commit).read(rel) or EMPTY, f"{rel}@HEAD")
    if env not in manifest.environments:
        raise NotFoundError(f"no environment {env!r} in the committed {rel}",
                            fix="promote something to it first")
    releases = release_map(project)
    wanted = referenced_versions(manifest, env)
    preload_releases(project, [releases[k] for k in wanted if k in releases])
    contents = {}
    for name, version in wanted:
        release = releases.get((name, version)) or store.release(name, version)
        contents[(name, version)] = (load_release(project, release), release.tag)
    _refuse_swapped(manifest, env, {k: c.digest for k, (c, _) in contents.items()}, rel)
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    data = bundle_data(env, manifest, commit, created, contents, project.config.prompts_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data


def _refuse_swapped(manifest: Manifest, env: str, digests: dict, rel: str) -> None:
    from ..runtime.bundle import pin_problems

    swapped = pin_problems(manifest, env, digests)
    if swapped:
        raise ReleaseError(f"{rel}: {env}: {swapped[0]}: its tag was re-created on other content",
                           fix="run `promptctl verify`; release the new content as a new version")


def verify_bundle(project: Project, path: Path, releases: dict | None = None) -> list[Problem]:
    """A bundle's own digests, and each version against its tag in this repo."""
    from ..runtime.bundle import parse_bundle
    from ..errors import ValidationError

    file = str(path)
    try:
        parsed = parse_bundle(path.read_text(encoding="utf-8"), file)
    except FileNotFoundError:
        return [Problem(file, "bundle not found")]
    except ValidationError as exc:
        return exc.problems or [Problem(file, exc.message)]
    releases = releases if releases is not None else release_map(project)
    preload_releases(project, [releases[k] for k in parsed.contents if k in releases])
    problems = []
    for (name, version), content in parsed.contents.items():
        problems += _version_problems(project, releases, name, version, content.digest, file)
    return problems


def release_map(project: Project) -> dict[tuple[str, str], Release]:
    """(name, version) -> release, from one ref listing (not one per referenced version)."""
    return {(r.name, r.version): r for r in project.store.releases()}


def verify_manifest(project: Project, releases: dict | None = None) -> list[Problem]:
    """Every version release.yaml references has a tag whose content matches its digest."""
    from ..runtime.bundle import pins, referenced_versions

    rel = project.config.manifest
    try:
        manifest = read_manifest(project)
    except PromptctlError as exc:
        return getattr(exc, "problems", None) or [Problem(rel, exc.message)]
    releases = releases if releases is not None else release_map(project)
    wanted = {env: referenced_versions(manifest, env) for env in manifest.environments}
    preload_releases(project, [releases[k] for refs in wanted.values() for k in refs if k in releases])
    problems = []
    for env, refs in wanted.items():
        pinned = pins(manifest, env)
        for name, version in refs:
            problems += _version_problems(project, releases, name, version,
                                          pinned.get((name, version)), f"{rel}: {env}")
    return problems


def _version_problems(project: Project, releases: dict[tuple[str, str], Release], name: str,
                      version: str, digest: str | None, where: str) -> list[Problem]:
    try:
        release = releases.get((name, version))
        if release is None:     # its own not-found error (and name check)
            release = project.store.release(name, version)
        content = load_release(project, release)
    except PromptctlError as exc:
        return [Problem(where, exc.message, field=f"{name}@{version}")]
    if digest is not None and content.digest != digest:
        return [Problem(where, f"records digest {digest} but tag {release.tag} holds "
                               f"{content.digest}: the tag was re-created", field=f"{name}@{version}")]
    return []


def check_bundle(project: Project, path: Path) -> None:
    """verify_bundle as a gate: CheckFailed (exit 1) naming the first problem."""
    problems = verify_bundle(project, path)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailed(f"{problems[0]}{more}")
