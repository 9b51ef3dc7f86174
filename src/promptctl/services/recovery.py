"""Interrupted writes: finish or undo them, and `promptctl doctor`.

Every write runs as `with exclusive(project): ... with journaled(project, record): ...`.
`exclusive` takes the repo's write lock and first replays whatever write a killed
process left in the journal; `journaled` records the write before its first change and
clears the record after its last. A replay never guesses: a manifest write whose commit
landed is kept, otherwise release.yaml goes back to the last commit; a bump whose
commit landed (or needed none) gets its tag, otherwise its staged files are unstaged.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .. import locking
from ..errors import PromptctlError, RepoError
from ..model import NAME_PATTERN
from .project import Project

_RELEASE_SUBJECT = re.compile(rf"^release ({NAME_PATTERN}) (\d+\.\d+\.\d+\S*?)(?::.*)?$")
_INDEX_WAIT = 5.0     # an orphaned git child of a killed writer finishes within this


def state_dir(project: Project) -> Path:
    return project.root / project.config.state_dir


@contextmanager
def exclusive(project: Project, timeout: float | None = None) -> Iterator[None]:
    """The write lock, with any interrupted earlier write finished or undone first."""
    folder = state_dir(project)
    with locking.write_lock(folder, timeout):
        replay(project)
        with locking.children_lease(folder):
            yield


@contextmanager
def journaled(project: Project, record: dict[str, Any]) -> Iterator[None]:
    """Record a write (under `exclusive`); a failure in-process is repaired like a kill."""
    folder = state_dir(project)
    locking.begin(folder, record)
    try:
        yield
    except BaseException:
        try:
            replay(project, quiet=True, own=True)
        except PromptctlError:
            pass    # the journal stays: the next command (or doctor) finishes the repair
        raise
    locking.end(folder)


def recover_if_pending(project: Project) -> None:
    """Cheap check for read commands: replay a left-over journal when no writer is active."""
    folder = state_dir(project)
    if not (folder / locking.JOURNAL_FILE).exists():
        return
    lock = locking.try_lock(folder)
    if lock is None:
        return      # a writer is at work; its journal is not left over
    try:
        replay(project)
    except PromptctlError as exc:
        locking.notice(f"warning: could not repair an interrupted write: {exc.one_line()} "
                       "(run `promptctl doctor`)")
    finally:
        lock.release()


def replay(project: Project, quiet: bool = False, own: bool = False) -> str | None:
    """Finish or undo the journaled write (the lock is held); what was done, or None.
    `own`: the write failed in this process, whose git commands have all returned."""
    folder = state_dir(project)
    record = locking.pending(folder)
    if record is None:
        return None
    if not own and not locking.wait_for_children(folder):
        raise RepoError(f"a git command started by the interrupted write of pid {record.get('pid')} "
                        f"is still running after {locking.CHILDREN_WAIT:g} s",
                        fix="wait for it to finish (or stop it), then run `promptctl doctor`")
    wait_for_git(project)
    op = record.get("op")
    if op == "manifest":
        done = _replay_manifest(project, record)
    elif op == "bump":
        done = _replay_bump(project, record)
    else:
        done = "dropped a journal record of a write that had not started"
    locking.end(folder)
    if not quiet:
        locking.notice(f"recovered an interrupted write: {done}")
    return done


def wait_for_git(project: Project, wait: float = _INDEX_WAIT) -> None:
    """A killed writer's git child may still be finishing; a stale index.lock is an error."""
    lock = index_lock(project)
    deadline = time.monotonic() + wait
    while lock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if lock.exists():
        raise RepoError(f"{lock} exists: a git command was interrupted or is still running",
                        fix="if no git command is running, delete that file and run `promptctl doctor`")


def index_lock(project: Project) -> Path:
    store = project.store
    path = Path(store.run_git("rev-parse", "--git-path", "index.lock"))
    return path if path.is_absolute() else project.root.resolve() / path


def _head_subject(project: Project) -> tuple[str, str]:
    store = project.store
    if not store.has_commits():
        return "", ""
    [last] = store.log("HEAD", limit=1)
    return last.commit, last.first_line   # what the journal keeps: git joins a wrapped subject


def _landed(project: Project, record: dict[str, Any]) -> bool:
    head, subject = _head_subject(project)
    return bool(head) and head != record.get("head") and subject == record.get("subject")


def _replay_manifest(project: Project, record: dict[str, Any]) -> str:
    from ..manifest_io import write_atomic

    rel = record.get("path") or project.config.manifest
    if _landed(project, record):
        return f"{record.get('subject')!r} had been committed"
    store, path = project.store, project.root / rel
    if store.has_commits():
        try:
            store.run_git("reset", "-q", "--", rel)
        except PromptctlError:
            pass    # nothing staged
    text = store.source_at("HEAD").read(rel) if store.has_commits() else None
    if text is None:
        path.unlink(missing_ok=True)
    elif project.working.read(rel) != text:
        write_atomic(path, text)
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        tmp.unlink(missing_ok=True)
    return f"{record.get('subject')!r} was not committed: {rel} is back at the last commit"


def _replay_bump(project: Project, record: dict[str, Any]) -> str:
    store, tag = project.store, record["tag"]
    if store.tag_commit(tag) is not None:
        return f"{tag} had been created"
    commit = store.head() if _landed(project, record) else None
    if commit is None and not record.get("commits") and store.head() == record.get("head"):
        commit = record.get("head")     # a re-release of committed content: only the tag was missing
    if commit is None:
        if record.get("pathspecs") and store.has_commits():
            store.run_git("reset", "-q", "--", *record["pathspecs"])
        return (f"the release commit of {record['name']} {record['version']} was not made: "
                f"nothing was released, run `promptctl bump {record['name']}` again")
    try:
        finish_tag(project, record["name"], record["version"], commit, record["digest"],
                   record.get("message", ""), sign=bool(record.get("sign")))
    except PromptctlError as exc:
        # never retried forever: verify and doctor report the commit from here on
        return f"the release commit {commit[:8]} landed but cannot be tagged: {exc.one_line()}"
    return f"tagged {tag} on {commit[:8]} (its release commit had landed)"


def finish_tag(project: Project, name: str, version: str, commit: str, digest: str,
               message: str, sign: bool = False) -> None:
    """Tag a landed release commit, after proving it holds the content the bump released."""
    from ..errors import ReleaseError
    from ..prompt_files import load_prompt
    from ..tags import format_message, format_tag

    store = project.store
    content = load_prompt(store.source_at(commit), project.config, name)
    if content.digest != digest:
        raise ReleaseError(f"commit {commit[:8]} does not hold the content of {name} {version}",
                           fix="run `promptctl bump` again")
    tag = format_tag(name, version, project.config.tag_format)
    store.create_tag(tag, commit, format_message(name, version, digest, message), sign=sign)


# ---------------------------------------------------------------- untagged release commits

@dataclass(frozen=True)
class UntaggedRelease:
    commit: str
    name: str
    version: str
    tagged_on: str | None     # the commit the version's tag is on, when it was released again

    def describe(self) -> str:
        what = f"commit {self.commit[:8]} 'release {self.name} {self.version}' has no tag"
        if self.tagged_on:
            return f"{what} ({self.name} {self.version} was tagged on {self.tagged_on[:8]} instead)"
        return what


def untagged_releases(project: Project, name: str | None = None,
                      listed: list | None = None) -> list[UntaggedRelease]:
    """'release NAME X' commits on HEAD's history that no release tag points to (`listed`:
    the releases the caller already read from the refs, not read twice)."""
    store = project.store
    if not store.has_commits():
        return []
    releases = {(r.name, r.version): r.commit
                for r in (listed if listed is not None else store.releases(name))}
    from ..gitrecords import release_subject_grep

    out = []
    for entry in store.log("HEAD", grep=release_subject_grep(name)):
        sha = entry.commit
        match = _RELEASE_SUBJECT.match(entry.subject)
        if not match or (name is not None and match[1] != name):
            continue
        if releases.get((match[1], match[2])) == sha:
            continue
        out.append(UntaggedRelease(sha, match[1], match[2], releases.get((match[1], match[2]))))
    return out


def released_digest(project: Project, found: UntaggedRelease) -> str | None:
    """The digest of the prompt in an untagged release commit, None when it does not load."""
    from ..prompt_files import load_prompt

    try:
        return load_prompt(project.store.source_at(found.commit), project.config, found.name).digest
    except PromptctlError:
        return None


# ---------------------------------------------------------------- doctor

@dataclass(frozen=True)
class Finding:
    level: str      # repaired | problem | note
    message: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return {"level": self.level, "message": self.message, "fix": self.fix}


def doctor(project: Project, repair: bool = True) -> list[Finding]:
    """What an interrupted write or a crash left behind, repaired unless `repair` is False."""
    folder = state_dir(project)
    lock = locking.try_lock(folder)
    if lock is None:
        holder = locking.describe_owner(folder)
        return [Finding("problem", f"the write lock is held by {holder}",
                        "wait for it to finish (doctor repairs nothing while a write runs)")]
    try:
        findings = _stale_owner(folder, repair)
        findings += _git_lock(project)
        if any(f.level == "problem" for f in findings):
            return findings     # git refuses every write until index.lock is gone
        findings += _journal(project, repair)
        findings += _manifest_state(project, repair)
        findings += _untagged(project, repair)
        return findings
    finally:
        lock.release()


def _done(repair: bool, message: str, fix: str | None = None) -> Finding:
    return Finding("repaired", message) if repair else Finding("problem", message, fix)


def _stale_owner(folder: Path, repair: bool) -> list[Finding]:
    owner = locking.read_owner(folder)
    if not owner:
        return []
    if repair:
        (folder / locking.OWNER_FILE).unlink(missing_ok=True)
    return [_done(repair, f"stale lock record of pid {owner.get('pid')} "
                          f"({owner.get('command')}): it died holding the lock"
                          + (", record removed" if repair else ""), "run `promptctl doctor`")]


def _git_lock(project: Project) -> list[Finding]:
    lock = index_lock(project)
    if not lock.exists():
        return []
    return [Finding("problem", f"{lock} exists: a git command was interrupted or is running",
                    "if no git command is running, delete it, then run `promptctl doctor` again")]


def _journal(project: Project, repair: bool) -> list[Finding]:
    record = locking.pending(state_dir(project))
    if record is None:
        return []
    if not repair:
        what = record.get("subject") or record.get("op")
        return [Finding("problem", f"an interrupted write: {what!r}", "run `promptctl doctor`")]
    return [Finding("repaired", f"interrupted write: {replay(project, quiet=True)}")]


def _manifest_state(project: Project, repair: bool) -> list[Finding]:
    rel = project.config.manifest
    store, path = project.store, project.root / rel
    findings = []
    for tmp in sorted(path.parent.glob(f".{path.name}.*.tmp")):
        if repair:
            tmp.unlink(missing_ok=True)
        findings.append(_done(repair, f"left-over temporary file {tmp.name}"
                                      + (" removed" if repair else ""), "run `promptctl doctor`"))
    if not store.has_commits():
        return findings
    status = store.run_git("status", "--porcelain", "--", rel)
    staged = any(line[:1] not in (" ", "?") for line in status.splitlines() if line)
    if staged and repair:
        store.run_git("reset", "-q", "--", rel)
    if staged:
        findings.append(_done(repair, f"{rel} had changes staged but not committed"
                                      + ("; unstaged" if repair else ""), "run `promptctl doctor`"))
    if store.dirty_paths([rel]):
        findings.append(Finding("problem", f"{rel} has uncommitted changes (every write refuses them)",
                                f"review them with `git diff {rel}`, then commit them or "
                                f"`git checkout -- {rel}`"))
    return findings


def _untagged(project: Project, repair: bool) -> list[Finding]:
    findings = []
    for found in untagged_releases(project):
        if found.tagged_on is not None:
            findings.append(Finding("note", found.describe()))
            continue
        digest = released_digest(project, found)
        if digest is None:
            findings.append(Finding("problem", f"{found.describe()} and holds no valid prompt",
                                    f"release {found.name} again with `promptctl bump`"))
        elif repair:
            finish_tag(project, found.name, found.version, found.commit, digest,
                       "tagged by `promptctl doctor`: the bump that made this commit was interrupted")
            findings.append(Finding("repaired", f"{found.describe()}: tagged it"))
        else:
            findings.append(Finding("problem", found.describe(), "run `promptctl doctor` to tag it"))
    return findings
