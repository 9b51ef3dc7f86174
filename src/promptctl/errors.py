"""One exception tree for promptctl; each class carries the exit code the CLI uses.

Exit codes (documented in the README): 0 ok, 1 a check or gate failed,
2 usage or bad input (including refused operations), 3 an external service failed.
"""

from __future__ import annotations


class PromptctlError(Exception):
    """Base of every error promptctl raises on purpose."""

    exit_code = 2
    default_message = "promptctl failed"

    def __init__(self, message: str | None = None, *, file: str | None = None,
                 field: str | None = None, fix: str | None = None) -> None:
        self.message = message or self.default_message
        self.file = file
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`file: field: message (fix)`: the single line the CLI prints."""
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join([*parts, self.message])
        return f"{text} ({self.fix})" if self.fix else text


class UsageError(PromptctlError):
    """Arguments that cannot work: unknown prompt, bad version, bad flag value."""


class ValidationError(PromptctlError):
    """A file on disk does not match its schema; `problems` lists every finding."""

    def __init__(self, message: str | None = None, *, problems: list["Problem"] | None = None,
                 **kw) -> None:
        self.problems = problems or []
        if message is None and self.problems:
            first = self.problems[0]
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            message = f"{first}{more}"
        super().__init__(message, **kw)


class NotFoundError(PromptctlError):
    """A prompt, version, tag, file or environment that does not exist."""


class ReleaseError(PromptctlError):
    """A release that bump refuses: nothing changed, version exists or goes backwards."""


class RepoError(PromptctlError):
    """Not inside a prompt repo, or git itself refused."""


class ManifestError(PromptctlError):
    """release.yaml is invalid or an edit of it is refused."""


class RenderError(PromptctlError):
    """A template failed to render: missing input, sandbox violation."""


class ProviderError(PromptctlError):
    """A model provider failed after retries."""

    exit_code = 3


class FetchError(PromptctlError):
    """A source the runtime reads (a bundle or manifest URL, a file) could not be read."""

    exit_code = 3


class CheckFailed(PromptctlError):
    """`check`, `verify`, or an eval gate found problems; exit 1."""

    exit_code = 1


class Problem:
    """One finding of `check`: where, which field, what is wrong."""

    __slots__ = ("file", "line", "field", "message")

    def __init__(self, file: str, message: str, *, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self!s})"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class MetricSourceError(PromptctlError):
    """The canary's metric source (call log, Prometheus) could not be read."""

    exit_code = 3


class PublishError(PromptctlError):
    """A publish target (a path or a command) failed; the manifest commit stands. Exit 3."""

    exit_code = 3
