"""release.yaml as the working tree has it, parsed once per text: the reader every
command that looks at the manifest shares (deploy writes, status, canary, drift, eval)."""

from __future__ import annotations

from ..manifest import Manifest, parse_manifest
from .project import Project

EMPTY = "environments: {}\n"


def read_manifest(project: Project) -> Manifest:
    """The working release.yaml (an empty one when missing), parsed once per text."""
    return manifest_of(project, project.working.read(project.config.manifest) or EMPTY)


def manifest_of(project: Project, text: str) -> Manifest:
    """`text` as release.yaml; a command that reads the same text again (analyze, then the
    edit that applies its decision) reuses the model. Only the latest text is kept, so a
    long `canary watch` does not pile up manifests."""
    rel = project.config.manifest
    cached = project.loaded.get(("manifest", rel))
    if cached is not None and cached[0] == text:
        return cached[1]
    manifest = parse_manifest(text, rel)
    project.loaded[("manifest", rel)] = (text, manifest)
    return manifest
