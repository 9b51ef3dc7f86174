"""Compare two versions of a prompt and classify the change by the bump rules in the README (major, minor, patch)."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field

from .model import PromptContent, PromptSpec
from .schemadiff import output_findings, tool_findings
from .versions import BumpKind

# Words whose edit is never a typo: changing them flips meaning.
_MEANINGFUL = frozenset("not never no always must only any all none ever can cannot".split())


@dataclass
class InputChange:
    name: str
    change: str          # added | removed | required | type | default
    before: object = None
    after: object = None


@dataclass
class PromptDiff:
    name: str
    old_label: str
    new_label: str
    inputs: list[InputChange] = field(default_factory=list)
    output: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    config: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)   # path -> unified diff
    rendered: str = ""
    level: BumpKind = BumpKind.NONE
    reasons: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.inputs or self.output or self.tools or self.model or self.config
                    or self.metadata or self.files)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["level"] = self.level.label
        data["changed"] = self.changed
        return data


def diff_prompts(old: PromptContent | None, new: PromptContent, old_label: str,
                 new_label: str) -> PromptDiff:
    result = PromptDiff(name=new.name, old_label=old_label, new_label=new_label)
    if old is None:
        result.level, result.reasons = BumpKind.MAJOR, ["first release"]
        result.files = _file_diffs({}, new.files, old_label, new_label)
        return result
    result.inputs = _input_changes(old.spec, new.spec)
    result.output = [text for _, text in output_findings(old.spec.output, new.spec.output)]
    result.tools = [text for _, text in _tool_findings(old.spec, new.spec)]
    result.model = _model_changes(old.spec, new.spec)
    result.config = [f"config {key} changed" for key in
                     sorted(old.spec.config.keys() | new.spec.config.keys())
                     if old.spec.config.get(key) != new.spec.config.get(key)]
    result.metadata = _metadata_changes(old.spec, new.spec)
    result.files = _file_diffs(old.files, new.files, old_label, new_label)
    result.level, result.reasons = classify(result, old, new)
    return result


def _input_changes(old: PromptSpec, new: PromptSpec) -> list[InputChange]:
    changes = []
    for key in sorted(old.inputs.keys() | new.inputs.keys()):
        a, b = old.inputs.get(key), new.inputs.get(key)
        if a is not None and b is not None:
            if a.required != b.required:
                changes.append(InputChange(key, "required", a.required, b.required))
            if a.type != b.type:
                changes.append(InputChange(key, "type", a.type, b.type))
            if a.default != b.default:
                changes.append(InputChange(key, "default", a.default, b.default))
        elif b is not None:
            changes.append(InputChange(key, "added", None, "required" if b.required else "optional"))
        elif a is not None:
            changes.append(InputChange(key, "removed", "required" if a.required else "optional"))
    return changes


def _tool_findings(old: PromptSpec, new: PromptSpec) -> list[tuple[BumpKind, str]]:
    return tool_findings(old.tools, new.tools, old.tool_choice, new.tool_choice)


def _model_changes(old: PromptSpec, new: PromptSpec) -> list[str]:
    changes = []
    if old.model.provider != new.model.provider:
        changes.append(f"provider {old.model.provider} -> {new.model.provider}")
    if old.model.name != new.model.name:
        changes.append(f"model {old.model.name} -> {new.model.name}")
    for key in sorted(old.model.params.keys() | new.model.params.keys()):
        a, b = old.model.params.get(key), new.model.params.get(key)
        if a != b:
            changes.append(f"param {key}: {json.dumps(a)} -> {json.dumps(b)}")
    return changes


def _metadata_changes(old: PromptSpec, new: PromptSpec) -> list[str]:
    return [f"{attr} changed" for attr in ("description", "tags", "metadata")
            if getattr(old, attr) != getattr(new, attr)]


def _file_diffs(old: dict[str, str], new: dict[str, str], a: str, b: str) -> dict[str, str]:
    diffs = {}
    for path in sorted(old.keys() | new.keys()):
        before, after = _lf(old.get(path, "")), _lf(new.get(path, ""))
        if before != after:
            lines = difflib.unified_diff(before.splitlines(keepends=True),
                                         after.splitlines(keepends=True),
                                         f"{a}/{path}", f"{b}/{path}")
            diffs[path] = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return diffs


def _lf(text: str) -> str:
    """Line endings do not count, as in the digest: a checkout with core.autocrlf=true
    must not look like an edit to diff while list and bump see none."""
    return text.replace("\r\n", "\n")


def classify(diff: PromptDiff, old: PromptContent, new: PromptContent) -> tuple[BumpKind, list[str]]:
    """The bump a change needs: the strongest of its parts, with a reason for each."""
    found: list[tuple[BumpKind, str]] = []
    for change in diff.inputs:
        if change.change == "added" and change.after == "required":
            found.append((BumpKind.MAJOR, f"required input {change.name!r} added"))
        elif change.change == "removed":
            found.append((BumpKind.MAJOR, f"input {change.name!r} removed"))
        elif change.change == "type":
            found.append((BumpKind.MAJOR, f"input {change.name!r} type changed"))
        elif change.change == "required" and change.after:
            found.append((BumpKind.MAJOR, f"input {change.name!r} became required"))
        else:
            found.append((BumpKind.MINOR, f"input {change.name!r} {change.change} changed"
                          if change.change != "added" else f"optional input {change.name!r} added"))
    found += [(kind, f"output contract: {text}")
              for kind, text in output_findings(old.spec.output, new.spec.output)]
    found += _tool_findings(old.spec, new.spec)
    found += [(BumpKind.MINOR, c) for c in diff.model]
    found += [(BumpKind.MINOR, c) for c in diff.config]
    found += [(BumpKind.PATCH, c) for c in diff.metadata]
    found += _template_changes(old, new)
    if not found and diff.files:
        found.append((BumpKind.PATCH, "files changed without effect on the contract"))
    if not found:
        return BumpKind.NONE, []
    level = max(kind for kind, _ in found)
    return level, [reason for kind, reason in found if kind == level]


def _template_changes(old: PromptContent, new: PromptContent) -> list[tuple[BumpKind, str]]:
    a, b = _template_text(old), _template_text(new)
    a, b = ({k: _lf(v) for k, v in t.items()} for t in (a, b))
    found = []
    for key in sorted(a.keys() | b.keys()):
        before, after = a.get(key), b.get(key)
        if before == after:
            continue
        label = _body_label(key)
        if before is None or after is None:
            found.append((BumpKind.MINOR, f"template {label} {'added' if before is None else 'removed'}"))
        elif _words(before) == _words(after):
            found.append((BumpKind.PATCH, f"whitespace-only change in {label}"))
        elif _is_typo_fix(before, after):
            found.append((BumpKind.PATCH, f"typo fix in {label}"))
        else:
            found.append((BumpKind.MINOR, f"instruction text changed in {label}"))
    return found


def _template_text(content: PromptContent) -> dict[str, str]:
    # Inline templates live inside prompt.yaml; key them by role and position instead.
    keyed: dict[str, str] = {}
    in_bodies: set[str] = set()
    for index, body in enumerate(content.bodies):
        key = f"body#{index}:{body.role}"
        if body.role == "placeholder":
            keyed[key] = f"{{placeholder: {body.name}}}"
            continue
        named = [body.template, *(loader for _, loader, _ in body.parts), body.tool_call_id]
        loaders = [name for name in named if name]
        in_bodies.update(loaders)
        keyed[key] = "\n".join(content.templates[name] for name in loaders)
    for loader_name, text in content.templates.items():
        # tool descriptions are compared with their tools
        if loader_name not in in_bodies and "#tools." not in loader_name:
            keyed[loader_name] = text
    return keyed


def _body_label(key: str) -> str:
    if not key.startswith("body#"):
        return key
    index, role = key.removeprefix("body#").split(":", 1)
    return "the template" if role == "text" else f"message {int(index) + 1} ({role})"


def _words(text: str) -> list[str]:
    return text.split()


def _is_typo_fix(before: str, after: str) -> bool:
    """At most three words changed, each by at most two characters, none meaning-bearing."""
    a, b = re.findall(r"\w+|[^\w\s]", before), re.findall(r"\w+|[^\w\s]", after)
    if len(a) != len(b):
        return False
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if not pairs or len(pairs) > 3:
        return False
    for x, y in pairs:
        if x.lower() in _MEANINGFUL or y.lower() in _MEANINGFUL or min(len(x), len(y)) < 4:
            return False
        if _edit_distance(x.lower(), y.lower()) > 2 or x.isdigit() or y.isdigit():
            return False
    return True


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
