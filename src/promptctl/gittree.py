"""A commit's files as a FileSource (`GitTreeSource`), as `GitStore.source_at` gives them.

Its `trees` and `files` caches are public: `GitStore.preload` fills them in batches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .gitobjects import tree_entries

if TYPE_CHECKING:
    from .store import GitStore

NOT_FILES = ("40000", "160000")     # tree and submodule entries
_SYMLINK = "120000"


class GitTreeSource:
    """A FileSource reading blobs of one commit: what was released, not what is on disk.

    Reads go through the store's `git cat-file --batch`; `GitStore.preload` fills many
    sources' prompt folders at once, so a loop over releases makes no round trip per file.
    """

    def __init__(self, store: GitStore, commit: str) -> None:
        self.commit = commit
        self._store = store
        self.files: dict[str, tuple[str, bytes] | None] = {}   # path -> (mode, content)
        self.trees: dict[str, dict[str, tuple[str, str]]] = {}  # folder -> name -> (mode, sha)

    def object_name(self, path: str) -> str:
        return f"{self.commit}:{self._store.prefix}{'/' if self._store.prefix else ''}{path}"

    def read(self, path: str) -> str | None:
        blob = self._blob(path)
        for _ in range(8):   # a committed symlink: read its target, as the working tree does
            if blob is None or blob[0] != _SYMLINK:
                break
            path = self._link_target(path, blob[1].decode("utf-8", "replace"))
            blob = self._blob(path)
        if blob is None:
            return None
        from .sources import decode_text

        return decode_text(blob[1], path)

    def _link_target(self, path: str, target: str) -> str:
        import posixpath

        from .errors import Problem, ValidationError
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if target.startswith("/") or joined.startswith("../") or joined == "..":
            problem = Problem(path, f"is a symlink to {target!r}, outside the repo (commit the "
                                    "file itself instead)")
            raise ValidationError(problems=[problem])
        return joined

    def listdir(self, path: str) -> list[str]:
        return sorted(name for name, (mode, _) in self._tree(path).items() if mode not in NOT_FILES)

    def _blob(self, path: str) -> tuple[str, bytes] | None:
        if path not in self.files:
            folder, _, name = path.rpartition("/")
            entry = self._tree(folder).get(name)
            obj = self._store.objects.read(entry[1]) if entry and entry[0] not in NOT_FILES else None
            self.files[path] = ((entry[0], obj[1])
                                 if entry is not None and obj is not None and obj[0] == "blob"
                                 else None)
        return self.files[path]

    def _tree(self, folder: str) -> dict[str, tuple[str, str]]:
        if folder not in self.trees:
            obj = self._store.objects.read(self.object_name(folder))
            self.trees[folder] = ({name: (mode, sha) for mode, name, sha in tree_entries(obj[1])}
                                   if obj is not None and obj[0] == "tree" else {})
        return self.trees[folder]
