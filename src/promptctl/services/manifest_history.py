"""release.yaml's git history, entry by entry, computed once and extended commit by commit.

`status` (since when is each version active) and `history` (every change of one entry)
used to parse every past release.yaml; at thousands of entries each parse is most of a
second. Commits are content-addressed, so what was found for a run of commits holds for
as long as the file's log starts with that run: the state dir keeps the changes found per
(env, prompt, segment), and a new commit of release.yaml costs one parse. A log that no
longer starts with the cached run (a rewritten history) is read again from the start.

`status` also keeps its rows by the working release.yaml's hash and HEAD: the text is read
and hashed on every call, so an edit is always seen.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import PromptctlError
from ..manifest import Manifest, parse_manifest
from ..workcache import CACHE_DIR, cache_key, read_cache, replace_cache_file, write_cache
from .project import Project

if TYPE_CHECKING:
    from ..store import LogEntry   # GitPython only when the log must be read

HISTORY_FILE = "manifest-history.json"
ROWS_FILE = "manifest-rows.json"
EMPTY = "environments: {}\n"


def entry_key(env: str, name: str, segment: str | None) -> str:
    return f"{env}\x1f{name}\x1f{segment or ''}"


def _targets(manifest: Manifest):
    for env, prompts in manifest.environments.items():
        for name, entry in prompts.items():
            yield entry_key(env, name, None), entry
            for segment, target in entry.segments.items():
                yield entry_key(env, name, segment), target


def _state(target) -> list:
    """What a history row shows, and a hash of the whole target (a row is any change)."""
    digest = hashlib.blake2b(target.model_dump_json().encode(), digest_size=12).hexdigest()
    canary = target.canary
    return [digest, target.active, canary.version if canary else None, canary.weight if canary else None]


def _checksum(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class ManifestHistory:
    """infos: the file's commits oldest first (commit, date, author, subject, trailers);
    changes: entry key -> [[commit index, hash, active, canary, weight]], hash None when
    the entry left the file. Read from the cache, `changes` stays text, one line per entry,
    until all of it is needed: `history` of one entry parses one line."""
    head: str = ""
    infos: list[dict] = field(default_factory=list)
    stored: dict[str, list[list]] | None = field(default_factory=dict)
    lines: str = ""

    @property
    def changes(self) -> dict[str, list[list]]:
        if self.stored is None:
            body = ",".join(ln.replace("\t", ":", 1) for ln in self.lines.splitlines() if ln)
            self.stored, self.lines = json.loads("{" + body + "}"), ""
        return self.stored

    def _changes_of(self, key: str) -> list[list]:
        if self.stored is not None:
            return self.stored.get(key, [])
        start = self.lines.find(f"\n{json.dumps(key)}\t")
        if start < 0:
            return []
        start = self.lines.index("\t", start) + 1
        end = self.lines.find("\n", start)
        return json.loads(self.lines[start:end if end >= 0 else None])

    def text(self, key: str) -> str:
        lines = "".join(f"{json.dumps(k)}\t{json.dumps(v, separators=(',', ':'))}\n"
                        for k, v in self.changes.items())
        header = json.dumps({"key": key, "head": self.head, "infos": self.infos,
                             "sum": _checksum(lines)})
        return header + "\n" + lines

    @classmethod
    def read(cls, path, key: str) -> ManifestHistory:
        try:
            text = path.read_text(encoding="utf-8")
            header, _, lines = text.partition("\n")
            data = json.loads(header)
        except (OSError, ValueError):
            return cls()
        # the lines are parsed later, one at a time: a damaged file is refused here, whole
        if not isinstance(data, dict) or (data.get("key"), data.get("sum")) != (key, _checksum(lines)):
            return cls()
        return cls(data.get("head", ""), data.get("infos", []), None, "\n" + lines)

    def extend(self, project: Project, infos: list[dict]) -> None:
        rel = project.config.manifest
        for info in infos:
            index = len(self.infos)
            self.infos.append(info)
            text = project.store.source_at(info["commit"]).read(rel)
            try:
                manifest = parse_manifest(text or EMPTY, rel)
            except PromptctlError:
                continue    # a broken hand edit in the past: skip, do not fail
            present = set()
            for key, target in _targets(manifest):
                present.add(key)
                state = _state(target)
                past = self.changes.setdefault(key, [])
                if not past or past[-1][1] != state[0]:
                    past.append([index, *state])
            for key, past in self.changes.items():
                if key not in present and past[-1][1] is not None:
                    past.append([index, None, None, None, None])

    def rows(self, env: str, name: str, segment: str | None) -> list[tuple[dict, list]]:
        """(commit info, [hash, active, canary, weight]) per change, oldest first."""
        return [(self.infos[c[0]], c[1:]) for c in self._changes_of(entry_key(env, name, segment))]

    def active_since(self) -> dict[tuple, str]:
        """(env, name, segment, active) -> date of the commit that made it active."""
        since: dict[tuple, str] = {}
        for key, past in self.changes.items():
            env, name, segment = key.split("\x1f")
            last = None
            for index, digest, active, _, _ in past:
                if digest is not None and active != last:
                    since[(env, name, segment or None, active)] = self.infos[index]["date"]
                    last = active
        return since


def manifest_history(project: Project) -> ManifestHistory:
    """The history as of HEAD: from the cache when HEAD is the cached one, else extended."""
    from ..gitobjects import head_commit

    head = head_commit(project.root)
    if not head:
        return ManifestHistory()
    path = project.root / project.config.state_dir / CACHE_DIR / HISTORY_FILE
    key = cache_key("history", project.config.manifest)
    history = ManifestHistory.read(path, key)
    if history.head == head:
        return history
    infos = [_info(e) for e in reversed(project.store.log(paths=(project.config.manifest,)))]
    known = [i["commit"] for i in history.infos]
    if [i["commit"] for i in infos[:len(known)]] != known:
        history = ManifestHistory()     # the log was rewritten: read it all again
    history.extend(project, infos[len(history.infos):])
    history.head = head
    replace_cache_file(path, history.text(key))
    return history


def _info(entry: LogEntry) -> dict:
    """A commit as the cache keeps it (and `history` shows it): the message's first line."""
    return {"commit": entry.commit, "author": entry.author, "date": entry.date,
            "committed": entry.committed, "subject": entry.first_line, "trailers": entry.trailers}


def working_rows(project: Project, text: str, build) -> dict:
    """`build(manifest)` of the working release.yaml, kept by the text's hash and HEAD (the
    history the rows' dates come from)."""
    from ..gitobjects import head_commit

    path = project.root / project.config.state_dir / CACHE_DIR / ROWS_FILE
    key = cache_key("rows", project.config.manifest, hashlib.sha256(text.encode()).hexdigest(),
                    head_commit(project.root))
    cached = read_cache(path, key)
    if "rows" in cached:
        return cached["rows"]
    rows = build(parse_manifest(text, project.config.manifest))
    write_cache(path, key, {"rows": rows})
    return rows
