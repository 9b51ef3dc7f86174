"""What git prints for `git log` and `git for-each-ref`, and the parsers of those records.

Each command is asked for fields split by unit separators, one record per commit or ref,
so a whole listing is one call and one `split`. Plain Python: no GitPython here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Release
from .tags import parse_body, parse_digest, parse_tag

_SEP, _END = "\x1f", "\x1e"
REF_FORMAT = _SEP.join([
    "%(refname)", "%(objecttype)", "%(objectname)", "%(*objectname)",
    "%(taggerdate:iso-strict)", "%(taggername)", "%(creatordate:iso-strict)", "%(contents)",
]) + _END
_REF_FIELDS = 8
# what `GitStore.log` asks git for: one record per commit, the free-form message last
LOG_FORMAT = _SEP.join(["%H", "%h", "%an", "%aI", "%ct", "%s", "%B"]) + _END
_LOG_FIELDS = 7


@dataclass(frozen=True)
class LogEntry:
    """One commit as `git log` shows it."""
    commit: str
    short: str         # the abbreviated hash git prints (`%h`, honours core.abbrev)
    author: str
    date: str          # author date, ISO 8601
    committed: int     # commit time, unix seconds
    subject: str       # git's subject (`%s`): the first paragraph on one line
    message: str       # the whole message, stripped

    @property
    def first_line(self) -> str:
        lines = self.message.splitlines()
        return lines[0] if lines else ""

    @property
    def trailers(self) -> dict[str, str]:
        """The `Promptctl-Key: value` lines a deploy commit records after its subject."""
        lines = self.message.splitlines()[1:]
        return dict(ln.split(": ", 1) for ln in lines if ln.startswith("Promptctl-") and ": " in ln)


def parse_log(out: str) -> list[LogEntry]:
    """The entries of a `git log --format=LOG_FORMAT` listing, in its order."""
    return [entry for record in out.split(_END) if (entry := _log_entry(record)) is not None]


def parse_releases(out: str, tag_format: str, name: str | None = None) -> list[Release]:
    """The releases (of one prompt, or all) in a `git for-each-ref --format=REF_FORMAT`
    listing; refs that are not release tags are skipped."""
    found = []
    for record in out.split(_END):
        fields = record.lstrip("\n").split(_SEP)
        if len(fields) != _REF_FIELDS:
            continue
        release = _release_from_ref(fields, tag_format)
        if release and (name is None or release.name == name):
            found.append(release)
    return found


def release_subject_grep(name: str | None = None) -> str:
    """A `git log -E --grep` that keeps at least the `release NAME VERSION` commits (of one
    prompt): git filters the log, Python no longer reads every commit's subject."""
    who = "[^ ]+" if name is None else re.sub(r"([][.*+?(){}|^$\\])", r"\\\1", name)
    return f"^release {who} [0-9]"


def release_subjects(subjects: list[str]) -> list[tuple[str, str]]:
    """(name, version) of `release NAME VERSION[: message]` commit subjects (bump writes them)."""
    from .versions import SEMVER_PATTERN
    pattern = re.compile(rf"^release (\S+) ({SEMVER_PATTERN})(?::|$)")
    return [(m[1], m[2]) for m in map(pattern.match, subjects) if m]


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


def _log_entry(record: str) -> LogEntry | None:
    fields = record.lstrip("\n").split(_SEP, _LOG_FIELDS - 1)
    if len(fields) != _LOG_FIELDS:
        return None     # the newline after the last record
    commit, short, author, date, committed, subject, message = fields
    return LogEntry(commit, short, author, date, int(committed), subject, message.strip())
