"""`promptctl sync [REMOTE]`: one clone meets the team's remote.

It fetches what promptctl keeps in git beyond the branch: release tags (new ones only;
a tag that differs is two releases of one version and is refused), the attestations'
notes ref (joined with local notes by the `cat_sort_uniq` merge, which suits their one
JSON line per run), and the manifest branch, fast-forward only. With `push` it sends
local release tags, the notes and manifest commits back. A diverged branch is refused
and explained: two deploys were committed in two places and a person must order them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ManifestError, ReleaseError, RepoError, UsageError
from ..tags import parse_tag
from .project import Project

_NO_PROMPT = {"GIT_TERMINAL_PROMPT": "0"}    # a remote asking for a password fails, not hangs


@dataclass
class SyncReport:
    remote: str
    fetched_tags: list[str] = field(default_factory=list)
    unshallowed: bool = False
    notes: str = "none on the remote"
    branch: str | None = None
    manifest: str = ""
    pushed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sync(project: Project, remote: str | None = None, *, push: bool = False) -> SyncReport:
    store = project.store
    remote = remote or _default_remote(project)
    known = store.run_git("remote").split()
    if remote not in known:
        raise UsageError(f"no git remote named {remote!r}", field="REMOTE",
                         fix=f"remotes: {', '.join(known) or 'none'} (git remote add NAME URL)")
    report = SyncReport(remote=remote)
    branch = _current_branch(project)
    report.branch = branch
    remote_refs = _ls_remote(project, remote)
    tags = _release_tags(project, remote_refs)
    local = _local_tags(project)
    _refuse_clobbered(remote, tags, local)
    missing = [t for t in tags if t not in local]
    notes_ref = project.config.notes_ref
    notes_copy = f"refs/notes/remotes/{remote}/{notes_ref.removeprefix('refs/notes/')}"
    specs = [f"refs/tags/{t}:refs/tags/{t}" for t in missing]
    if notes_ref in remote_refs:
        specs.append(f"+{notes_ref}:{notes_copy}")
    if branch and f"refs/heads/{branch}" in remote_refs:
        specs.append(f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}")
    shallow = store.run_git("rev-parse", "--is-shallow-repository") == "true"
    if specs or shallow:
        _network(project, "fetch", "--no-tags", *(["--unshallow"] if shallow else []), remote, *specs)
    report.fetched_tags, report.unshallowed = missing, shallow
    if notes_ref in remote_refs:
        report.notes = _merge_notes(project, notes_ref, notes_copy)
    report.manifest = _fast_forward(project, remote, branch, remote_refs)
    if push:
        report.pushed = _push(project, remote, branch, remote_refs)
    return report


def _default_remote(project: Project) -> str:
    """The branch's upstream remote, else `origin`, else the only remote."""
    store = project.store
    remotes = store.run_git("remote").split()
    if not remotes:
        raise UsageError("this repository has no git remote",
                         fix="add one: git remote add origin URL")
    branch = _current_branch(project)
    if branch:
        status, out, _ = store.try_git("config", f"branch.{branch}.remote")
        if status == 0 and out.strip() in remotes:
            return out.strip()
    if "origin" in remotes or len(remotes) > 1:
        if "origin" not in remotes:
            raise UsageError(f"several remotes ({', '.join(remotes)}) and none is origin",
                             fix="name one: promptctl sync REMOTE")
        return "origin"
    return remotes[0]


def _current_branch(project: Project) -> str | None:
    status, out, _ = project.store.try_git("symbolic-ref", "--short", "-q", "HEAD")
    return out.strip() if status == 0 and out.strip() else None


def _network(project: Project, *args: str) -> tuple[str, str]:
    status, out, err = project.store.git.execute(
        ["git", *args], with_extended_output=True, with_exceptions=False, env=_NO_PROMPT)
    if status != 0:
        detail = " ".join((err or out or "").split()) or f"exit status {status}"
        raise RepoError(f"git {args[0]} failed: {detail}",
                        fix="check the remote's URL and your access to it")
    return out, err


def _ls_remote(project: Project, remote: str) -> dict[str, str]:
    """ref -> object of every tag, branch and notes ref on the remote."""
    out, _ = _network(project, "ls-remote", remote)
    refs = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref and not ref.endswith("^{}"):
            refs[ref] = sha
    return refs


def _release_tags(project: Project, remote_refs: dict[str, str]) -> dict[str, str]:
    """The remote's release tags (tag name -> tag object), by this repo's tag format."""
    fmt = project.config.tag_format
    return {ref.removeprefix("refs/tags/"): sha for ref, sha in remote_refs.items()
            if ref.startswith("refs/tags/") and parse_tag(ref.removeprefix("refs/tags/"), fmt)}


def _local_tags(project: Project) -> dict[str, str]:
    """tag name -> object of every local tag, in one call (a repo may hold thousands)."""
    out = project.store.run_git("for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/")
    return {ref.removeprefix("refs/tags/"): sha
            for ref, _, sha in (line.partition(" ") for line in out.splitlines())}


def _refuse_clobbered(remote: str, tags: dict[str, str], local: dict[str, str]) -> None:
    for tag, sha in sorted(tags.items()):
        if tag in local and local[tag] != sha:
            raise ReleaseError(f"tag {tag} differs here and on {remote}: the same version was "
                               "released twice", fix="keep the remote's; release the local "
                               f"content as a new version (git tag -d {tag} if it was never used)")


def _merge_notes(project: Project, notes_ref: str, fetched: str) -> str:
    store = project.store
    status, local, _ = store.try_git("rev-parse", "-q", "--verify", notes_ref)
    theirs = store.run_git("rev-parse", fetched)
    if status != 0:
        store.run_git("update-ref", notes_ref, theirs)
        return "fetched"
    local = local.strip()
    if local == theirs or _is_ancestor(project, theirs, local):
        return "up to date"
    if _is_ancestor(project, local, theirs):
        store.run_git("update-ref", notes_ref, theirs, local)
        return "fast-forwarded"
    store.run_git(*store.identity(), "notes", f"--ref={notes_ref}", "merge", "-q",
                  "-s", "cat_sort_uniq", fetched)
    return "merged with local notes"


def _is_ancestor(project: Project, older: str, newer: str) -> bool:
    return project.store.try_git("merge-base", "--is-ancestor", older, newer)[0] == 0


def _fast_forward(project: Project, remote: str, branch: str | None,
                  remote_refs: dict[str, str]) -> str:
    if branch is None:
        return "HEAD is detached: the manifest branch was not synced"
    if f"refs/heads/{branch}" not in remote_refs:
        return f"{remote} has no branch {branch} yet"
    store = project.store
    theirs = f"refs/remotes/{remote}/{branch}"
    head, other = store.head(), store.run_git("rev-parse", theirs)
    if head == other or _is_ancestor(project, other, head):
        ahead = store.run_git("rev-list", "--count", f"{theirs}..HEAD")
        return "up to date" if ahead == "0" else f"{ahead} local commit(s) not on {remote}"
    if _is_ancestor(project, head, other):
        store.run_git("merge", "-q", "--ff-only", theirs)
        return f"fast-forwarded to {other[:8]}"
    raise _diverged(project, remote, branch, theirs)


def _diverged(project: Project, remote: str, branch: str, theirs: str) -> ManifestError:
    store = project.store
    rel = project.config.manifest
    mine = store.log(f"{theirs}..HEAD", paths=(rel,), limit=1)
    them = store.log(f"HEAD..{theirs}", paths=(rel,), limit=1)
    if mine and them:
        what = (f"{rel} changed here ({mine[0].subject!r}) and on {remote} ({them[0].subject!r}) since they "
                "split: two deploys were committed in two places")
    else:
        what = f"{branch} and {remote}/{branch} have diverged"
    return ManifestError(what, file=rel, fix=f"nothing was merged or pushed; order them by hand: "
                         f"git pull --rebase {remote} {branch} (re-run a conflicting promote "
                         "on top), then promptctl sync --push")


def _push(project: Project, remote: str, branch: str | None, remote_refs: dict[str, str]) -> list[str]:
    store = project.store
    notes_ref = project.config.notes_ref
    refs = [f"refs/tags/{r.tag}" for r in store.releases()
            if f"refs/tags/{r.tag}" not in remote_refs]
    status, notes, _ = store.try_git("rev-parse", "-q", "--verify", notes_ref)
    if status == 0 and remote_refs.get(notes_ref) != notes.strip():
        refs.append(f"{notes_ref}:{notes_ref}")
    if branch and remote_refs.get(f"refs/heads/{branch}") != store.head() and store.has_commits():
        refs.append(f"HEAD:refs/heads/{branch}")
    if refs:
        _network(project, "push", "-q", remote, *refs)
    return [r.split(":", 1)[-1].removeprefix("refs/tags/").removeprefix("refs/heads/")
            for r in refs]
