"""Where promptctl's files come from: the working tree (confined to the repo), or memory
(a bundle, a test). Paths are relative to the repo root, '/'-separated."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from .errors import Problem, ValidationError


class FileSource(Protocol):
    """Where prompt files come from: paths are relative to the repo root, '/'-separated."""

    def read(self, path: str) -> str | None: ...

    def listdir(self, path: str) -> list[str]: ...


class WorkingTree:
    """Files as they are on disk now, confined to the repo (and prompts to their folder).

    A symlink or `..` leading out would let `show`/`eval` read, digest, commit and send to a
    provider a file that is not part of the repo: such a read is refused by name.
    """

    def __init__(self, root: Path, prompts_dir: str | None = None) -> None:
        self.root = root
        self.prompts_dir = prompts_dir

    def read(self, path: str) -> str | None:
        full = self.root / path
        try:
            self._confine(path, full)
            return decode_text(full.read_bytes(), path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _confine(self, path: str, full: Path) -> None:
        if not full.exists() or self._plain(path):
            return
        resolved = full.resolve()
        root = self.root.resolve()
        inside = self.prompts_dir if self.prompts_dir and _under(path, self.prompts_dir) else None
        limit = (self.root / inside).resolve() if inside else root
        if resolved.is_relative_to(limit) and resolved.is_relative_to(root):
            return
        where = f"the {inside}/ folder" if inside else "the repo"
        problem = Problem(path, f"resolves to {resolved}, outside {where} (a symlink or '..' "
                                f"leading out is refused: copy the file in instead)")
        raise ValidationError(problems=[problem])

    def _plain(self, path: str) -> bool:
        """No `..` and no symlink on the way from the root: the file is inside, no resolve()
        needed (resolving every read was a third of listing thousands of prompts)."""
        parts = path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            return False
        plain = self.__dict__.setdefault("_plain_dirs", {})
        prefix = str(self.root)
        for i, part in enumerate(parts):
            prefix = os.path.join(prefix, part)
            last = i == len(parts) - 1
            if not last and prefix in plain:
                if not plain[prefix]:
                    return False
                continue
            ok = not os.path.islink(prefix)
            if not last:
                plain[prefix] = ok
            if not ok:
                return False
        return True

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root / path) if e.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def outside_reference(ref: str) -> bool:
    """An include name that climbs out of the prompts folder or is absolute."""
    parts = ref.replace("\\", "/").split("/")
    return ref.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]


def decode_text(data: bytes, path: str) -> str:
    """Prompt files are UTF-8 text; anything else is a finding about that file, not a crash."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(path, f"not UTF-8 text at byte {exc.start} (save it as UTF-8)")
        raise ValidationError(problems=[problem]) from exc


class DictSource:
    """Files held in memory (a bundle, a test)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read(self, path: str) -> str | None:
        return self.files.get(path)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return sorted(p[len(prefix):] for p in self.files
                      if p.startswith(prefix) and "/" not in p[len(prefix):])
