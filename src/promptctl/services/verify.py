"""`promptctl verify`: every release tag is annotated and holds its recorded digest;
release.yaml's and bundles' pins match the tags; release commits have their tags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..collect import fewer_collections
from ..errors import PromptctlError, ReleaseError
from ..model import Release
from .project import Project, load_release, preload_releases

DEFAULT_BUNDLE = "release.lock.json"   # where `promptctl bundle` writes without -o


@dataclass
class Finding:
    tag: str
    problem: str

    def as_dict(self) -> dict:
        return {"tag": self.tag, "problem": self.problem}


@dataclass
class VerifyReport:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)    # worth knowing, not a failure


def verify(project: Project, bundles: list[Path] | None = None, *, require_signed: bool = False,
           allowed_signers: Path | None = None) -> VerifyReport:
    """Every release tag is annotated and matches its recorded digest; so do the versions
    the manifest and the given bundles reference (by default `release.lock.json`, when
    `promptctl bundle` left one at the root)."""
    with fewer_collections():
        return _verify(project, bundles, require_signed, allowed_signers)


def _verify(project: Project, bundles: list[Path] | None, require_signed: bool,
            allowed_signers: Path | None) -> VerifyReport:
    from .bundle import verify_bundle, verify_manifest
    if bundles is None:
        default = project.root / DEFAULT_BUNDLE
        bundles = [default] if default.is_file() else []
    report = VerifyReport()
    releases = project.store.releases()
    preload_releases(project, releases)
    for release in releases:
        report.checked += 1
        problem = _tag_problem(project, release)
        if problem is None and require_signed:
            problem = _signature_problem(project, release.tag, allowed_signers)
        if problem:
            report.findings.append(Finding(release.tag, problem))
    _untagged_findings(project, report, releases)
    by_version = {(r.name, r.version): r for r in releases}
    problems = verify_manifest(project, by_version)
    for path in bundles or []:
        problems += verify_bundle(project, path, by_version)
    # "file:line" as the finding's place, so the CLI line reads like every other error
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        report.findings.append(Finding(where, str(p).removeprefix(f"{where}: ")))
    return report


def _signature_problem(project: Project, tag: str, allowed_signers: Path | None) -> str | None:
    problem = project.store.verify_signature(tag, allowed_signers)
    if problem == "not signed":
        return "not signed: release it with `promptctl bump --sign`"
    return problem


def _untagged_findings(project: Project, report: VerifyReport, releases: list[Release]) -> None:
    """A release commit without its tag is a release that half happened."""
    from .recovery import untagged_releases

    for found in untagged_releases(project, listed=releases):
        where = f"commit {found.commit[:8]}"
        if found.tagged_on is None:
            report.findings.append(Finding(where, f"'release {found.name} {found.version}' has no "
                                                  "tag: fetch the tags (git fetch --tags); if it has "
                                                  "none anywhere, a bump was interrupted: run "
                                                  "`promptctl doctor`"))
        else:
            report.notes.append(Finding(where, f"'release {found.name} {found.version}' has no tag; "
                                               f"that version was tagged on {found.tagged_on[:8]}"))


def _tag_problem(project: Project, release: Release) -> str | None:
    if not release.annotated:
        return "lightweight tag: releases must be annotated tags made by `promptctl bump`"
    if release.digest is None:
        return "annotated tag without a Prompt-Digest: not made by `promptctl bump`"
    try:
        load_release(project, release)
    except ReleaseError:
        return "content does not match the recorded digest: the tag was moved or rewritten"
    except PromptctlError as exc:
        return f"content at the tag is not a valid prompt: {exc.message}"
    return None
