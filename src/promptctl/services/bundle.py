"""Services of bundles and pins: write an env's bundle, verify a bundle or release.yaml
against the release tags (`bundle`, `bundle --check`, and the pins half of `verify`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import CheckFailed, NotFoundError, Problem, PromptctlError, ReleaseError
from ..manifest import Manifest, parse_manifest
from ..manifest_io import write_atomic
from ..model import Release
from .project import Project, load_release, preload_releases
from .working_manifest import EMPTY, read_manifest


def bundle(project: Project, env: str, output: Path) -> dict[str, Any]:
    """Write one env's committed manifest and every version it references to `output`."""
    from ..collect import fewer_collections

    with fewer_collections():
        return _bundle(project, env, output)


def _bundle(project: Project, env: str, output: Path) -> dict[str, Any]:
    from datetime import datetime, timezone

    from ..runtime.bundle import bundle_data, referenced_versions

    store = project.store
    rel = project.config.manifest
    commit = store.head()
    manifest = parse_manifest(store.source_at(commit).read(rel) or EMPTY, f"{rel}@HEAD")
    if env not in manifest.environments:
        raise NotFoundError(f"no environment {env!r} in the committed {rel}",
                            fix="promote something to it first")
    releases = release_map(project)
    wanted = referenced_versions(manifest, env)
    preload_releases(project, [releases[k] for k in wanted if k in releases])
    contents = {}
    for name, version in wanted:
        release = releases.get((name, version)) or store.release(name, version)
        contents[(name, version)] = (load_release(project, release), release.tag)
    _refuse_swapped(manifest, env, {k: c.digest for k, (c, _) in contents.items()}, rel)
    created = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    data = bundle_data(env, manifest, commit, created, contents, project.config.prompts_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return data


def _refuse_swapped(manifest: Manifest, env: str, digests: dict, rel: str) -> None:
    from ..runtime.bundle import pin_problems

    swapped = pin_problems(manifest, env, digests)
    if swapped:
        raise ReleaseError(f"{rel}: {env}: {swapped[0]}: its tag was re-created on other content",
                           fix="run `promptctl verify`; release the new content as a new version")


def verify_bundle(project: Project, path: Path, releases: dict | None = None) -> list[Problem]:
    """A bundle's own digests, and each version against its tag in this repo."""
    from ..runtime.bundle import parse_bundle
    from ..errors import ValidationError

    file = str(path)
    try:
        parsed = parse_bundle(path.read_text(encoding="utf-8"), file)
    except FileNotFoundError:
        return [Problem(file, "bundle not found")]
    except ValidationError as exc:
        return exc.problems or [Problem(file, exc.message)]
    releases = releases if releases is not None else release_map(project)
    preload_releases(project, [releases[k] for k in parsed.contents if k in releases])
    problems = []
    for (name, version), content in parsed.contents.items():
        problems += _version_problems(project, releases, name, version, content.digest, file)
    return problems


def release_map(project: Project) -> dict[tuple[str, str], Release]:
    """(name, version) -> release, from one ref listing (not one per referenced version)."""
    return {(r.name, r.version): r for r in project.store.releases()}


def verify_manifest(project: Project, releases: dict | None = None) -> list[Problem]:
    """Every version release.yaml references has a tag whose content matches its digest."""
    from ..runtime.bundle import pins, referenced_versions

    rel = project.config.manifest
    try:
        manifest = read_manifest(project)
    except PromptctlError as exc:
        return getattr(exc, "problems", None) or [Problem(rel, exc.message)]
    releases = releases if releases is not None else release_map(project)
    wanted = {env: referenced_versions(manifest, env) for env in manifest.environments}
    preload_releases(project, [releases[k] for refs in wanted.values() for k in refs if k in releases])
    problems = []
    for env, refs in wanted.items():
        pinned = pins(manifest, env)
        for name, version in refs:
            problems += _version_problems(project, releases, name, version,
                                          pinned.get((name, version)), f"{rel}: {env}")
    return problems


def _version_problems(project: Project, releases: dict[tuple[str, str], Release], name: str,
                      version: str, digest: str | None, where: str) -> list[Problem]:
    try:
        release = releases.get((name, version))
        if release is None:     # its own not-found error (and name check)
            release = project.store.release(name, version)
        content = load_release(project, release)
    except PromptctlError as exc:
        return [Problem(where, exc.message, field=f"{name}@{version}")]
    if digest is not None and content.digest != digest:
        return [Problem(where, f"records digest {digest} but tag {release.tag} holds "
                               f"{content.digest}: the tag was re-created", field=f"{name}@{version}")]
    return []


def check_bundle(project: Project, path: Path) -> None:
    """verify_bundle as a gate: CheckFailed (exit 1) naming the first problem."""
    problems = verify_bundle(project, path)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise CheckFailed(f"{problems[0]}{more}")
