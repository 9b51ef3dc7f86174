"""The git adapter: the only module that imports GitPython.

Reads files at any revision, lists release tags in one `for-each-ref` call, commits
exactly the paths it is given and creates annotated tags. It never moves or deletes a tag.
"""

from __future__ import annotations

import re
from pathlib import Path

import git

from .errors import NotFoundError, ReleaseError, RepoError
from .gitobjects import ObjectReader, blob_names, tree_entries
from .model import DEFAULT_TAG_FORMAT, Release
from .tags import parse_body, parse_digest, parse_tag, ref_pattern

_SEP, _END = "\x1f", "\x1e"
_FULL_SHA = re.compile(r"[0-9a-f]{40}")
_NOT_FILES = ("40000", "160000")     # tree and submodule entries
_WALK_FROM = 8     # folders of one commit from which reading its prompts/ tree once pays
_REF_FORMAT = _SEP.join([
    "%(refname)", "%(objecttype)", "%(objectname)", "%(*objectname)",
    "%(taggerdate:iso-strict)", "%(taggername)", "%(creatordate:iso-strict)", "%(contents)",
]) + _END


class GitTreeSource:
    """A FileSource reading blobs of one commit: what was released, not what is on disk.

    Reads go through the store's `git cat-file --batch`; `GitStore.preload` fills many
    sources' prompt folders at once, so a loop over releases makes no round trip per file.
    """

    def __init__(self, store: "GitStore", commit: str) -> None:
        self.commit = commit
        self._store = store
        self._files: dict[str, bytes | None] = {}
        self._dirs: dict[str, list[str]] = {}

    def object_name(self, path: str) -> str:
        return f"{self.commit}:{self._store.prefix}{'/' if self._store.prefix else ''}{path}"

    def read(self, path: str) -> str | None:
        if path not in self._files:
            obj = self._store.objects.read(self.object_name(path))
            self._files[path] = obj[1] if obj is not None and obj[0] == "blob" else None
        data = self._files[path]
        if data is None:
            return None
        from .files import decode_text

        return decode_text(data, path)

    def listdir(self, path: str) -> list[str]:
        if path not in self._dirs:
            obj = self._store.objects.read(self.object_name(path))
            self._dirs[path] = blob_names(obj[1]) if obj is not None and obj[0] == "tree" else []
        return self._dirs[path]


class GitStore:
    """A prompt repo's git side."""

    def __init__(self, root: Path, tag_format: str = DEFAULT_TAG_FORMAT) -> None:
        self.root = root
        self.tag_format = tag_format
        try:
            # A prompt repo may be a folder of a larger repository (prompts beside the app).
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise RepoError(f"{root} is not in a git repository", fix="run `git init` there") from exc
        top = Path(self.repo.working_tree_dir).resolve()
        self.prefix = root.resolve().relative_to(top).as_posix().strip(".")
        # Commands run in the prompt repo's folder, so pathspecs and paths are relative to it.
        self._git = git.Git(str(root.resolve()))
        self.objects = ObjectReader(str(top))
        self._sources: dict[str, GitTreeSource] = {}

    # ------------------------------------------------------------ reading

    def run_git(self, *args: str) -> str:
        try:
            return self._git.execute(["git", *args])
        except git.GitCommandError as exc:
            detail = (exc.stderr or "").strip().replace("\n", " ") or str(exc)
            raise RepoError(f"git {' '.join(args[:2])} failed: {detail}") from exc

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
            if folder not in source._dirs:
                todo.append((source, folder))
        names = self._folder_names(todo, base)
        trees = self.objects.read_many(names)
        wanted: dict[str, list[tuple[GitTreeSource, str]]] = {}
        for (source, folder), obj in zip(todo, trees):
            entries = []
            if obj is not None and obj[0] == "tree":
                entries = [(n, sha) for mode, n, sha in tree_entries(obj[1]) if mode not in _NOT_FILES]
            source._dirs[folder] = sorted(n for n, _ in entries)
            for name, sha in entries:
                wanted.setdefault(sha, []).append((source, f"{folder}/{name}"))
        for sha, obj in zip(wanted, self.objects.read_many(list(wanted))):
            for source, path in wanted[sha]:
                source._files[path] = obj[1] if obj is not None and obj[0] == "blob" else None

    def _folder_names(self, todo: list[tuple[GitTreeSource, str]], base: str) -> list[str]:
        """An object name per folder: `<subtree sha>[:<rest>]` when its base tree is walked."""
        per_commit: dict[str, int] = {}
        for source, folder in todo:
            per_commit[source.commit] = per_commit.get(source.commit, 0) + 1
        walked = [c for c, n in per_commit.items() if base and n >= _WALK_FROM]
        bases = {}
        for commit, obj in zip(walked, self.objects.read_many(
                [GitTreeSource(self, c).object_name(base) for c in walked])):
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
        out = self._git.execute(["git", "for-each-ref", f"--format={_REF_FORMAT}", pattern],
                                    strip_newline_in_stdout=False)
        found = []
        for record in out.split(_END):
            fields = record.lstrip("\n").split(_SEP)
            if len(fields) != 8:
                continue
            release = _release_from_ref(fields, self.tag_format)
            if release and (name is None or release.name == name):
                found.append(release)
        return found

    def release(self, name: str, version: str) -> Release:
        from .files import check_name

        check_name(name)
        for release in self.releases(name):
            if release.version == version:
                return release
        raise NotFoundError(f"{name} has no release {version}",
                            fix=f"run `promptctl log {name}` to see its versions")

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
            self.run_git("commit", "-q", "--only", "-m", message, "--", *pathspecs)
        except RepoError:
            _put_back(index, saved)   # a refused commit (no identity, a hook) leaves nothing staged
            raise
        return self.head()

    def create_tag(self, tag: str, commit: str, message: str) -> None:
        if self.tag_commit(tag) is not None:
            raise ReleaseError(f"tag {tag} already exists", fix="tags are immutable: release a new version")
        self.run_git("tag", "-a", tag, "-m", message, commit)


def _put_back(index: Path, saved: bytes | None) -> None:
    if saved is None:
        index.unlink(missing_ok=True)
    else:
        index.write_bytes(saved)


def _release_from_ref(fields: list[str], tag_format: str) -> Release | None:
    refname, objtype, objname, peeled, tagdate, tagger, created, contents = fields
    tag = refname.removeprefix("refs/tags/")
    parsed = parse_tag(tag, tag_format)
    if parsed is None:
        return None
    annotated = objtype == "tag"
    return Release(
        name=parsed[0], version=parsed[1], tag=tag,
        digest=parse_digest(contents) if annotated else None,
        message=parse_body(contents) if annotated else "",
        commit=peeled if annotated else objname,
        tag_sha=objname, date=tagdate or created, author=tagger, annotated=annotated,
    )


# ---------------------------------------------------------------- history of one file
# The manifest's git log is its audit trail.

def file_log(store: GitStore, path: str) -> list[dict]:
    """Commits touching `path`, newest first: commit, author, date, subject, trailers."""
    fmt = _SEP.join(["%H", "%an", "%aI", "%B"]) + _END
    out = store._git.execute(["git", "log", f"--format={fmt}", "--", path],
                                strip_newline_in_stdout=False)
    rows = []
    for record in out.split(_END):
        fields = record.lstrip("\n").split(_SEP)
        if len(fields) != 4:
            continue
        commit, author, date, body = fields
        lines = body.strip().splitlines()
        trailers = dict(ln.split(": ", 1) for ln in lines[1:] if ln.startswith("Promptctl-") and ": " in ln)
        rows.append({"commit": commit, "author": author, "date": date,
                     "subject": lines[0] if lines else "", "trailers": trailers})
    return rows

