"""`promptctl bump`: commit a prompt's files (only them) and tag an immutable release,
under the write lock and journal, refusing what would reuse or skip a version."""

from __future__ import annotations

from ..checks import release_problems
from ..errors import PromptctlError, ReleaseError, ValidationError
from ..model import PromptContent, Release
from ..prompt_files import PROMPT_FILE
from ..tags import format_message, format_tag
from ..versions import BumpKind, next_version, parse_level
from .project import WORKING, Project, latest_release, load_release, load_working


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
