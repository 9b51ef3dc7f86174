"""What `Registry.get` returns: one routed prompt version for one call, its `render`, and
the request builders for the vendor SDKs; and what a version declares beside its templates
(tools, output, config), handed out as copies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..errors import RenderError, UsageError
from ..render import CompiledPrompt

if TYPE_CHECKING:
    from .route_table import CompiledVersion


class ResolvedPrompt:
    """One routed prompt version for one call."""

    __slots__ = ("name", "version", "variant", "model", "provider", "params", "digest",
                 "env", "segment", "key", "kind", "bucket", "threshold", "_compiled", "_contract")

    def __init__(self, version: "CompiledVersion | None", variant: str, model: str | None, env: str,
                 segment: str | None, key: Any, *, name: str = "", compiled: CompiledPrompt | None = None,
                 bucket: int | None = None, threshold: int | None = None) -> None:
        self.variant = variant
        # The routing decision, logged with the call so a sample-ratio check can find
        # calls whose variant contradicts their bucket. None when no canary runs.
        self.bucket = bucket
        self.threshold = threshold
        self.env = env
        self.segment = segment
        self.key = key
        self.model = model
        if version is None:   # fallback
            if compiled is None:
                raise UsageError(f"{name}: a fallback prompt needs its compiled template",
                                 field="compiled", fix="pass compiled=")
            self.name, self.version, self.provider, self.params, self.digest = name, None, None, {}, None
            self._compiled, self._contract = compiled, NO_CONTRACT
        else:
            self.name, self.version, self.provider = version.name, version.version, version.provider
            # a copy: apps tweak params per call (max_tokens...); the cached version must not change
            self.params, self.digest, self._compiled = dict(version.params), version.digest, version.compiled
            self._contract = version.contract
        self.kind = "chat" if self._compiled.is_chat else "text"

    def render(self, **inputs: Any) -> str | list[dict[str, Any]]:
        """str for a text prompt, a list of {role, content} for chat (placeholders expanded
        with the `messages` inputs passed); strict about inputs. Every failure is a
        RenderError naming prompt@version."""
        return _guarded(self._compiled.label, self._compiled.render, inputs)

    # Copies on every read: an app that edits what it got must not change the next call's.
    @property
    def tools(self) -> list[dict[str, Any]]:
        """Declared tools: {name, description (a template), parameters (JSON Schema)}."""
        return copy.deepcopy(list(self._contract.tools))

    @property
    def tool_choice(self) -> str | None:
        """auto, none, required, a tool's name, or None when the prompt leaves it to the API."""
        return self._contract.tool_choice

    @property
    def output(self) -> dict[str, Any]:
        """{format: text | json, schema: JSON Schema or None, strict: bool}."""
        return copy.deepcopy(self._contract.output)

    @property
    def config(self) -> dict[str, Any]:
        """The prompt's `config:`, free-form data for the app; never sent to a model."""
        return copy.deepcopy(self._contract.config)

    @property
    def metadata(self) -> dict[str, Any]:
        return copy.deepcopy(self._contract.metadata)

    def render_tools(self, **inputs: Any) -> list[dict[str, Any]]:
        """The tools with their descriptions rendered for these inputs."""
        return _guarded(self._compiled.label, self._compiled.render_tools, inputs)

    def request(self, provider: str | None = None, **inputs: Any) -> dict[str, Any]:
        """Keyword arguments for the vendor SDK: `client.chat.completions.create(**p.request(
        "openai", ...))` or `client.messages.create(**p.request("anthropic", ...))`.

        Model, rendered messages, tools, tool choice, structured output and params; params
        the SDK has no keyword for travel in `extra_body`. `provider` defaults to the
        prompt's own (openai or anthropic).
        """
        from .. import payloads

        kind = provider or self.provider or "openai"
        if kind not in ("openai", "anthropic"):
            raise UsageError(f"no request format for provider {kind!r}", field="provider",
                             fix="pass provider='openai' or provider='anthropic'")
        if not self.model:
            raise UsageError(f"{self.name}: the fallback prompt has no model",
                             fix="pass model in your own call")
        rendered = self.render(**inputs)
        messages = [{"role": "user", "content": rendered}] if isinstance(rendered, str) else rendered
        contract = self._contract
        # deep copies: the app may edit the payload; the cached version must not change
        tools = copy.deepcopy(self.render_tools(**inputs))
        output = self.output if contract.output["format"] == "json" else None
        if kind == "openai":
            body = payloads.openai_body(self.model, messages, dict(self.params), tools=tools,
                                        tool_choice=contract.tool_choice, output=output,
                                        name=self.name)
            return payloads.sdk_kwargs(body, payloads.OPENAI_KEYWORDS)
        body = payloads.anthropic_body(self.model, messages, dict(self.params), tools=tools,
                                       tool_choice=contract.tool_choice, output=output)
        return payloads.sdk_kwargs(body, payloads.ANTHROPIC_KEYWORDS)

    def __repr__(self) -> str:
        return f"ResolvedPrompt({self.name}@{self.version}, {self.variant}, model={self.model})"


def _guarded(label: str, render: Callable[[dict], Any], inputs: dict[str, Any]) -> Any:
    try:
        return render(inputs)
    except RenderError:
        raise
    except Exception as exc:   # RecursionError, MemoryError, a filter's IndexError...
        raise RenderError(f"{label}: {type(exc).__name__}: {exc}"[:500],
                          fix="check the inputs and the template") from exc


@dataclass(frozen=True, slots=True)
class Contract:
    """What a version declares beside its templates, as the runtime hands it out."""

    tools: tuple = ()
    tool_choice: str | None = None
    output: dict = field(default_factory=lambda: {"format": "text", "schema": None, "strict": False})
    config: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)


NO_CONTRACT = Contract()
