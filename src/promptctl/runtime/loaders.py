"""Where a registry's state comes from: the repo's release.yaml (or a URL) with content from
release tags, or one bundle file or URL. Each loader turns the manifest text into a route
table, compiling only versions it has not compiled before.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import NotFoundError, PromptctlError, ValidationError
from ..manifest import Manifest, parse_manifest
from .route_table import RouteState, CompiledVersion, build_routes, compile_version
from .watch import DEFAULT_FETCH_TIMEOUT
from .watch import watch as _watch


class GitLoader:
    """Manifest from the repo's release.yaml (or a URL); content from release tags only."""

    def __init__(self, root: Path, manifest: str | os.PathLike | None,
                 timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        from ..config import load_config
        from ..sources import WorkingTree
        from ..store import GitStore   # the git path is the only one importing GitPython

        self.root = root
        self.config = load_config(WorkingTree(root))
        self.store = GitStore(root, self.config.tag_format)
        self.watch = _watch(manifest or root / self.config.manifest, timeout=timeout)
        self._configs: dict = {}

    def committed(self, text: str, new: "RouteState", old: "RouteState") -> bool:
        """The repo's own release.yaml as committed at HEAD (hand edits are not, yet)."""
        try:
            relative = Path(self.watch.path).resolve().relative_to(self.root.resolve())
        except (TypeError, ValueError):   # a URL, or a file outside the repo
            return False
        try:
            at_head = self.store.run_git("show", f"HEAD:./{relative.as_posix()}")
        except PromptctlError:
            return False
        return at_head.rstrip("\n") == text.rstrip("\n")

    def commit_fix(self, env: str) -> str:
        return "if the change is meant, commit release.yaml; a committed change is accepted"

    def after_fork(self) -> None:
        self.store.after_fork()
        self.watch.after_fork()

    def load(self, text: str, env: str, cache: dict) -> RouteState:
        from ..collect import fewer_collections

        with fewer_collections():
            return self._load(text, env, cache)

    def _load(self, text: str, env: str, cache: dict) -> RouteState:
        from ..prompt_files import load_prompt

        manifest = parse_manifest(text, str(self.watch.path))
        known = _by_version(cache)
        wanted = [nv for nv in _referenced(manifest, env) if nv not in known]
        releases = {(r.name, r.version): r for r in self.store.releases()} if wanted else {}
        self._preload([releases[nv] for nv in wanted if nv in releases])
        for name, version in wanted:
            release = releases.get((name, version))
            if release is None:
                raise NotFoundError(f"{name} {version} has no release tag", file=str(self.watch.path),
                                    fix=self._missing_fix(name))
            source = self.store.source_at(release.commit)
            content = load_prompt(source, self._config_at(source), name)
            if content.digest != release.digest:   # None: a lightweight or foreign tag, refused too
                recorded = release.digest or "no digest (not a tag made by `promptctl bump`)"
                raise ValidationError(f"{release.tag}: content hashes to {content.digest}, "
                                      f"the tag records {recorded}", fix="run `promptctl verify`")
            cache[(name, version, content.digest)] = compile_version(content, version)
        self.store.forget()     # the compiled versions are kept; their files are not needed
        versions = _by_version(cache)
        _check_pins(manifest, env, versions, str(self.watch.path))
        return RouteState(manifest, build_routes(manifest, env, versions), self.store.head())

    def _missing_fix(self, name: str) -> str:
        # a tag that exists upstream but was not fetched must not be released again
        if self.store.unfetched(name, self.config.notes_ref):
            return "run git fetch --tags (or promptctl sync): this clone may lack release tags"
        return f"release it with `promptctl bump {name}`"

    def _preload(self, releases: list) -> None:
        """Every wanted version's folder in a few batched git reads, not file by file."""
        base = self.config.prompts_dir
        self.store.preload([(r.commit, f"{base}/{r.name}") for r in releases], base=base)

    def _config_at(self, source: Any) -> Any:
        """promptctl.yaml as released; a first bump may predate committing it (bump commits
        only the prompt's files), so fall back to the repo's current one, as the CLI does."""
        from ..config import CONFIG_FILE, load_config

        text = source.read(CONFIG_FILE)
        if text is None:
            return self.config
        if text not in self._configs:   # one commit per release: parse each distinct text once
            self._configs[text] = load_config(source)
        return self._configs[text]


class BundleLoader:
    def __init__(self, location: str | os.PathLike, timeout: float = DEFAULT_FETCH_TIMEOUT) -> None:
        self.watch = _watch(location, timeout=timeout)

    def committed(self, text: str, new: "RouteState", old: "RouteState") -> bool:
        # A bundle is built from a committed manifest: one from a new commit may drop an entry
        # on purpose; an env with nothing in it is never what a serving app should switch to.
        return bool(new.routes) and bool(new.origin) and new.origin != old.origin

    def commit_fix(self, env: str) -> str:
        return f"publish a bundle built by `promptctl bundle --env {env}` from a committed manifest"

    def after_fork(self) -> None:
        self.watch.after_fork()

    def load(self, text: str, env: str, cache: dict) -> RouteState:
        from .bundle import parse_bundle
        from ..collect import fewer_collections

        with fewer_collections():
            bundle = parse_bundle(text, str(self.watch.path), env)
        versions = {}
        for (name, version), content in bundle.contents.items():
            key = (name, version, content.digest)
            if key not in cache:
                cache[key] = compile_version(content, version)
            versions[(name, version)] = cache[key]
        return RouteState(bundle.manifest, build_routes(bundle.manifest, env, versions), bundle.manifest_commit)


def _check_pins(manifest: Manifest, env: str, versions: Mapping[tuple[str, str], CompiledVersion],
                where: str) -> None:
    """A tag re-created on other content must not be served: release.yaml pins each digest."""
    from .bundle import pin_problems

    swapped = pin_problems(manifest, env, {k: v.digest for k, v in versions.items()})
    if swapped:
        raise ValidationError(f"{swapped[0]}: its tag was re-created", file=where,
                              fix="run `promptctl verify`; release the new content as a new version")


def _referenced(manifest: Manifest, env: str) -> list[tuple[str, str]]:
    from .bundle import referenced_versions

    return referenced_versions(manifest, env)


def _by_version(cache: dict) -> dict:
    return {(name, version): v for (name, version, _), v in cache.items()}
