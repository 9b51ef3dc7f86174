"""What loading a working prompt gave (digest, kind), remembered by the content it read.

`list` loads every prompt of the working tree: YAML, validation and a Jinja parse for each,
seconds at thousands of prompts. A load is a pure function of the config and the files it
read, so each entry keeps every read (path and a hash of what came back, listings too) and
is used only after the same reads, done again, return the same bytes. Nothing rests on
sizes or mtimes: a file rewritten with the same size in the same second is read and seen.

The file lives in the state dir, is replaced atomically (readers see old or new, a torn
file is just empty), and a process that loses a write race only loses entries: each one
proves itself on reading, whoever wrote it. It holds digests and prompt kinds, no text.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .errors import ValidationError
from .model import Config, PromptContent
from .prompt_files import load_prompt
from .sources import FileSource

FORMAT = 1
CACHE_DIR = "read-cache"
CACHE_FILE = "working.json"


def _hash(text: str | None) -> str | None:
    return None if text is None else _digest(text)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class _Recorder:
    """A source that notes what each read and listing returned."""

    def __init__(self, inner: FileSource) -> None:
        self.inner = inner
        # (op: "r" a read, "l" a listing, path, hash); saved as JSON lists
        self.reads: list[tuple[str, str, str | None]] = []

    def read(self, path: str) -> str | None:
        text = self.inner.read(path)
        self.reads.append(("r", path, _hash(text)))
        return text

    def listdir(self, path: str) -> list[str]:
        names = self.inner.listdir(path)
        self.reads.append(("l", path, _hash("\0".join(names))))
        return names


def _code_stamp() -> str:
    """The loaders' own code: an edited promptctl must not trust what an older one found."""
    from . import __version__

    stamps = [__version__, str(FORMAT)]
    for module in ("sources.py", "yamlfile.py", "prompt_files.py", "config.py", "model.py",
                   "render.py", "manifest.py", "workcache.py"):
        try:
            info = os.stat(Path(__file__).with_name(module))
            stamps.append(f"{info.st_mtime_ns}:{info.st_size}")
        except OSError:
            stamps.append("?")
    return "|".join(stamps)


class WorkingCache:
    """Digest and kind of working prompts, proven fresh by re-reading their files."""

    def __init__(self, state_dir: Path, source: FileSource, config: Config) -> None:
        self.path = state_dir / CACHE_DIR / CACHE_FILE
        self.source, self.config = source, config
        self.key = cache_key(config.model_dump_json())
        self.entries = self._read()
        self.changed = False
        self._seen: dict[tuple[str, str], str | None] = {}   # reads of this command, by path

    def _read(self) -> dict:
        entries = read_cache(self.path, self.key).get("prompts")
        return entries if isinstance(entries, dict) else {}

    def summary(self, name: str) -> tuple[str, str]:
        """(digest, kind) of the working prompt; raises what `load_prompt` raises."""
        entry = self.entries.get(name)
        if isinstance(entry, dict) and self._fresh(entry.get("reads")):
            return entry["digest"], entry["kind"]
        content = self.load(name)
        return content.digest, content.spec.kind

    def load(self, name: str) -> PromptContent:
        recorder = _Recorder(self.source)
        content = load_prompt(recorder, self.config, name)
        for op, path, digest in recorder.reads:
            self._seen[(op, path)] = digest
        self.entries[name] = {"reads": recorder.reads, "digest": content.digest,
                              "kind": content.spec.kind}
        self.changed = True
        return content

    def _fresh(self, reads) -> bool:
        if not isinstance(reads, list) or not reads:
            return False
        try:
            return all(self._now(op, path) == digest for op, path, digest in reads)
        except (ValidationError, ValueError, TypeError):
            return False   # a file that became unreadable: the full load reports it

    def _now(self, op: str, path: str) -> str | None:
        key = (op, path)
        if key not in self._seen:
            if op == "r":
                self._seen[key] = _hash(self.source.read(path))
            else:
                self._seen[key] = _hash("\0".join(self.source.listdir(path)))
        return self._seen[key]

    def save(self, keep: set[str] | None = None) -> None:
        """Write the entries back (those of `keep` only, when given)."""
        if self.changed:
            entries = self.entries if keep is None else {k: v for k, v in self.entries.items()
                                                         if k in keep}
            write_cache(self.path, self.key, {"prompts": entries})


def cache_key(*parts: str) -> str:
    """A key for a cache file: promptctl's own code and whatever else the answers depend on."""
    return _digest("\n".join([_code_stamp(), *parts]))


def read_cache(path: Path, key: str) -> dict:
    """The payload written under `key`, or {} (missing, torn, or from another key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("key") == key else {}


def write_cache(path: Path, key: str, payload: dict) -> None:
    replace_cache_file(path, json.dumps({**payload, "key": key}, separators=(",", ":")))


def replace_cache_file(path: Path, text: str) -> None:
    """Replace the file atomically; never fails a command (a read-only checkout just
    goes without the speed-up)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")   # never shows up in `git status`
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass
