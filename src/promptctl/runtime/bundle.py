"""The bundle (`release.lock.json`): one env's manifest plus every version it references.

A bundle is what a deploy ships when the app should not need git: the runtime reads it
with no GitPython and no subprocess. Each version carries its files (relative to the
prompts folder) and its digest, which the reader recomputes and compares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import ValidationError, Problem
from ..manifest import Manifest
from ..model import Config, PromptContent
from ..prompt_files import load_prompt
from ..sources import DictSource

FORMAT = "promptctl-bundle/1"


@dataclass(frozen=True)
class Bundle:
    env: str
    manifest: Manifest
    manifest_commit: str
    contents: dict[tuple[str, str], PromptContent]   # (name, version) -> content
    created: str = ""


def referenced_versions(manifest: Manifest, env: str) -> list[tuple[str, str]]:
    """Every (name, version) the env serves or may serve: active, canaries, segments."""
    found: list[tuple[str, str]] = []
    for name, entry in sorted(manifest.environments.get(env, {}).items()):
        for target in (entry, *entry.segments.values()):
            found.append((name, target.active))
            if target.canary is not None:
                found.append((name, target.canary.version))
    return list(dict.fromkeys(found))


def pins(manifest: Manifest, env: str) -> dict[tuple[str, str], str]:
    """(name, version) -> the digest release.yaml pins for it in env (unpinned: absent)."""
    found: dict[tuple[str, str], str] = {}
    for name, entry in manifest.environments.get(env, {}).items():
        for target in (entry, *entry.segments.values()):
            if target.digest:
                found[(name, target.active)] = target.digest
            if target.canary is not None and target.canary.digest:
                found[(name, target.canary.version)] = target.canary.digest
    return found


def pin_problems(manifest: Manifest, env: str, digests: dict[tuple[str, str], str]) -> list[str]:
    """Each pinned version whose content (as `digests` has it) hashes to something else."""
    return [f"{name}@{version}: content hashes to {digests[(name, version)]}, release.yaml "
            f"pins {pinned}" for (name, version), pinned in sorted(pins(manifest, env).items())
            if (name, version) in digests and digests[(name, version)] != pinned]


def with_pins(manifest: Manifest, env: str, digests: dict[tuple[str, str], str]) -> Manifest:
    """The env's entries with every active and canary version pinned to its digest."""
    def pin(target):
        canary = target.canary
        if canary is not None:
            canary = canary.model_copy(update={"digest": digests.get((name, canary.version))})
        return target.model_copy(update={"digest": digests.get((name, target.active)),
                                         "canary": canary})
    entries = {}
    for name, entry in manifest.environments.get(env, {}).items():
        segments = {seg: pin(t) for seg, t in entry.segments.items()}
        entries[name] = pin(entry).model_copy(update={"segments": segments})
    return Manifest(environments={env: entries})


def bundle_data(env: str, manifest: Manifest, manifest_commit: str, created: str,
                contents: dict[tuple[str, str], tuple[PromptContent, str]],
                prompts_dir: str) -> dict[str, Any]:
    """The JSON document; `contents` maps (name, version) to (content, tag)."""
    digests = {key: content.digest for key, (content, _) in contents.items()}
    only_env = with_pins(manifest, env, digests)   # bundles always record pins
    versions = []
    for (name, version), (content, tag) in sorted(contents.items()):
        versions.append({
            "name": name, "version": version, "tag": tag, "digest": content.digest,
            "model": content.spec.model.model_dump(mode="json"),
            "files": dict(sorted(content.files.items())),
        })
    return {"format": FORMAT, "env": env, "manifest_commit": manifest_commit, "created": created,
            "prompts_dir": prompts_dir, "manifest": only_env.model_dump(mode="json", exclude_none=True),
            "versions": versions}


def parse_bundle(text: str, file: str, env: str | None = None) -> Bundle:
    """Read and verify a bundle: every digest is recomputed from the files it carries."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _invalid(file, "(document)", f"not JSON: {exc}") from exc
    except RecursionError as exc:   # a hostile file must be a finding, not a crash in the app
        raise _invalid(file, "(document)", "not JSON promptctl wrote: nested too deeply") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _invalid(file, "format", f"expected {FORMAT!r}", fix="rebuild it with `promptctl bundle`")
    if env is not None and data.get("env") != env:
        raise _invalid(file, "env", f"bundle is for {data.get('env')!r}, not {env!r}",
                       fix=f"run `promptctl bundle --env {env}`")
    from pydantic import ValidationError as PydanticError

    try:
        manifest = Manifest.model_validate(data.get("manifest") or {})
    except PydanticError as exc:
        raise _invalid(file, "manifest", str(exc).splitlines()[0]) from exc
    prompts_dir = data.get("prompts_dir") or "prompts"
    config = Config(prompts_dir=prompts_dir)
    contents = {}
    versions = data.get("versions") or []
    if not isinstance(versions, list):
        raise _invalid(file, "versions", "expected a list", fix="rebuild it with `promptctl bundle`")
    for i, item in enumerate(versions):
        _check_item(item, file, i)
        contents[(item["name"], item["version"])] = _content(item, config, file, i)
    bundle = Bundle(env=data["env"], manifest=manifest, manifest_commit=data.get("manifest_commit", ""),
                    contents=contents, created=data.get("created", ""))
    missing = [f"{n}@{v}" for n, v in referenced_versions(manifest, bundle.env) if (n, v) not in contents]
    if missing:
        raise _invalid(file, "versions", f"missing {', '.join(missing)}", fix="rebuild the bundle")
    swapped = pin_problems(manifest, bundle.env, {k: c.digest for k, c in contents.items()})
    if swapped:
        raise _invalid(file, "manifest", f"{swapped[0]}: a pinned version was swapped",
                       fix="rebuild the bundle from the tags with `promptctl bundle`")
    return bundle


_ITEM_FIELDS = {"name": str, "version": str, "digest": str, "files": dict}


def _check_item(item: Any, file: str, index: int) -> None:
    """A hand-edited or truncated bundle is a finding naming the field, never a KeyError."""
    if not isinstance(item, dict):
        raise _invalid(file, f"versions.{index}", "expected a mapping", fix="rebuild the bundle")
    for key, kind in _ITEM_FIELDS.items():
        if not isinstance(item.get(key), kind):
            raise _invalid(file, f"versions.{index}.{key}", f"missing or not a {kind.__name__}",
                           fix="rebuild the bundle; do not edit it by hand")


def _content(item: dict, config: Config, file: str, index: int) -> PromptContent:
    files = {f"{config.prompts_dir}/{path}": text for path, text in item["files"].items()}
    content = load_prompt(DictSource(files), config, item["name"])
    if content.digest != item["digest"]:
        raise _invalid(file, f"versions.{index}.digest",
                       f"{item['name']}@{item['version']}: files hash to {content.digest}, "
                       f"bundle says {item['digest']}", fix="rebuild the bundle; do not edit it by hand")
    return content


def _invalid(file: str, field: str, message: str, fix: str | None = None) -> ValidationError:
    return ValidationError(problems=[Problem(file, message, field=field)], fix=fix)
