"""Services of the prompt registry: check, bump, diff, show, log, list, verify."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks import release_problems
from ..collect import fewer_collections
from ..errors import Problem, PromptctlError, ReleaseError, ValidationError
from ..model import PromptContent, Release
from ..prompt_files import PROMPT_FILE, list_prompt_names
from ..tags import format_message, format_tag
from ..versions import BumpKind, next_version, parse_level, sort_versions
from . import project as _project
from .project import (WORKING, Project, latest_release, load_release, load_working,
                      preload_releases)

DEFAULT_BUNDLE = "release.lock.json"   # where `promptctl bundle` writes without -o


# ---------------------------------------------------------------- check

def check(project: Project, names: list[str] | None = None) -> tuple[list[str], list[Problem]]:
    """Validate prompts, their contracts, and their eval datasets; no model is called."""
    names = names or list_prompt_names(project.root, project.config)
    problems: list[Problem] = config_problems(project)
    for name in names:
        problems += prompt_problems(project, name)
        problems += suite_problems(project, name)
    return names, problems


def config_problems(project: Project) -> list[Problem]:
    """promptctl.yaml's sections that only some commands read (checked when it was loaded):
    found by `check`, not by the eval or canary run that would trip over them later."""
    from ..config import section_problems

    return section_problems(project.config)


def prompt_problems(project: Project, name: str) -> list[Problem]:
    yaml_path = f"{project.prompt_path(name)}/{PROMPT_FILE}"
    try:
        content = load_working(project, name)
    except ValidationError as exc:
        return exc.problems or [Problem(yaml_path, exc.message)]
    except PromptctlError as exc:  # a check reports every prompt, it never stops at the first
        return [Problem(exc.file or yaml_path, exc.message)]
    return release_problems(content, yaml_path, content.files.get(f"{name}/{PROMPT_FILE}"))


def suite_problems(project: Project, name: str) -> list[Problem]:
    """The suite's schema, gates and datasets (the eval engine's own validation)."""
    from ..evals.suite import check_suite
    return check_suite(project, name)


# ---------------------------------------------------------------- bump

def bump(project: Project, name: str, level: str = "auto", pre: str | None = None,
         message: str = "", sign: bool = False) -> Release:
    """Commit the prompt's files (only them) if changed, then tag an immutable release."""
    from . import recovery

    content = load_working(project, name)
    yaml_path = f"{project.prompt_path(name)}/{PROMPT_FILE}"
    problems = release_problems(content, yaml_path, content.files.get(f"{name}/{PROMPT_FILE}"))
    if problems:
        raise ValidationError(problems=problems)
    if sign:
        _check_signing(project)
    with recovery.exclusive(project):
        _refuse_partial_clone(project, name)
        _refuse_untagged(project, name)
        version = _next(project, content, level, pre)
        return _release(project, content, version, message, sign)


def _next(project: Project, content: PromptContent, level: str, pre: str | None) -> str:
    name = content.name
    releases = project.store.releases(name)
    latest = latest_release(project, name)
    wanted = parse_level(level)
    if latest is not None and latest.digest == content.digest:
        if not _finalises(latest, pre):
            raise ReleaseError(f"nothing changed in {name} since {latest.version}",
                               fix="edit the prompt first; releases are immutable")
        # 2.1.0-rc.2 → 2.1.0 re-releases the tested content as final: nothing to change.
        wanted = latest.version.split("-", 1)[0] if wanted is None else wanted
    if wanted is None:
        wanted = suggest_level(project, content, latest)
    return next_version([r.version for r in releases], wanted, pre)


def _refuse_untagged(project: Project, name: str) -> None:
    """A release commit left without its tag (by an older, interrupted promptctl) must be
    finished or dismissed first: releasing again would reuse or skip its version unseen."""
    from .recovery import released_digest, untagged_releases

    for found in untagged_releases(project, name):
        if found.tagged_on is None and released_digest(project, found) is not None:
            raise ReleaseError(found.describe(), fix="run `promptctl doctor` to tag it, then bump again")


def _check_signing(project: Project) -> None:
    """Sign a throw-away tag first: a signing failure after the release commit would leave
    that commit untagged."""
    import os

    store = project.store
    if not store.has_commits():
        return
    probe = f"promptctl-sign-check-{os.getpid()}"
    fix = ("set gpg.format (ssh or openpgp) and user.signingkey, e.g. git config gpg.format ssh; "
           "git config user.signingkey ~/.ssh/id_ed25519")
    try:
        store.run_git("tag", "-s", "-m", "signing check", probe, "HEAD")
    except PromptctlError as exc:
        raise ReleaseError(f"--sign: git cannot sign a tag: {exc.message}", field="user.signingkey",
                           fix=fix) from exc
    # some git versions report a missing key and still make an unsigned tag, exit 0
    signed = "-----BEGIN " in store.run_git("cat-file", "tag", probe)
    store.run_git("tag", "-d", probe)
    if not signed:
        raise ReleaseError("--sign: git cannot sign a tag (the key is missing or unusable)",
                           field="user.signingkey", fix=fix)


def _refuse_partial_clone(project: Project, name: str) -> None:
    """A clone without every tag would release an existing version again, with another digest."""
    problem = project.store.unfetched(name, project.config.notes_ref)
    if problem:
        # The same gap is left by a clone without tags and by a bump killed before its tag.
        raise ReleaseError(f"{problem}, so {name}'s next version is unknown",
                           fix="run git fetch --tags (or promptctl sync), then bump again; a release "
                               "commit whose tag exists nowhere is an interrupted bump: "
                               "run `promptctl doctor` to tag it")


def clone_advice(project: Project, name: str | None = None) -> str | None:
    """A warning for listings (`log`) when this clone may not see every release."""
    problem = project.store.unfetched(name, project.config.notes_ref)
    return f"{problem}; run git fetch --tags (or promptctl sync)" if problem else None


def _finalises(latest: Release, pre: str | None) -> bool:
    return "-" in latest.version.split("+", 1)[0] and pre is None


def suggest_level(project: Project, content: PromptContent, latest: Release | None) -> BumpKind:
    from ..diffing import diff_prompts
    if latest is None:
        return BumpKind.MAJOR  # next_version turns a first release into 1.0.0
    old = load_release(project, latest)
    return diff_prompts(old, content, latest.version, WORKING).level


def _link_targets(project: Project, content: PromptContent) -> list[str]:
    """The files symlinks among the prompt's files point to (inside the prompts folder, as
    the working tree enforces): committed too, so git holds what the digest was made of."""
    root = project.root.resolve()
    targets = []
    for rel in content.files:
        path = project.root / project.config.prompts_dir / rel
        if path.is_symlink():
            targets.append(path.resolve().relative_to(root).as_posix())
    return targets


def _release(project: Project, content: PromptContent, version: str, message: str,
             sign: bool = False) -> Release:
    from ..locking import crash_point
    from .recovery import journaled

    store, name = project.store, content.name
    prompts_dir = project.config.prompts_dir
    pathspecs = [f":(glob){project.prompt_path(name)}/*"]
    pathspecs += [f"{prompts_dir}/{p}" for p in content.files if not p.startswith(f"{name}/")]
    pathspecs += _link_targets(project, content)
    subject = f"release {name} {version}" + (f": {message}" if message else "")
    tag = format_tag(name, version, project.config.tag_format)
    if store.tag_commit(tag) is not None:   # before committing: a refused bump changes nothing
        raise ReleaseError(f"tag {tag} already exists", fix="tags are immutable: release a new version")
    commits = not store.has_commits() or bool(store.dirty_paths(pathspecs))
    record = {"op": "bump", "name": name, "version": version, "tag": tag, "digest": content.digest,
              "message": message, "subject": subject.splitlines()[0], "head": store.head(),
              "pathspecs": pathspecs, "commits": commits, "sign": sign}
    with journaled(project, record):
        crash_point("bump:journaled")
        if commits:
            store.commit_paths(pathspecs, subject)
        crash_point("bump:committed")
        commit = store.head()
        committed = load_release(project, Release(name=name, version=version, tag="", commit=commit))
        if committed.digest != content.digest:
            raise ReleaseError(f"the commit of {name} does not hold the working files",
                               fix="check .gitignore: every prompt file must be tracked")
        store.create_tag(tag, commit, format_message(name, version, content.digest, message),
                         sign=sign)
        crash_point("bump:tagged")
    return store.release(name, version)


# ---------------------------------------------------------------- read commands

def diff(project: Project, name: str, a: str | None = None, b: str | None = None,
         render_vars: dict[str, Any] | None = None):
    from ..diffing import diff_prompts
    if a is None:
        latest = latest_release(project, name)
        old = load_release(project, latest) if latest else None
        a_label = latest.version if latest else "(none)"
    else:
        old, a_label = _project.load_version(project, name, a), a
    b_label = b or WORKING
    new = _project.load_version(project, name, b)
    result = diff_prompts(old, new, a_label, b_label)
    if render_vars is not None:
        result.rendered = _rendered_diff(old, new, a_label, b_label, render_vars)
    return result


def _rendered_diff(old: PromptContent | None, new: PromptContent, a: str, b: str,
                   variables: dict[str, Any]) -> str:
    import difflib
    before = render_text(old, a, variables) if old else ""
    after = render_text(new, b, variables)
    return "".join(difflib.unified_diff(before.splitlines(keepends=True),
                                        after.splitlines(keepends=True),
                                        f"{a} (rendered)", f"{b} (rendered)"))


def render_text(content: PromptContent, label: str, variables: dict[str, Any]) -> str:
    """The rendered prompt as text: chat messages become `[role]` blocks."""
    from ..render import compile_content
    out = compile_content(content, f"{content.name}@{label}").render(variables)
    if isinstance(out, str):
        return out if out.endswith("\n") else out + "\n"
    return "".join(f"[{m['role']}]\n{_message_text(m).rstrip()}\n\n" for m in out)


def _message_text(message: dict[str, Any]) -> str:
    """A rendered message as text: parts one per line, tool calls as name(arguments)."""
    content = message.get("content")
    if isinstance(content, list):
        lines = [p["text"] if p.get("type") == "text" else f"<image {p['image_url']['url']}>"
                 for p in content]
    else:
        lines = [content] if content else []
    lines += [f"-> {c.get('function', c).get('name')}({c.get('function', c).get('arguments')})"
              for c in message.get("tool_calls") or []]
    return "\n".join(lines)


def show(project: Project, ref: str) -> tuple[PromptContent, Release | None]:
    name, version = _project.split_ref(ref)
    content = _project.load_version(project, name, version)
    release = None
    if version not in (None, WORKING):
        release = project.store.release(name, version.removeprefix("v"))
    return content, release


def log(project: Project, name: str) -> list[Release]:
    releases = {r.version: r for r in project.store.releases(name)}
    if not releases:
        load_working(project, name)  # a clear not-found error for unknown prompts
    return [releases[v] for v in reversed(sort_versions(list(releases)))]


@dataclass
class PromptStatus:
    name: str
    latest: str | None
    releases: int
    unreleased: bool | None
    kind: str | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def list_prompts(project: Project) -> list[PromptStatus]:
    from ..versions import latest as latest_of
    from ..workcache import WorkingCache
    by_name: dict[str, list[Release]] = {}
    for release in project.store.releases():
        by_name.setdefault(release.name, []).append(release)
    working = list_prompt_names(project.root, project.config)
    cache = WorkingCache(project.root / project.config.state_dir, project.working, project.config)
    rows = []
    for name in sorted(set(working) | set(by_name)):
        releases = by_name.get(name, [])
        top = latest_of([r.version for r in releases])
        digest = next((r.digest for r in releases if r.version == top), None)
        rows.append(_status(cache, name, top, len(releases), digest))
    cache.save(keep=set(working))
    return rows


def _status(cache, name: str, top: str | None, count: int, digest: str | None) -> PromptStatus:
    from ..errors import NotFoundError
    try:
        working_digest, kind = cache.summary(name)
    except NotFoundError:
        return PromptStatus(name, top, count, None, error="removed from the working tree")
    except ValidationError as exc:
        return PromptStatus(name, top, count, None, error=str(exc.message))
    return PromptStatus(name, top, count, working_digest != digest, kind=kind)


# ---------------------------------------------------------------- verify

@dataclass
class Finding:
    tag: str
    problem: str

    def as_dict(self) -> dict:
        return {"tag": self.tag, "problem": self.problem}


@dataclass
class VerifyReport:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)    # worth knowing, not a failure


def verify(project: Project, bundles: list[Path] | None = None, *, require_signed: bool = False,
           allowed_signers: Path | None = None) -> VerifyReport:
    """Every release tag is annotated and matches its recorded digest; so do the versions
    the manifest and the given bundles reference (by default `release.lock.json`, when
    `promptctl bundle` left one at the root)."""
    with fewer_collections():
        return _verify(project, bundles, require_signed, allowed_signers)


def _verify(project: Project, bundles: list[Path] | None, require_signed: bool,
            allowed_signers: Path | None) -> VerifyReport:
    from .bundle import verify_bundle, verify_manifest
    if bundles is None:
        default = project.root / DEFAULT_BUNDLE
        bundles = [default] if default.is_file() else []
    report = VerifyReport()
    releases = project.store.releases()
    preload_releases(project, releases)
    for release in releases:
        report.checked += 1
        problem = _tag_problem(project, release)
        if problem is None and require_signed:
            problem = _signature_problem(project, release.tag, allowed_signers)
        if problem:
            report.findings.append(Finding(release.tag, problem))
    _untagged_findings(project, report, releases)
    by_version = {(r.name, r.version): r for r in releases}
    problems = verify_manifest(project, by_version)
    for path in bundles or []:
        problems += verify_bundle(project, path, by_version)
    # "file:line" as the finding's place, so the CLI line reads like every other error
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        report.findings.append(Finding(where, str(p).removeprefix(f"{where}: ")))
    return report


def _signature_problem(project: Project, tag: str, allowed_signers: Path | None) -> str | None:
    problem = project.store.verify_signature(tag, allowed_signers)
    if problem == "not signed":
        return "not signed: release it with `promptctl bump --sign`"
    return problem


def _untagged_findings(project: Project, report: VerifyReport, releases: list[Release]) -> None:
    """A release commit without its tag is a release that half happened."""
    from .recovery import untagged_releases

    for found in untagged_releases(project, listed=releases):
        where = f"commit {found.commit[:8]}"
        if found.tagged_on is None:
            report.findings.append(Finding(where, f"'release {found.name} {found.version}' has no "
                                                  "tag: fetch the tags (git fetch --tags); if it has "
                                                  "none anywhere, a bump was interrupted: run "
                                                  "`promptctl doctor`"))
        else:
            report.notes.append(Finding(where, f"'release {found.name} {found.version}' has no tag; "
                                               f"that version was tagged on {found.tagged_on[:8]}"))


def _tag_problem(project: Project, release: Release) -> str | None:
    if not release.annotated:
        return "lightweight tag: releases must be annotated tags made by `promptctl bump`"
    if release.digest is None:
        return "annotated tag without a Prompt-Digest: not made by `promptctl bump`"
    try:
        load_release(project, release)
    except ReleaseError:
        return "content does not match the recorded digest: the tag was moved or rewritten"
    except PromptctlError as exc:
        return f"content at the tag is not a valid prompt: {exc.message}"
    return None
