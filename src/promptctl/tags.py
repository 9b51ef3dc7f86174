"""The release tag grammar: one place that formats and parses tag names and messages."""

from __future__ import annotations

import re
from functools import lru_cache

from .model import DEFAULT_TAG_FORMAT, NAME_PATTERN
from .versions import SEMVER_PATTERN as _SEMVER

DIGEST_TRAILER = "Prompt-Digest"
_TRAILER_PREFIX = f"{DIGEST_TRAILER}:"
_DIGEST_RE = re.compile(rf"^{DIGEST_TRAILER}:\s*(sha256:[0-9a-f]{{64}})\s*$", re.MULTILINE)


def format_tag(name: str, version: str, fmt: str = DEFAULT_TAG_FORMAT) -> str:
    return fmt.format(name=name, version=version)


_PLACEHOLDER = re.compile(r"\{(name|version)\}")
# What git refuses in a ref name (git check-ref-format), checked on the literal parts.
BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|^[/.-]|[/.]$|\.lock(/|$)")


def check_format(fmt: str) -> str | None:
    """What is wrong with a tag_format (None when fine): bump must never make a tag it cannot read."""
    if _PLACEHOLDER.sub("", fmt).count("{") or _PLACEHOLDER.sub("", fmt).count("}"):
        return "only {name} and {version} may appear in braces"
    if fmt.count("{name}") != 1 or fmt.count("{version}") != 1:
        return "must contain {name} and {version} exactly once"
    if re.search(r"\{(name|version)\}\{(name|version)\}", fmt):
        return "put a separator between {name} and {version} (e.g. {name}/v{version})"
    sample = format_tag("support/refund", "2.1.0-rc.1+build.5", fmt)
    if BAD_REF.search(sample):
        return f"{sample!r} would not be a valid git tag name"
    return None


@lru_cache(maxsize=8)
def _tag_regex(fmt: str) -> re.Pattern[str]:
    # placeholders may come in either order (`{name}/v{version}`, `v{version}/{name}`)
    groups = {"name": f"(?P<name>{NAME_PATTERN})", "version": f"(?P<version>{_SEMVER})"}
    parts = _PLACEHOLDER.split(fmt)   # literal, placeholder, literal, placeholder, literal
    body = "".join(groups[p] if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.compile(f"^{body}$")


def parse_tag(tag: str, fmt: str = DEFAULT_TAG_FORMAT) -> tuple[str, str] | None:
    """(name, version) for a release tag of this format, else None."""
    match = _tag_regex(fmt).match(tag)
    return (match["name"], match["version"]) if match else None


def tag_prefix(fmt: str, name: str | None = None) -> str:
    """The fixed text every tag of this format (and prompt) starts with: a ref-listing filter."""
    head, first, rest = _PLACEHOLDER.split(fmt, maxsplit=1)
    if name is None or first != "name":
        return head    # a version-first format: callers filter by the parsed name
    return head + name + rest.split("{version}", 1)[0]


def ref_pattern(fmt: str, name: str | None = None) -> str:
    """A `git for-each-ref` pattern listing at least every tag of this format (and prompt).

    for-each-ref globs do not cross '/', so when the unmatched rest of a tag may hold a
    slash (a name after the version, a literal '/' after it), list the whole folder instead.
    """
    prefix = "refs/tags/" + tag_prefix(fmt, name)
    match = _PLACEHOLDER.search(fmt)   # a checked format always holds {version}
    first = match[1] if match else None
    tail = fmt.split("{version}", 1)[1]
    if prefix.endswith("/") or (name is not None and first == "name" and "/" not in tail):
        return prefix if prefix.endswith("/") else prefix + "*"
    return prefix.rsplit("/", 1)[0] + "/"


def format_message(name: str, version: str, digest: str, message: str) -> str:
    body = message.strip() or f"Release {name} {version}"
    return f"{name} {version}\n\n{body}\n\n{DIGEST_TRAILER}: {digest}\n"


def parse_digest(message: str) -> str | None:
    match = _DIGEST_RE.search(message or "")
    return match[1] if match else None


def parse_body(message: str) -> str:
    """The human part of a tag message: without the title line and the trailer."""
    lines = (message or "").strip().splitlines()
    body = [ln for ln in lines[1:] if not ln.startswith(_TRAILER_PREFIX)]
    return "\n".join(body).strip()
