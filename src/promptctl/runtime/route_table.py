"""What a registry serves from, prepared when a manifest is loaded: each version compiled
once, and a route per (prompt, segment) with its stable and canary versions, so `get`
only looks up dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from . import routing
from ..manifest import Manifest, Target
from ..model import PromptContent
from ..render import CompiledPrompt, compile_content, tool_dict
from .resolved_prompt import NO_CONTRACT, Contract


@dataclass(frozen=True, slots=True)
class CompiledVersion:
    name: str
    version: str
    digest: str
    provider: str
    model: str
    params: dict
    compiled: CompiledPrompt
    contract: Contract = NO_CONTRACT


@dataclass(frozen=True, slots=True)
class _Route:
    segment: str | None
    stable: CompiledVersion
    canary: CompiledVersion | None
    limit: int          # canary buckets: weight x 100
    salt: str
    model_pin: str | None


@dataclass(frozen=True, slots=True)
class RouteState:
    manifest: Manifest
    routes: dict
    origin: str         # commit or source the manifest came from


def compile_version(content: PromptContent, version: str) -> CompiledVersion:
    spec = content.spec
    compiled = compile_content(content, f"{content.name}@{version}", lazy=True)
    contract = Contract(tuple(tool_dict(t) for t in spec.tools), spec.tool_choice,
                         {"format": spec.output.format, "schema": spec.output.json_schema,
                          "strict": spec.output.strict},
                         dict(spec.config), dict(spec.metadata))
    return CompiledVersion(content.name, version, content.digest, spec.model.provider, spec.model.name,
                    dict(spec.model.params), compiled, contract)


def build_routes(manifest: Manifest, env: str, versions: Mapping[tuple[str, str], CompiledVersion]) -> dict:
    routes: dict = {}
    for name, entry in manifest.environments.get(env, {}).items():
        routes[(name, None)] = _route(name, env, None, entry, versions)
        for segment, target in entry.segments.items():
            routes[(name, segment)] = _route(name, env, segment, target, versions)
    return routes


def _route(name: str, env: str, segment: str | None, target: Target,
           versions: Mapping[tuple[str, str], CompiledVersion]) -> _Route:
    canary = target.canary
    if canary is None or not canary.running:
        return _Route(segment, versions[(name, target.active)], None, 0, "", target.model)
    salt = canary.salt or routing.default_salt(name, env, segment, canary.version)
    return _Route(segment, versions[(name, target.active)], versions[(name, canary.version)],
                  routing.threshold(canary.weight), salt, target.model)
