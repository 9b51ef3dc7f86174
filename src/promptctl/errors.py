"""One exception tree for promptctl; each class carries the exit code the CLI uses.

Exit codes (documented in the README): 0 ok, 1 a check or gate failed,
2 usage or bad input (including refused operations), 3 an external service failed.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self


class PromptctlError(Exception):
    """Base of every error promptctl raises on purpose.

    An error is data: its class names the exit code and a default message, its fields say
    where and how to fix. A layer that knows more never edits a caught error; it raises a
    new one, usually `raise exc.reworded(file=...) from exc`.
    """

    exit_code: ClassVar[int] = 2
    default_message: ClassVar[str] = "promptctl failed"

    def __init__(self, message: str | None = None, *, file: str | None = None,
                 field: str | None = None, fix: str | None = None) -> None:
        self.message = message or self.default_message
        self.file = file
        self.field = field
        self.fix = fix
        super().__init__(self.one_line())

    def data(self) -> dict[str, Any]:
        """The fields this error was built from (the keywords its class accepts)."""
        return {"message": self.message, "file": self.file, "field": self.field, "fix": self.fix}

    def reworded(self, **changes: Any) -> Self:
        """A new error of the same class with some fields replaced: how a layer that knows
        the file or the flag behind a value says so (`raise exc.reworded(...) from exc`)."""
        return type(self)(**{**self.data(), **changes})

    def one_line(self) -> str:
        """`file: field: message (fix)`: the single line the CLI prints."""
        parts = [p for p in (self.file, self.field) if p]
        text = ": ".join([*parts, self.message])
        return f"{text} ({self.fix})" if self.fix else text


class UsageError(PromptctlError):
    """Arguments that cannot work: unknown prompt, bad version, bad flag value."""

    exit_code: ClassVar[int] = 2


class ValidationError(PromptctlError):
    """A file on disk does not match its schema; `problems` lists every finding."""

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str | None = None, *, problems: list["Problem"] | None = None,
                 **kw) -> None:
        self.problems = problems or []
        if message is None and self.problems:
            first = self.problems[0]
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            message = f"{first}{more}"
        super().__init__(message, **kw)

    def data(self) -> dict[str, Any]:
        return {**super().data(), "problems": list(self.problems)}


class NotFoundError(PromptctlError):
    """A prompt, version, tag, file or environment that does not exist."""

    exit_code: ClassVar[int] = 2


class ReleaseError(PromptctlError):
    """A release that bump refuses: nothing changed, version exists or goes backwards."""

    exit_code: ClassVar[int] = 2


class RepoError(PromptctlError):
    """Not inside a prompt repo, or git itself refused."""

    exit_code: ClassVar[int] = 2


class ManifestError(PromptctlError):
    """release.yaml is invalid or an edit of it is refused."""

    exit_code: ClassVar[int] = 2


class RenderError(PromptctlError):
    """A template failed to render: missing input, sandbox violation."""

    exit_code: ClassVar[int] = 2


class ProviderError(PromptctlError):
    """A model provider failed after retries."""

    exit_code: ClassVar[int] = 3


class FetchError(PromptctlError):
    """A source the runtime reads (a bundle or manifest URL, a file) could not be read."""

    exit_code: ClassVar[int] = 3


class CheckFailed(PromptctlError):
    """`check`, `verify`, or an eval gate found problems; exit 1."""

    exit_code: ClassVar[int] = 1


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

    exit_code: ClassVar[int] = 3


class AfterCommitError(PromptctlError):
    """A step after a deploy change was committed failed; the commit stands. Exit 3.

    `change` is that committed change, so the caller can still report what was applied."""

    exit_code: ClassVar[int] = 3

    def __init__(self, message: str | None = None, *, change: Any = None, **kw: Any) -> None:
        self.change = change
        super().__init__(message, **kw)

    def data(self) -> dict[str, Any]:
        return {**super().data(), "change": self.change}


class PublishError(AfterCommitError):
    """A publish target (a path or a command) failed; the manifest commit stands. Exit 3."""

    exit_code: ClassVar[int] = 3


class WebhookError(AfterCommitError):
    """The canary's webhook refused or could not be reached, after its change was committed."""

    exit_code: ClassVar[int] = 3
