"""The release tag grammar: one place that formats and parses tag names and messages."""

from __future__ import annotations

import re
from functools import lru_cache

from .model import DEFAULT_TAG_FORMAT, NAME_PATTERN

DIGEST_TRAILER = "Prompt-Digest"
_SEMVER = (r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
           r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
_DIGEST_RE = re.compile(rf"^{DIGEST_TRAILER}:\s*(sha256:[0-9a-f]{{64}})\s*$", re.MULTILINE)


def format_tag(name: str, version: str, fmt: str = DEFAULT_TAG_FORMAT) -> str:
    return fmt.format(name=name, version=version)


@lru_cache(maxsize=8)
def _tag_regex(fmt: str) -> re.Pattern[str]:
    head, _, rest = fmt.partition("{name}")
    middle, _, tail = rest.partition("{version}")
    return re.compile(f"^{re.escape(head)}(?P<name>{NAME_PATTERN}){re.escape(middle)}"
                      f"(?P<version>{_SEMVER}){re.escape(tail)}$")


def parse_tag(tag: str, fmt: str = DEFAULT_TAG_FORMAT) -> tuple[str, str] | None:
    """(name, version) for a release tag of this format, else None."""
    match = _tag_regex(fmt).match(tag)
    return (match["name"], match["version"]) if match else None


def tag_prefix(fmt: str, name: str | None = None) -> str:
    """The fixed text every tag of this format (and prompt) starts with: a ref-listing filter."""
    head = fmt.split("{name}", 1)[0]
    if name is None:
        return head
    return head + name + fmt.split("{name}", 1)[1].split("{version}", 1)[0]


def format_message(name: str, version: str, digest: str, message: str) -> str:
    body = message.strip() or f"Release {name} {version}"
    return f"{name} {version}\n\n{body}\n\n{DIGEST_TRAILER}: {digest}\n"


def parse_digest(message: str) -> str | None:
    match = _DIGEST_RE.search(message or "")
    return match[1] if match else None


def parse_body(message: str) -> str:
    """The human part of a tag message: without the title line and the trailer."""
    lines = (message or "").strip().splitlines()
    body = [ln for ln in lines[1:] if not ln.startswith(f"{DIGEST_TRAILER}:")]
    return "\n".join(body).strip()
