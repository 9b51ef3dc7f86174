"""The repo's own Python modules that a suite or prompt names (`python:mod:fn` providers,
`type: python` scorers), found as files, so a change to them is seen like a template change:
in the response cache key and in `eval --changed-since`."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable


def module_of(spec: str) -> str | None:
    """`python:pkg.mod:fn` or `pkg.mod:fn` → `pkg.mod`."""
    spec = spec.removeprefix("python:")
    module, sep, func = spec.partition(":")
    return module if module and sep and func else None


def module_files(root: Path, module: str) -> list[str]:
    """Repo-relative files of `module` and the packages above it; [] when installed elsewhere."""
    parts = module.split(".")
    found = []
    for depth in range(1, len(parts)):
        init = Path(*parts[:depth], "__init__.py")
        if (root / init).is_file():
            found.append(init.as_posix())
    for candidate in (Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")):
        if (root / candidate).is_file():
            found.append(candidate.as_posix())
            break
    return found


def referenced_files(root: Path, specs: Iterable[str | None]) -> list[str]:
    files: set[str] = set()
    for spec in specs:
        module = module_of(spec) if spec else None
        if module:
            files.update(module_files(root, module))
    return sorted(files)


def source_digest(root: Path, files: list[str]) -> str:
    """sha256 over the files' paths and contents; "" when there are none."""
    if not files:
        return ""
    outer = hashlib.sha256()
    for rel in files:
        outer.update(rel.encode("utf-8") + b"\0")
        outer.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return "sha256:" + outer.hexdigest()


def suite_specs(suite, provider: str | None) -> list[str]:
    """The module specs a run uses: its provider and its python scorers' functions."""
    specs = [provider] if provider and provider.startswith("python:") else []
    specs += [str(m.params.get("function", "")) for m in suite.metrics if m.type == "python"]
    return specs
