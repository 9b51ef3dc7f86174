"""promptctl: version, evaluate and deploy LLM prompts as git-native artifacts.

Apps import the runtime from here (`promptctl.Registry`); everything else is the CLI's.
The runtime names are loaded lazily so `import promptctl` stays cheap for the CLI.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Registry", "ResolvedPrompt", "PromptctlError", "__version__"]


def __getattr__(name: str):
    if name == "Registry":
        from .runtime.registry import Registry
        return Registry
    if name == "ResolvedPrompt":
        from .runtime.resolved_prompt import ResolvedPrompt
        return ResolvedPrompt
    if name == "PromptctlError":
        from .errors import PromptctlError
        return PromptctlError
    raise AttributeError(f"module 'promptctl' has no attribute {name!r}")
