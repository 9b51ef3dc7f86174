"""Commands of the prompt registry: init, new, check, bump, diff, show, log, list, verify."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .common import state
from .complete import prompt_names, refs, versions


def _project():
    from ..services.project import open_project
    return open_project(state().directory)


def _console(stderr: bool = False):
    from .common import console
    return console(stderr)


def _echo_json(data) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def init_cmd(directory: Path = typer.Argument(Path("."), help="Folder for the new prompt repo.")) -> None:
    """Create a prompt repo: promptctl.yaml, prompts/, evals/, release.yaml and an example."""
    from ..services.scaffold import init
    target = state().directory / directory
    written = init(target)
    console = _console()
    console.print(f"Initialised a prompt repo in {target}")
    for rel in written:
        console.print(f"  [green]+[/] {rel}")
    # promote and canary refuse an uncommitted release.yaml: commit the skeleton first.
    console.print("Next: git add -A && git commit -m 'promptctl init', then promptctl check "
                  "and promptctl bump support-reply -m 'first release'")


def new_cmd(
    name: str = typer.Argument(..., help="Prompt name, e.g. support/refund."),
    chat: bool = typer.Option(False, "--chat", help="A chat prompt (messages); the default."),
    text: bool = typer.Option(False, "--text", help="A text prompt (one template)."),
    from_: Optional[str] = typer.Option(None, "--from", metavar="PROMPT",
                                        help="Copy another prompt and its suite."),
    from_text: Optional[Path] = typer.Option(
        None, "--from-text", help="A hardcoded prompt's text (str.format/f-string {fields} become inputs)."),
    as_json: bool = typer.Option(False, "--json", help="JSON output: a schema stub and a json_schema gate."),
) -> None:
    """Scaffold a prompt and its eval suite."""
    from ..errors import UsageError
    from ..services.scaffold import new
    if chat and text:
        raise UsageError("--chat and --text exclude each other", fix="pass one of them")
    if from_ and from_text:
        raise UsageError("--from and --from-text exclude each other", fix="pass one of them")
    if from_text is not None or as_json:
        from ..services.migrate import new_from_text
        source = state().directory / from_text if from_text else None
        files, notes = (new_from_text(_project(), name, source, as_json) if source
                        else _json_scaffold(name))
        for rel in files:
            typer.echo(f"+ {rel}")
        for note in notes:
            typer.echo(f"note: {note}", err=True)
        return
    for rel in new(_project(), name, "text" if text else "chat", from_):
        typer.echo(f"+ {rel}")


def _json_scaffold(name: str):
    """`new NAME --json` without a text: the JSON scaffold around an example template."""
    import tempfile

    from ..services.migrate import new_from_text
    with tempfile.TemporaryDirectory() as folder:
        example = Path(folder) / "prompt.txt"
        example.write_text("Answer the question as JSON with an `answer` field.\n"
                           "Question: {question}\n", encoding="utf-8")
        return new_from_text(_project(), name, example, as_json=True)


def import_cmd(
    files: List[Path] = typer.Argument(..., help="dotprompt .prompt or Prompty .prompty files."),
) -> None:
    """Convert dotprompt and Prompty files into prompts (listing what could not be converted)."""
    from ..services.migrate import import_files
    results = import_files(_project(), [state().directory / f for f in files])
    for result in results:
        for rel in result.written:
            typer.echo(f"+ {rel}  (from {result.source})")
        for note in result.unconverted:
            typer.echo(f"  not converted: {note}", err=True)
    typer.echo("Next: promptctl check, then write a suite under evals/ (docs/migrating.md)")


def restore_cmd(
    name: str = typer.Argument(..., help="Prompt to restore.", autocompletion=prompt_names),
    version: str = typer.Argument(..., help="Released version whose files to put back.",
                                  autocompletion=versions),
    force: bool = typer.Option(False, "--force", help="Overwrite uncommitted changes."),
) -> None:
    """Put a release's files back in the working tree (after a rollback, so the next change starts from it)."""
    from ..services.migrate import restore
    done = restore(_project(), name, version, force)
    typer.echo(f"restored {done.name} {done.version}: {len(done.written)} file(s) written"
               + (f", {len(done.removed)} removed" if done.removed else ""))
    for rel in done.removed:
        typer.echo(f"  - {rel}")
    if done.shared:
        typer.echo(f"  shared partials also restored (other prompts may use them): "
                   f"{', '.join(done.shared)}")
    typer.echo(f"Next: review with `promptctl diff {done.name}` (no change: it matches "
               f"{done.version}), then commit")


def check_cmd(
    names: Optional[List[str]] = typer.Argument(None, help="Prompts to check (default: all).",
                                            autocompletion=prompt_names),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Validate prompts, templates, input contracts and datasets without calling a model."""
    from ..services.check import check
    checked, problems = check(_project(), names)
    if as_json:
        _echo_json({"checked": checked, "problems": [p.as_dict() for p in problems]})
    else:
        for problem in problems:
            typer.echo(str(problem), err=True)
        verdict = f"{len(problems)} problem(s)" if problems else "ok"
        typer.echo(f"checked {len(checked)} prompt(s): {verdict}")
    if problems:
        raise typer.Exit(1)


def bump_cmd(
    name: str = typer.Argument(..., help="Prompt to release.", autocompletion=prompt_names),
    level: str = typer.Argument("auto", help="major, minor, patch, auto, or an explicit X.Y.Z."),
    pre: Optional[str] = typer.Option(None, "--pre", help="Pre-release label, e.g. rc → 2.1.0-rc.1."),
    message: str = typer.Option("", "-m", "--message", help="Why this release exists."),
    sign: bool = typer.Option(False, "--sign", help="Sign the tag (git's tag signing: SSH or GPG key "
                                                    "from user.signingkey / gpg.format)."),
) -> None:
    """Release a prompt: commit its files and create an immutable annotated tag."""
    from ..services.bump import bump
    release = bump(_project(), name, level, pre, message, sign=sign)
    # bump writes the digest into the tag it creates, so a fresh release always has one
    digest = release.digest[:19] if release.digest else "no digest"
    typer.echo(f"released {release.name} {release.version} (tag {release.tag}, {digest})")


def diff_cmd(
    name: str = typer.Argument(..., help="Prompt to compare.", autocompletion=prompt_names),
    a: Optional[str] = typer.Argument(None, help="Old side: version, 'working' or git ref (default: latest release).",
                                     autocompletion=versions),
    b: Optional[str] = typer.Argument(None, help="New side (default: the working tree).",
                                     autocompletion=versions),
    render: Optional[Path] = typer.Option(None, "--render", help="YAML file of inputs: diff the rendered prompts too."),
    as_json: bool = typer.Option(False, "--json", help="Print the diff as JSON."),
    exit_code: bool = typer.Option(False, "--exit-code", help="Exit 1 when the sides differ."),
) -> None:
    """Show what changed between two versions and the bump it needs."""
    from ..services.prompts import diff
    from .render import print_diff
    result = diff(_project(), name, a, b, _read_vars(render) if render else None)
    if as_json:
        _echo_json(result.as_dict())
    else:
        print_diff(_console(), result)
    if exit_code and (result.changed or result.rendered):
        raise typer.Exit(1)


def show_cmd(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (or NAME@working).",
                         autocompletion=refs),
    render: Optional[Path] = typer.Option(None, "--render", help="YAML file of inputs to render with."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show a prompt version: files, inputs, model, digest."""
    from ..services.prompts import render_text, show
    from .render import print_show
    content, release = show(_project(), ref)
    label = release.version if release else ref.partition("@")[2] or "working"
    rendered = render_text(content, label, _read_vars(render)) if render else None
    if as_json:
        _echo_json({"name": content.name, "version": release.version if release else "working",
                    "digest": content.digest, "kind": content.spec.kind,
                    "model": content.spec.model.model_dump(),
                    "inputs": {k: v.model_dump() for k, v in content.spec.inputs.items()},
                    "files": sorted(content.files), "rendered": rendered})
        return
    print_show(_console(), content, release, rendered)


def log_cmd(
    name: str = typer.Argument(..., help="Prompt whose releases to list.",
                          autocompletion=prompt_names),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List a prompt's releases, newest first."""
    from ..services.prompts import clone_advice, log
    from .render import print_log
    project = _project()
    releases = log(project, name)
    advice = clone_advice(project, name)
    if advice:
        typer.echo(f"warning: {advice}", err=True)
    if as_json:
        _echo_json([r.__dict__ for r in releases])
    else:
        print_log(_console(), name, releases)


def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Every prompt with its latest version and whether it has unreleased changes."""
    from ..services.prompts import list_prompts
    from .render import print_list
    rows = list_prompts(_project())
    if as_json:
        _echo_json([r.as_dict() for r in rows])
    else:
        print_list(_console(), rows)


def verify_cmd(
    bundles: Optional[List[Path]] = typer.Option(
        None, "--bundle", help="Also check this bundle (repeatable; default: release.lock.json if present)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
    require_signed: bool = typer.Option(False, "--require-signed",
                                        help="Every release tag must carry a signature git accepts."),
    allowed_signers: Optional[Path] = typer.Option(
        None, "--allowed-signers", help="SSH allowed-signers file (default: git's gpg.ssh.allowedSignersFile)."),
) -> None:
    """Prove immutability: release tags, the manifest and bundles match their recorded digests."""
    from ..services.verify import verify
    signers = _allowed_signers(allowed_signers)
    report = verify(_project(), [state().directory / b for b in bundles] if bundles else None,
                    require_signed=require_signed or signers is not None, allowed_signers=signers)
    if as_json:
        _echo_json({"checked": report.checked, "findings": [f.as_dict() for f in report.findings],
                    "notes": [f.as_dict() for f in report.notes]})
    else:
        for finding in report.findings:
            typer.echo(f"{finding.tag}: {finding.problem}", err=True)
        for note in report.notes:
            typer.echo(f"note: {note.tag}: {note.problem}", err=True)
        typer.echo(f"verified {report.checked} release tag(s): "
                   f"{len(report.findings)} finding(s)" if report.findings else
                   f"verified {report.checked} release tag(s): ok")
    if report.findings:
        raise typer.Exit(1)


def _allowed_signers(path: Optional[Path]) -> Optional[Path]:
    if path is None:
        return None
    from ..errors import NotFoundError
    full = (state().directory / path).resolve()
    if not full.is_file():
        raise NotFoundError(f"{path} not found", field="--allowed-signers",
                            fix="give an SSH allowed-signers file: one `EMAIL ssh-ed25519 KEY` per line")
    return full


def _read_vars(path: Path) -> dict:
    from ..errors import NotFoundError, ValidationError
    from ..safeyaml import load_yaml
    full = state().directory / path
    try:
        data = load_yaml(full.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError as exc:
        raise NotFoundError(f"{path} not found", field="--render", fix="pass a YAML file of inputs") from exc
    if not isinstance(data, dict):
        raise ValidationError("expected a mapping of input names to values", file=str(path),
                              field="--render")
    return data


def quickstart_cmd(directory: Path = typer.Argument(Path("promptctl-demo"), help="New folder for the demo repo.")) -> None:
    """Run the whole story offline: release, eval, promote, canary on simulated traffic, rollback."""
    from rich.markup import escape

    from ..services.quickstart import quickstart
    console = _console()
    target = state().directory / directory
    for title, detail in quickstart(target):
        console.print(f"[bold cyan]{title:>9}[/]  {escape(detail)}")
    console.print(f"\nDone. Explore it: cd {target} && promptctl list && promptctl log support-reply")
