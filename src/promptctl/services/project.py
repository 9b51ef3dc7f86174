"""A prompt repo opened for a command: its root, config, working tree and git store."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..config import find_root, load_config
from ..errors import NotFoundError, ReleaseError
from ..model import Config, PromptContent, Release
from ..prompt_files import load_prompt, prompt_dir
from ..sources import WorkingTree
from ..versions import is_partial_version, looks_like_version

WORKING = "working"


@dataclass
class Project:
    root: Path
    config: Config
    # releases loaded in this command, by (commit, name): verify reads a version for its
    # tag, the manifest and each bundle, and must not load it three times
    loaded: dict = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def store(self):
        from ..store import GitStore  # GitPython only where git is needed
        return GitStore(self.root, self.config.tag_format, self.config.notes_ref)

    @cached_property
    def working(self) -> WorkingTree:
        return WorkingTree(self.root, self.config.prompts_dir)

    def path(self, rel: str) -> Path:
        return self.root / rel

    def prompt_path(self, name: str) -> str:
        return prompt_dir(self.config, name)


def open_project(directory: Path | str = ".") -> Project:
    root = find_root(Path(directory))
    project = Project(root=root, config=load_config(WorkingTree(root)))
    if (root / project.config.state_dir / "journal.json").exists():
        from .recovery import recover_if_pending   # a write was interrupted: repair it first

        recover_if_pending(project)
    return project


def split_ref(ref: str) -> tuple[str, str | None]:
    """`name@1.2.0` → ('name', '1.2.0'); `name` → ('name', None)."""
    name, _, version = ref.partition("@")
    return name, (version or None)


def load_working(project: Project, name: str) -> PromptContent:
    try:
        return load_prompt(project.working, project.config, name)
    except NotFoundError as exc:
        if exc.message != f"prompt {name!r} not found":
            raise
        guess = _closest_prompt(project, name)
        if guess is None:
            raise
        raise NotFoundError(exc.message, file=exc.file, fix=f"did you mean {guess!r}?") from exc


def _closest_prompt(project: Project, name: str) -> str | None:
    from ..prompt_files import list_prompt_names
    from ..wording import did_you_mean
    return did_you_mean(name, list_prompt_names(project.root, project.config))


def load_release(project: Project, release: Release) -> PromptContent:
    """A release's content read from git objects, proven equal to its recorded digest."""
    key = (release.commit, release.name)
    if key not in project.loaded:
        project.loaded[key] = load_prompt(project.store.source_at(release.commit), project.config,
                                          release.name)
    content = project.loaded[key]
    if release.digest and content.digest != release.digest:
        raise ReleaseError(f"tag {release.tag} does not match its recorded digest",
                           fix="the tag was moved or rewritten; run `promptctl verify`")
    return content


def preload_releases(project: Project, releases: list[Release]) -> None:
    """Read the prompt folders of many releases in one batch before loading them one by one."""
    project.store.preload([(r.commit, prompt_dir(project.config, r.name)) for r in releases
                           if r.commit], base=project.config.prompts_dir)


def load_version(project: Project, name: str, version: str | None) -> PromptContent:
    """Content of `name` at a version, `working` (None) or any git ref."""
    if version in (None, WORKING):
        return load_working(project, name)
    bare = version.removeprefix("v")
    releases = project.store.releases(name)
    for release in releases:
        if release.version == bare:
            return load_release(project, release)
    if not releases and not (project.root / project.prompt_path(name)).is_dir():
        guess = _closest_prompt(project, name)   # a misspelled name, not a version problem
        if guess is not None:
            raise NotFoundError(f"prompt {name!r} not found", fix=f"did you mean {guess!r}?")
    guess = _closest_version(bare, [r.version for r in releases])
    if looks_like_version(bare) or (guess and is_partial_version(bare)):
        fix = (f"did you mean {guess}?" if guess else
               project.store.release_fix(name, project.config.notes_ref))
        raise NotFoundError(f"{name} has no release {bare}", fix=fix)
    return load_prompt(project.store.source_at(version), project.config, name)


def _closest_version(text: str, versions: list[str]) -> str | None:
    """`1.0` means 1.0.0 to a reader; otherwise the nearest spelling among the releases."""
    if is_partial_version(text):
        padded = ".".join((text.split(".") + ["0", "0"])[:3])
        if padded in versions:
            return padded
        from ..versions import latest
        same = [v for v in versions if v.startswith(text + ".")]
        if same:
            return latest(same)
    from ..wording import did_you_mean
    return did_you_mean(text, versions)


def latest_release(project: Project, name: str) -> Release | None:
    from ..versions import latest
    releases = project.store.releases(name)
    top = latest([r.version for r in releases])
    return next((r for r in releases if r.version == top), None)


