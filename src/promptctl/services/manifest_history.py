"""release.yaml's git history, entry by entry, computed once and extended commit by commit.

`status` (since when is each version active) and `history` (every change of one entry)
used to parse every past release.yaml; at thousands of entries each parse is most of a
second. Commits are content-addressed, so what was found for a run of commits holds for
as long as the file's log starts with that run: the state dir keeps the changes found per
(env, prompt, segment), and a new commit of release.yaml costs one parse. A log that no
longer starts with the cached run (a rewritten history) is read again from the start.

The first run in a clone has no cache and must read the whole log. A past release.yaml in
the layout promptctl writes (block style, two-space indents, one line per env and prompt
key) is cut into entries without parsing, and only entry texts not seen before are
parsed; where a commit changed the file in one stretch (a promote), only the entries in
that stretch are cut again. A commit that changes one line of a 5,000-entry file costs
one entry's parse, not the file's. A file in any other layout is parsed whole, as before.

`status` also keeps its rows by the working release.yaml's hash and HEAD: the text is read
and hashed on every call, so an edit is always seen.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import ValidationError as PydanticValidationError

from ..errors import PromptctlError
from ..manifest import ENV_RE, Entry, Manifest, parse_manifest
from ..model import NAME_RE
from ..workcache import CACHE_DIR, cache_key, read_cache, replace_cache_file, write_cache
from .project import Project

if TYPE_CHECKING:
    from ..gitrecords import LogEntry   # GitPython only when the log must be read

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


# ---------------------------------------------------------------- entries without a full parse

# A line that is none of: the one top key, a blank or comment, an env or prompt key alone
# on its line, or a line inside an entry (indented six or more).
_FOREIGN_LINE = re.compile(r"^(?!environments:[ \t]*$|[ \t]*$|[ \t]*#| {6}|(?:  |    )[^\s#:'\"]"
                           r"[^\n:#]*:[ \t]*$)", re.M)
_KEY_LINE = re.compile(r"^(  |    )([^\s#:'\"][^\n:#]*):[ \t]*\n", re.M)
_TOP_KEY = re.compile(r"^environments:", re.M)
_ENV_RE = re.compile(ENV_RE)


_PLAIN_PROMPT_KEYS: set[str] = set()


@lru_cache(maxsize=65536)
def _plain_key(name: str, pattern: re.Pattern[str]) -> bool:
    """`name` is a valid key and YAML reads it as that string (not `yes`, `1_000`, a date)."""
    from ..safeyaml import load_yaml

    if not pattern.fullmatch(name):
        return False
    try:
        return load_yaml(name, "(key)") == name
    except PromptctlError:
        return False


def split_entries(text: str) -> dict[tuple[str, str], str] | None:
    """(env, prompt) -> the text of its entry, in file order, when `text` is in the layout
    promptctl writes; None for any other layout (anchors, flow style, quoting, odd indents),
    which must be parsed whole."""
    if not text.endswith("\n"):
        text += "\n"
    if "&" in text or "*" in text or "\t" in text or _FOREIGN_LINE.search(text) \
            or len(_TOP_KEY.findall(text)) != 1:
        return None
    parts = _KEY_LINE.split(text)
    head, rest = parts[0], parts[1:]
    if not _only_comments(head.replace("environments:", "", 1)):
        return None
    entries: dict[tuple[str, str], str] = {}
    envs: set[str] = set()
    env, count, env_start = None, 0, 0
    unchecked = []                # names not yet known to be plain prompt keys
    for indent, name, body in zip(rest[0::3], rest[1::3], rest[2::3], strict=True):
        if indent == "    ":
            if env is None:
                return None
            entries[(env, name)] = body
            count += 1
            if name not in _PLAIN_PROMPT_KEYS:
                unchecked.append(name)
            continue
        # an env given twice, with text before its first prompt, or after an empty env
        if name in envs or not _only_comments(body) or not _plain_key(name, _ENV_RE) \
                or (env is not None and count == env_start):
            return None
        env, env_start = name, count
        envs.add(name)
    if len(entries) != count or (env is not None and count == env_start):
        return None               # a prompt given twice in one env, or an empty last env
    for name in unchecked:
        if not _plain_key(name, NAME_RE):
            return None
        _PLAIN_PROMPT_KEYS.add(name)
    return entries


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


_ENV_LINE = re.compile(r"^  ([^\s#:'\"][^\n:#]*):[ \t]*$", re.M)
_NEXT_KEY = re.compile(r"\n(?=  [^\s#]|    [^\s#])")   # the end of a line before a key line
_BLOCK = 4096


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share (compared a block at a time)."""
    n, i = min(len(a), len(b)), 0
    while i < n and a[i:i + _BLOCK] == b[i:i + _BLOCK]:
        i += _BLOCK
    end = min(i + _BLOCK, n)
    while i < end and a[i] == b[i]:
        i += 1
    return min(i, n)


def _common_suffix(a: str, b: str, limit: int) -> int:
    """How many trailing characters `a` and `b` share, at most `limit`."""
    i = 0
    while i + _BLOCK <= limit and a[len(a) - i - _BLOCK:len(a) - i] == b[len(b) - i - _BLOCK:len(b) - i]:
        i += _BLOCK
    while i < limit and a[len(a) - i - 1] == b[len(b) - i - 1]:
        i += 1
    return i


def _entry_start(text: str, at: int) -> int | None:
    """The start of the prompt key line of the entry holding offset `at`; None when an env
    key or the top of the file comes first."""
    pos = text.rfind("\n", 0, at) + 1
    while pos > 0:
        if text.startswith("    ", pos) and text[pos + 4] not in " #\n":
            return pos
        if text.startswith("  ", pos) and text[pos + 2] not in " #\n":
            return None     # an env key line
        pos = text.rfind("\n", 0, pos - 1) + 1
    return None


def _region_items(region: str) -> list[tuple[str, str]] | None:
    """(prompt, entry text) of a run of whole entries; None unless it is only that."""
    if "&" in region or "*" in region or "\t" in region or _FOREIGN_LINE.search(region) \
            or _TOP_KEY.search(region):
        return None
    parts = _KEY_LINE.split(region)
    if parts[0] or any(indent != "    " for indent in parts[1::3]):
        return None
    return list(zip(parts[2::3], parts[3::3], strict=True))


@dataclass
class _Step:
    """One past release.yaml as entries, and which of them changed since the one before."""
    entries: dict[tuple[str, str], str]
    envs: list[tuple[int, str]]         # (offset of its key line, env)
    counts: dict[str, int]              # env -> its prompts
    edited: list[tuple[tuple[str, str], str]]
    removed: list[tuple[str, str]]


class _VersionReader:
    """Past release.yaml texts, oldest first, as what changed since the one before.

    Entry texts already parsed are kept by (name, text): a file's history repeats most of
    them. Where a text differs from the one before in one place (a promote), only the
    entries around that place are cut again; the rest of the file is the same text."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.parsed: dict[tuple[str, str], list | None] = {}
        self.last: _Step | None = None
        self.last_text = ""

    def changes(self, text: str) -> tuple[list[tuple[str, list]], list[str] | None] | None:
        """(targets changed or new, with their state; keys gone) since the previous text.
        Gone is None when the first list holds every target (then anything else is gone).
        None when `text` does not parse or validate: a broken hand edit in the past."""
        whole = text if text.endswith("\n") else text + "\n"
        before = self.last
        step = self._by_region(whole) if before is not None else None
        if step is None:
            step = self._by_split(whole)
        if step is None:
            self.last = None
            try:
                manifest = parse_manifest(text or EMPTY, self.file)
            except PromptctlError:
                return None
            return [(key, _state(target)) for key, target in _targets(manifest)], None
        changed: list[tuple[str, list]] = []
        gone: list[str] = []
        old = before.entries if before is not None else {}
        for (env, name), body in step.edited:
            states = self._parse(name, body)
            if states is None:
                return None
            keys = {entry_key(env, name, segment) for segment, _ in states}
            changed.extend((entry_key(env, name, segment), state) for segment, state in states)
            if (env, name) in old:
                gone.extend(k for k in self._keys(env, name, old[(env, name)]) if k not in keys)
        for env, name in step.removed:
            gone.extend(self._keys(env, name, old[(env, name)]))
        self.last, self.last_text = step, whole
        return changed, (None if before is None else gone)

    def _by_split(self, text: str) -> _Step | None:
        entries = split_entries(text)
        if entries is None:
            return None
        counts: dict[str, int] = {}
        for env, _ in entries:
            counts[env] = counts.get(env, 0) + 1
        envs = [(m.start(), m.group(1)) for m in _ENV_LINE.finditer(text)]
        before = self.last
        if before is None:
            return _Step(entries, envs, counts, list(entries.items()), [])
        # set operations on the items views run in C: a commit changes a few of thousands
        return _Step(entries, envs, counts, sorted(entries.items() - before.entries.items()),
                     sorted(before.entries.keys() - entries.keys()))

    def _by_region(self, text: str) -> _Step | None:
        """The step from the previous text by re-cutting only the entries that changed;
        None when the change touches an env key or anything but whole prompt entries."""
        last, old = self.last, self.last_text
        assert last is not None
        if text == old:
            return _Step(last.entries, last.envs, last.counts, [], [])
        head = _common_prefix(old, text)
        tail = _common_suffix(old, text, min(len(old), len(text)) - head)
        start = _entry_start(old, head)
        if start is None:
            return None
        found = _NEXT_KEY.search(old, len(old) - tail)
        old_end = found.start() + 1 if found else len(old)
        shift = len(text) - len(old)
        was, now = _region_items(old[start:old_end]), _region_items(text[start:old_end + shift])
        env = next((e for offset, e in reversed(last.envs) if offset < start), None)
        if was is None or now is None or env is None:
            return None
        names, had = {name for name, _ in now}, {name for name, _ in was}
        gone_names = had - names
        count = last.counts[env] - len(was) + len(now)
        if len(names) != len(now) or count == 0 or any(
                (env, name) in last.entries for name in names - had):
            return None     # a prompt given twice, or an env left empty: the full parser decides
        if any(name not in _PLAIN_PROMPT_KEYS and not _plain_key(name, NAME_RE) for name in names):
            return None
        _PLAIN_PROMPT_KEYS.update(names)
        entries = dict(last.entries)
        for name in gone_names:
            del entries[(env, name)]
        edited = [((env, name), body) for name, body in now if last.entries.get((env, name)) != body]
        entries.update(edited)
        envs = [(offset if offset < start else offset + shift, e) for offset, e in last.envs]
        return _Step(entries, envs, {**last.counts, env: count}, edited,
                     sorted((env, name) for name in gone_names))

    def _keys(self, env: str, name: str, body: str) -> list[str]:
        return [entry_key(env, name, segment) for segment, _ in self.parsed[(name, body)] or ()]

    def _parse(self, name: str, body: str) -> list | None:
        """[(segment or None, state)] of one entry's text; None when it is not valid."""
        if (name, body) not in self.parsed:
            from ..safeyaml import load_yaml

            try:
                entry = Entry.model_validate(load_yaml(body, self.file))
            except (PromptctlError, PydanticValidationError):
                self.parsed[(name, body)] = None
            else:
                self.parsed[(name, body)] = [(segment, _state(target)) for segment, target
                                             in [(None, entry), *entry.segments.items()]]
        return self.parsed[(name, body)]


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
        reader = _VersionReader(rel)
        for info in infos:
            index = len(self.infos)
            self.infos.append(info)
            found = reader.changes(project.store.source_at(info["commit"]).read(rel) or "")
            if found is None:
                continue    # a broken hand edit in the past: skip, do not fail
            changed, gone = found
            for key, state in changed:
                past = self.changes.setdefault(key, [])
                if not past or past[-1][1] != state[0]:
                    past.append([index, *state])
            if gone is None:
                present = {key for key, _ in changed}
                gone = [key for key in self.changes if key not in present]
            for key in gone:
                past = self.changes[key]
                if past[-1][1] is not None:
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
    infos = [commit_info(e) for e in reversed(project.store.log(paths=(project.config.manifest,)))]
    known = [i["commit"] for i in history.infos]
    if [i["commit"] for i in infos[:len(known)]] != known:
        history = ManifestHistory()     # the log was rewritten: read it all again
    history.extend(project, infos[len(history.infos):])
    history.head = head
    replace_cache_file(path, history.text(key))
    return history


def commit_info(entry: LogEntry) -> dict:
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
