"""Semver rules for prompts: bump levels, the next version, and the suggested level."""

from __future__ import annotations

import enum
import re
from functools import lru_cache

import semver

from .errors import ReleaseError, UsageError


class BumpKind(enum.IntEnum):
    """How much a change matters; ordered so max() picks the strongest."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# A semantic version inside larger text (tag names, commit subjects); semver's own grammar.
SEMVER_PATTERN = (r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
                  r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
SEMVER_HINT = "write it as MAJOR.MINOR.PATCH, e.g. 2.1.0"


def version_field(value: object) -> str:
    """A version as a file holds it (release.yaml `active:`); ValueError for a pydantic
    validator. YAML reads `active: 2.0` as a float, so numbers are taken as their text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a version string, got {type(value).__name__}")
    try:
        semver.Version.parse(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a semantic version ({SEMVER_HINT})") from exc
    return value


def looks_like_version(text: str) -> bool:
    """Shaped like MAJOR.MINOR.PATCH[-pre][+build]: meant as a version, even if no such
    release exists (so the error is "no release", not "no environment")."""
    head = text.split("-", 1)[0].split("+", 1)[0]
    return head.count(".") == 2 and head.replace(".", "").isdigit()


def is_partial_version(text: str) -> bool:
    """`1` or `1.0`: a version with parts left out."""
    return text.count(".") < 2 and text.replace(".", "").isdigit() and not text.endswith(".")


def parse_version(text: str) -> semver.Version:
    try:
        return semver.Version.parse(text.removeprefix("v"))
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a semantic version",
                         fix="write it as MAJOR.MINOR.PATCH, e.g. 2.1.0 or 2.1.0-rc.1") from exc


# Versions repeat across prompts (every prompt has a 1.0.0): parse each text once.
_parsed = lru_cache(maxsize=65536)(semver.Version.parse)


def sort_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=_parsed)


def latest(versions: list[str], *, stable_only: bool = False) -> str | None:
    pool = [v for v in versions if not (stable_only and _parsed(v).prerelease)]
    return max(pool, key=_parsed) if pool else None


def next_version(existing: list[str], level: BumpKind | str, pre: str | None = None) -> str:
    """The version a bump creates. `level` is a BumpKind or an explicit version."""
    if isinstance(level, str):
        wanted = str(parse_version(level))
        if pre and "-" in wanted.split("+", 1)[0]:
            raise UsageError(f"{wanted} is already a pre-release", field="--pre",
                             fix=f"drop --pre, or give {wanted.split('-', 1)[0]} --pre {pre}")
        if pre:     # `bump NAME 2.0.0 --pre rc` → 2.0.0-rc.N, never a silent final 2.0.0
            wanted = _next_pre(existing, wanted.split("+", 1)[0], pre)
    else:
        wanted = _on_train(existing, _bumped(latest(existing, stable_only=True), level))
        if pre:
            wanted = _next_pre(existing, wanted, pre)
    _check_allowed(existing, wanted)
    return wanted


def _on_train(existing: list[str], wanted: str) -> str:
    """After 2.0.0-rc.1, a smaller bump continues that train (2.0.0-rc.2 or 2.0.0), never
    a 1.x version below the pre-release, which _check_allowed would refuse."""
    top = latest(existing)
    if top is None:
        return wanted
    parsed = semver.Version.parse(top)
    core = parsed.finalize_version()
    if parsed.prerelease and core > semver.Version.parse(wanted):
        return str(core)
    return wanted


def _bumped(base: str | None, level: BumpKind) -> str:
    if base is None:
        return "1.0.0"
    version = semver.Version.parse(base)
    if level is BumpKind.MAJOR:
        return str(version.bump_major())
    if level is BumpKind.MINOR:
        return str(version.bump_minor())
    if level is BumpKind.PATCH:
        return str(version.bump_patch())
    raise ReleaseError("nothing to release: the change needs no new version",
                       fix="pass an explicit level (patch, minor, major) or version")


def _next_pre(existing: list[str], target: str, label: str) -> str:
    if not re.fullmatch(r"[0-9A-Za-z-]+", label):
        raise UsageError(f"pre-release label {label!r} is invalid", field="--pre",
                         fix="use letters, digits and '-', e.g. rc")
    numbers = [0]
    for version in existing:
        parsed = semver.Version.parse(version)
        head = f"{parsed.major}.{parsed.minor}.{parsed.patch}"
        parts = (parsed.prerelease or "").split(".")
        if head == target and parts[0] == label and len(parts) == 2 and parts[1].isdigit():
            numbers.append(int(parts[1]))
    return f"{target}-{label}.{max(numbers) + 1}"


def _check_allowed(existing: list[str], wanted: str) -> None:
    if wanted in existing:
        raise ReleaseError(f"version {wanted} already exists", field="version",
                           fix="tags are immutable: release a higher version")
    top = latest(existing)
    if top and semver.Version.parse(wanted) <= semver.Version.parse(top):
        raise ReleaseError(f"version {wanted} is not greater than the latest release {top}",
                           field="version", fix="choose a version above the latest")


def parse_level(text: str) -> BumpKind | None | str:
    """'major'/'minor'/'patch' → BumpKind, 'auto' → None, anything else an explicit version."""
    lowered = text.lower()
    if lowered == "auto":
        return None
    if lowered in ("major", "minor", "patch"):
        return BumpKind[lowered.upper()]
    return str(parse_version(text))
