"""The git adapter: the only module that imports GitPython.

Reads files at any revision, lists release tags in one `for-each-ref` call, commits
exactly the paths it is given and creates annotated tags. It never moves or deletes a tag.
The records it asks git for, and their parsers, are in `gitrecords`; a commit's files as a
FileSource in `gittree`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import git

from .errors import NotFoundError, ReleaseError, RepoError
from .gitobjects import ObjectReader, tree_entries
from .gitrecords import (LOG_FORMAT, REF_FORMAT, LogEntry, parse_log, parse_releases,
                         release_subject_grep, release_subjects)
from .gittree import NOT_FILES, GitTreeSource
from .locking import child_fds, crash_point
from .model import DEFAULT_TAG_FORMAT, Release
from .tags import parse_tag, ref_pattern

_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_WALK_FROM = 8     # folders of one commit from which reading its prompts/ tree once pays


class GitStore:
    """A prompt repo's git side."""

    def __init__(self, root: Path, tag_format: str = DEFAULT_TAG_FORMAT,
                 notes_ref: str | None = None) -> None:
        self.root = root
        self.tag_format = tag_format
        self.notes_ref = notes_ref
        try:
            # A prompt repo may be a folder of a larger repository (prompts beside the app).
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise RepoError(f"{root} is not in a git repository", fix="run `git init` there") from exc
        if self.repo.working_tree_dir is None:
            raise RepoError(f"{root} is in a bare git repository",
                            fix="use a clone with a working tree")
        top = Path(self.repo.working_tree_dir).resolve()
        self.prefix = root.resolve().relative_to(top).as_posix().strip(".")
        # Commands run in the prompt repo's folder, so pathspecs and paths are relative to it
        # (`repo.git` runs at the top of the repository).
        self.git = git.Git(str(root.resolve()))
        self.objects = ObjectReader(str(top))
        self._sources: dict[str, GitTreeSource] = {}

    def after_fork(self) -> None:
        """In a forked child: stop using the parent's `git cat-file` pipes (GitPython keeps
        them open per Repo), so two processes never interleave requests on one pipe."""
        for runner in (self.repo.git, self.git):
            _detach_persistent(runner)
        proc = self.objects.forget()
        if proc is not None:
            _point_at_devnull(proc.stdin, proc.stdout)

    # ------------------------------------------------------------ reading

    def run_git(self, *args: str) -> str:
        try:
            command, kwargs = _inheriting(args)
            return self.git.execute(command, **kwargs)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().replace("\n", " ") or str(exc)
            raise RepoError(f"git {' '.join(args[:2])} failed: {detail}") from exc

    def try_git(self, *args: str) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of a git command that may fail as an answer
        (`merge-base --is-ancestor`, a remote that lacks a ref)."""
        command, kwargs = _inheriting(args)
        status, out, err = self.git.execute(command, with_extended_output=True,
                                             with_exceptions=False, **kwargs)
        return status, out, err

    def log(self, rev_range: str | None = None, paths: tuple[str, ...] = (),
            grep: str | None = None, limit: int | None = None,
            remotes: bool = False) -> list[LogEntry]:
        """Commits newest first, read by one `git log`: of `rev_range` (default HEAD; every
        remote-tracking branch with `remotes`), touching `paths`, whose message matches the
        extended regex `grep`, at most `limit` of them."""
        args = ["log", f"--format={LOG_FORMAT}"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        if remotes:
            args.append("--remotes")
        if grep is not None:
            args += ["-E", f"--grep={grep}"]
        if rev_range is not None:
            args.append(rev_range)
        if paths:
            args += ["--", *paths]
        try:
            command, kwargs = _inheriting(tuple(args))
            out = self.git.execute(command, **kwargs)
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().replace("\n", " ") or str(exc)
            what = "".join(f" {arg}" for arg in (rev_range, *paths) if arg)
            raise RepoError(f"git log{what} failed: {detail}") from exc
        return parse_log(out)

    def has_commits(self) -> bool:
        return self.repo.head.is_valid()

    def head(self) -> str:
        return self.repo.head.commit.hexsha if self.has_commits() else ""

    def resolve(self, rev: str) -> git.Commit:
        try:
            return self.repo.commit(rev)
        except (git.BadName, ValueError) as exc:
            raise NotFoundError(f"no git revision {rev!r}", fix="give a version, tag or commit") from exc

    def source_at(self, rev: str) -> GitTreeSource:
        """The files of a commit; one source per commit, so repeated reads are cached."""
        commit = rev if _FULL_SHA.fullmatch(rev) else self.resolve(rev).hexsha
        if commit not in self._sources:
            self._sources[commit] = GitTreeSource(self, commit)
        return self._sources[commit]

    def preload(self, folders: list[tuple[str, str]], base: str = "") -> None:
        """Read the files of many (commit, folder) pairs in a few batches: trees, then blobs.

        Where a commit holds many of the folders (all prompts released at once), its `base`
        tree (prompts/) is read once and walked here: letting git resolve each
        `<commit>:prompts/<name>` re-reads that tree, one entry per prompt, every time.
        """
        todo = []
        for commit, folder in dict.fromkeys(folders):
            source = self.source_at(commit)
            if folder not in source.trees:
                todo.append((source, folder))
        names = self._folder_names(todo, base)
        trees = self.objects.read_many(names)
        wanted: dict[str, list[tuple[GitTreeSource, str, str]]] = {}
        for (source, folder), obj in zip(todo, trees, strict=True):
            entries = {}
            if obj is not None and obj[0] == "tree":
                entries = {name: (mode, sha) for mode, name, sha in tree_entries(obj[1])}
            source.trees[folder] = entries
            for name, (mode, sha) in entries.items():
                if mode not in NOT_FILES:
                    wanted.setdefault(sha, []).append((source, f"{folder}/{name}", mode))
        for sha, obj in zip(wanted, self.objects.read_many(list(wanted)), strict=True):
            for source, path, mode in wanted[sha]:
                source.files[path] = (mode, obj[1]) if obj is not None and obj[0] == "blob" else None

    def _folder_names(self, todo: list[tuple[GitTreeSource, str]], base: str) -> list[str]:
        """An object name per folder: `<subtree sha>[:<rest>]` when its base tree is walked."""
        per_commit: dict[str, int] = {}
        for source, _folder in todo:
            per_commit[source.commit] = per_commit.get(source.commit, 0) + 1
        walked = [c for c, n in per_commit.items() if base and n >= _WALK_FROM]
        bases = {}
        for commit, obj in zip(walked, self.objects.read_many(
                [GitTreeSource(self, c).object_name(base) for c in walked]), strict=True):
            if obj is not None and obj[0] == "tree":
                bases[commit] = {name: sha for mode, name, sha in tree_entries(obj[1]) if mode == "40000"}
        names = []
        for source, folder in todo:
            entries = bases.get(source.commit)
            first, _, deeper = folder.removeprefix(f"{base}/").partition("/")
            if entries is None or not folder.startswith(f"{base}/"):
                names.append(source.object_name(folder))
            elif first not in entries:
                names.append(f"{source.commit}:missing/{folder}")   # answers "missing"
            else:
                names.append(f"{entries[first]}:{deeper}" if deeper else entries[first])
        return names

    def forget(self) -> None:
        """Drop the cached file contents (a long-running app keeps only compiled versions)."""
        self._sources.clear()

    def releases(self, name: str | None = None) -> list[Release]:
        """Release tags (of one prompt, or all), parsed from a single for-each-ref call."""
        pattern = ref_pattern(self.tag_format, name)
        out = self.git.execute(["git", "for-each-ref", f"--format={REF_FORMAT}", pattern],
                                    strip_newline_in_stdout=False)
        return parse_releases(out, self.tag_format, name)

    def release(self, name: str, version: str) -> Release:
        from .prompt_files import check_name

        check_name(name)
        for release in self.releases(name):
            if release.version == version:
                return release
        raise NotFoundError(f"{name} has no release {version}", fix=self.release_fix(name, self.notes_ref))

    def unfetched(self, name: str | None = None, notes_ref: str | None = None) -> str | None:
        """Why releases may exist that this clone cannot see (None when none can be missing):
        a shallow clone, fetched release commits whose tags are absent (`git clone
        --no-tags`), or eval notes on tag objects that are not here. Only error paths and `bump` pay for it."""
        if self.run_git("rev-parse", "--is-shallow-repository") == "true":
            return "this clone is shallow (git clone --depth): its release tags may be missing"
        known = {(r.name, r.version) for r in self.releases(name)}
        if not self.has_commits():
            return None
        # Only commits that came from a remote: a local release commit without its tag is an
        # interrupted bump (`promptctl doctor` tags it), not a tag left behind by a clone.
        subjects = [e.subject for e in self.log(remotes=True, grep=release_subject_grep(name))]
        missing = sorted({f"{n}@{v}" for n, v in release_subjects(subjects)
                          if (name is None or n == name) and (n, v) not in known})
        if missing:
            more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
            return f"release commits of {', '.join(missing[:3])}{more} have no tag in this clone"
        noted = self.noted_objects(notes_ref) if notes_ref else set()
        if noted and noted - self._release_tag_objects():
            return f"{notes_ref} holds eval notes for release tags this clone does not have"
        return None

    def _release_tag_objects(self) -> set[str]:
        # names and objects only: parsing every tag's message (releases()) was most of a
        # one-prompt command's time at 50,000 tags
        out = self.git.execute(["git", "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)",
                                 ref_pattern(self.tag_format)])
        return {obj for tag, _, obj in (line.rpartition(" ") for line in out.splitlines())
                if parse_tag(tag, self.tag_format)}

    def release_fix(self, name: str, notes_ref: str | None = None) -> str:
        """The fix for "no such release": fetch when this clone may lack tags, else look."""
        if self.unfetched(name, notes_ref):
            return "run git fetch --tags (or promptctl sync): this clone may lack release tags"
        return f"run `promptctl log {name}` to see its versions"

    def tag_commit(self, tag: str) -> str | None:
        # rev-parse, not GitPython's tag list: that reads every ref, 50,000 in a big repo
        try:
            return self.run_git("rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}").strip() or None
        except RepoError:
            return None

    def changed_paths(self, since: str) -> set[str]:
        """Paths that differ between `since` and the working tree (committed or not)."""
        base = self.resolve(since).hexsha
        tracked = self.run_git("diff", "--name-only", "--relative", base, "--").splitlines()
        untracked = self.run_git("ls-files", "--others", "--exclude-standard").splitlines()
        return {p for p in [*tracked, *untracked] if p}

    def dirty_paths(self, pathspecs: list[str]) -> list[str]:
        """Paths among `pathspecs` whose working-tree state differs from HEAD (incl. untracked)."""
        out = self.run_git("status", "--porcelain", "--untracked-files=all", "--", *pathspecs)
        return [line[3:] for line in out.splitlines() if line.strip()]

    # ------------------------------------------------------------ writing

    def commit_paths(self, pathspecs: list[str], message: str) -> str:
        """Commit the working-tree state of exactly these paths; other staged work stays staged."""
        index = Path(self.run_git("rev-parse", "--git-path", "index"))
        index = index if index.is_absolute() else self.root.resolve() / index
        saved = index.read_bytes() if index.exists() else None
        try:
            self.run_git("add", "-A", "--", *pathspecs)
            crash_point("git:staged")
            if self._staged_elsewhere(pathspecs):
                self.run_git("commit", "-q", "--only", "-m", message, "--", *pathspecs)
            else:
                # the same tree: HEAD plus these paths. --only rebuilds a temporary index from
                # HEAD, the bulk of a one-prompt bump's git time in a repo of thousands
                self.run_git("commit", "-q", "-m", message)
        except RepoError:
            _put_back(index, saved)   # a refused commit (no identity, a hook) leaves nothing staged
            raise
        return self.head()

    def _staged_elsewhere(self, pathspecs: list[str]) -> bool:
        """Whether the index holds changes outside `pathspecs` (work staged by hand)."""
        excluded = [f":(exclude,{p[2:]}" if p.startswith(":(") else f":(exclude){p}" for p in pathspecs]
        return bool(self.run_git("diff", "--cached", "--name-only", "--", ":/", *excluded).strip())

    def create_tag(self, tag: str, commit: str, message: str, sign: bool = False) -> None:
        if self.tag_commit(tag) is not None:
            raise ReleaseError(f"tag {tag} already exists", fix="tags are immutable: release a new version")
        self.run_git("tag", "-s" if sign else "-a", tag, "-m", message, commit)


    def verify_signature(self, tag: str, allowed_signers: Path | None = None) -> str | None:
        """None when git verifies the tag's signature, else why not (one line)."""
        config = ["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}"] if allowed_signers else []
        try:
            self.git.execute(["git", *config, "verify-tag", tag])
        except git.GitCommandError as exc:
            lines = [ln.strip() for ln in (exc.stderr or "").splitlines() if ln.strip()]
            if not lines or any("no signature found" in ln for ln in lines):
                return "not signed"
            return f"signature not accepted: {lines[-1]}"
        return None


    # ------------------------------------------------------------ notes
    # Eval attestations live in git notes: they travel with `git fetch`/`push` of one ref.

    def note(self, ref: str, obj: str) -> str | None:
        """The note `ref` holds for an object (a tag object's sha), None when it has none."""
        try:
            return self.git.execute(["git", "notes", f"--ref={ref}", "show", obj])
        except git.GitCommandError:
            return None

    def noted_objects(self, ref: str) -> set[str]:
        """Every object that has a note under `ref` (empty when the ref does not exist)."""
        try:
            out = self.git.execute(["git", "notes", f"--ref={ref}", "list"])
        except git.GitCommandError:
            return set()
        return {line.split()[1] for line in out.splitlines() if len(line.split()) == 2}

    def append_note(self, ref: str, obj: str, line: str) -> None:
        """Add one line to an object's note; a notes commit needs an identity, and one is
        lent when git has none (CI runners rarely set user.name), the line says who ran."""
        current = self.note(ref, obj)
        text = (current.rstrip("\n") + "\n" if current else "") + line
        self.run_git(*self.identity(), "notes", f"--ref={ref}", "add", "-f", "-m", text, obj)

    def identity(self) -> list[str]:
        """`-c` options lending git an identity when it has none (empty when it has one)."""
        try:
            self.git.execute(["git", "var", "GIT_COMMITTER_IDENT"])
            return []
        except git.GitCommandError:
            return ["-c", "user.name=promptctl", "-c", "user.email=promptctl@localhost"]


def _inheriting(args: tuple[str, ...]) -> tuple[list[str], dict]:
    """The git command line and Popen options: during a write, git inherits the writer's
    children lease (see `locking`), and starts no background maintenance that would hold it."""
    fds = child_fds()
    if not fds:
        return ["git", *args], {}
    return ["git", "-c", "maintenance.auto=false", "-c", "gc.auto=0", *args], {"pass_fds": fds}


def _detach_persistent(runner: git.Git) -> None:
    for attr in ("cat_file_all", "cat_file_header"):
        command = getattr(runner, attr, None)
        if command is None:
            continue
        proc, command.proc = command.proc, None   # no terminate(): the process is the parent's
        if proc is not None:
            _point_at_devnull(proc.stdin, proc.stdout, proc.stderr)
        setattr(runner, attr, None)               # the child starts its own on first use


def _point_at_devnull(*streams) -> None:
    """Swap the child's copies of the pipe ends for /dev/null: closing them later (when the
    file objects are collected) then flushes nothing into, and reads nothing from, the
    parent's process."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for stream in streams:
            if stream is not None:
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)


def _put_back(index: Path, saved: bytes | None) -> None:
    if saved is None:
        index.unlink(missing_ok=True)
    else:
        index.write_bytes(saved)


