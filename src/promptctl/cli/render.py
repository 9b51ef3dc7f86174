"""Rich rendering of registry results; imported only by commands that print them."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..diffing import PromptDiff
from ..model import PromptContent, Release


def print_diff(console: Console, diff: PromptDiff) -> None:
    console.print(f"[bold]{diff.name}[/]: {diff.old_label} → {diff.new_label}")
    if not diff.changed and not diff.rendered:
        console.print("no changes")
        return
    if diff.inputs:
        console.print("[bold]Input contract[/]")
        for change in diff.inputs:
            detail = "" if change.change in ("added", "removed") else f": {change.before} → {change.after}"
            what = f"{change.change} ({change.after or change.before})" if change.change in (
                "added", "removed") else change.change
            console.print(escape(f"  {change.name}: {what}{detail}"))
    for title, lines in (("Output contract", diff.output), ("Tools", diff.tools),
                         ("Model", diff.model), ("Config", diff.config),
                         ("Metadata", diff.metadata)):
        if lines:
            console.print(f"[bold]{title}[/]")
            for line in lines:
                console.print(f"  {escape(line)}")
    for path, text in diff.files.items():
        console.print(f"[bold]Template {escape(path)}[/]")
        _print_unified(console, text)
    if diff.rendered:
        console.print("[bold]Rendered[/]")
        _print_unified(console, diff.rendered)
    reasons = "; ".join(diff.reasons)
    console.print(f"[bold]Suggested bump:[/] {diff.level.label}" + (f" ({escape(reasons)})" if reasons else ""))


def _print_unified(console: Console, text: str) -> None:
    for line in text.splitlines():
        style = ("green" if line.startswith("+") and not line.startswith("+++") else
                 "red" if line.startswith("-") and not line.startswith("---") else
                 "cyan" if line.startswith("@@") else None)
        console.print(escape(line), style=style)


def print_show(console: Console, content: PromptContent, release: Release | None,
               rendered: str | None) -> None:
    spec = content.spec
    version = release.version if release else "working tree"
    console.print(f"[bold]{spec.name}[/] {version} ({spec.kind})")
    if spec.description:
        console.print(escape(spec.description))
    params = ", ".join(f"{k}={v}" for k, v in spec.model.params.items())
    console.print(f"model: {spec.model.provider}/{escape(spec.model.name)}" + (f" ({params})" if params else ""))
    console.print(f"digest: {content.digest}")
    if release:
        console.print(escape(f"tag: {release.tag} at {release.commit[:12]} by {release.author} "
                             f"on {release.date}"))
    table = Table("input", "type", "required", "default", box=None, pad_edge=False)
    for key, inp in spec.inputs.items():
        table.add_row(key, inp.type, "yes" if inp.required else "no",
                      "" if inp.required else repr(inp.default))
    console.print(table)
    if spec.tools:
        choice = f" (tool_choice: {spec.tool_choice})" if spec.tool_choice else ""
        console.print(escape("tools: " + ", ".join(t.name for t in spec.tools) + choice))
    if spec.output.format == "json":
        schema = "with a schema" if spec.output.json_schema is not None else "no schema"
        console.print(f"output: json, {schema}" + (", strict" if spec.output.strict else ""))
    console.print("files: " + ", ".join(sorted(content.files)))
    if rendered is not None:
        console.print("[bold]Rendered[/]")
        console.print(escape(rendered), end="")


def print_log(console: Console, name: str, releases: list[Release]) -> None:
    if not releases:
        console.print(f"{name} has no releases yet (run `promptctl bump {name}`)")
        return
    table = Table("version", "date", "author", "message", "digest", box=None, pad_edge=False)
    for r in releases:
        table.add_row(r.version, r.date[:16].replace("T", " "), escape(r.author), escape(r.message.splitlines()[0] if r.message else ""),
                      (r.digest or "(lightweight)")[:19])
    console.print(table)


def print_list(console: Console, rows) -> None:
    header = ("prompt", "kind", "latest", "releases", "unreleased changes")
    if not console.is_terminal:
        # Piped: plain aligned columns, one line per prompt, never wrapped (grep-able), and
        # fast: rich's table layout took seconds for 5,000 prompts.
        cells = [header, *((r.name, r.kind or "", r.latest or "-", str(r.releases),
                            r.error or ("yes" if r.unreleased else "no")) for r in rows)]
        widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
        console.file.write("".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() + "\n"
                                   for row in cells))
        return
    table = Table(*header, box=None, pad_edge=False)
    for row in rows:
        status = ("[red]" + escape(row.error) + "[/]") if row.error else ("yes" if row.unreleased else "no")
        table.add_row(row.name, row.kind or "", row.latest or "-", str(row.releases), status)
    console.print(table)
