"""Services that write new files: `init` (a prompt repo) and `new` (a prompt and its suite)."""

from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path

from ..config import CONFIG_FILE
from ..errors import NotFoundError, UsageError
from ..file_schemas import KINDS, SCHEMA_DIR, file_name, shipped_text, with_modeline
from ..prompt_files import PROMPT_FILE, check_name
from .project import Project

# Dotfiles and dot-folders do not survive packaging as-is: `gitignore`, `github/…` gain a dot.
_DOTTED = ("gitignore", "github/")


def init(directory: Path) -> list[str]:
    """Write a prompt repo's skeleton; refuses when any file it would write exists."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is a file", field="DIR", fix="give a new or empty folder")
    _refuse_inside_prompts(directory)
    files = _with_schemas(_template_files("init"))
    clashes = [rel for rel in files if (directory / rel).exists()]
    if clashes:
        raise UsageError(f"{directory / clashes[0]} already exists", field="init",
                         fix="init writes only into an empty or new prompt repo; remove or move it")
    if (directory / CONFIG_FILE).exists():
        raise UsageError(f"{directory} is already a prompt repo")
    directory.mkdir(parents=True, exist_ok=True)   # a folder inside a checkout is in its repo
    if not _is_git_repo(directory):
        subprocess.run(["git", "init", "-q", str(directory)], check=True)
    _write_all(directory, _on_branch(files, _branch(directory)))
    return sorted(files)


WORKFLOW_BRANCH = "branches: [main]"


def _on_branch(files: dict[str, str], branch: str) -> dict[str, str]:
    """The workflows trigger on pushes to the repo's own branch (git may have made `master`)."""
    return {rel: text.replace(WORKFLOW_BRANCH, f"branches: [{branch}]")
            if rel.startswith(".github/workflows/") else text for rel, text in files.items()}


def _branch(directory: Path) -> str:
    result = subprocess.run(["git", "-C", str(directory), "symbolic-ref", "--short", "HEAD"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "main"


def new(project: Project, name: str, kind: str = "chat", from_: str | None = None) -> list[str]:
    """Scaffold prompts/<name>/ and evals/<name>/, from a template or a copy of another prompt."""
    check_name(name)
    _refuse_existing(project, name)
    files = _copied(project, from_, name) if from_ else _fresh(name, kind)
    return write_new(project, name, files)


def _refuse_existing(project: Project, name: str) -> None:
    prompt_dir = project.prompt_path(name)
    if (project.root / prompt_dir).exists():
        raise UsageError(f"{prompt_dir} already exists", field="NAME", fix="choose another name")


def write_new(project: Project, name: str, files: dict[str, str]) -> list[str]:
    """Write a new prompt's files (`@evals/x` goes to its suite folder); refuses clashes."""
    _refuse_existing(project, name)
    prompt_dir = project.prompt_path(name)
    evals_dir = f"{project.config.evals_dir}/{name}"
    targets = {f"{prompt_dir}/{k}" if not k.startswith("@evals/") else
               f"{evals_dir}/{k.removeprefix('@evals/')}": v for k, v in files.items()}
    clashes = [t for t in targets if (project.root / t).exists()]
    if clashes:
        raise UsageError(f"{clashes[0]} already exists", fix="remove it or choose another name")
    if (project.root / SCHEMA_DIR).is_dir():
        targets = {rel: with_modeline(rel, text) for rel, text in targets.items()}
    _write_all(project.root, targets)
    return sorted(targets)


def _with_schemas(files: dict[str, str]) -> dict[str, str]:
    # Editors complete and check fields through the modeline and the committed schemas.
    marked = {rel: with_modeline(rel, text) for rel, text in files.items()}
    marked.update({f"{SCHEMA_DIR}/{file_name(kind)}": shipped_text(kind) for kind in KINDS})
    return marked


def _fresh(name: str, kind: str) -> dict[str, str]:
    if kind not in ("chat", "text"):
        raise UsageError(f"unknown prompt kind {kind!r}", fix="use --chat or --text")
    body = (
        "messages:\n"
        "  - role: system\n"
        "    content: |\n"
        "      You are a helpful assistant. Answer briefly.\n"
        "  - role: user\n"
        "    content: \"{{ question }}\"\n"
        if kind == "chat" else
        "template: |\n"
        "  Answer the question briefly.\n"
        "  Question: {{ question }}\n"
    )
    prompt = (f"name: {name}\n"
              "description: TODO describe what this prompt does.\n"
              "model:\n  provider: openai\n  name: gpt-4o-mini-2024-07-18\n"
              "  params: {temperature: 0}\n"
              "inputs:\n  question:\n    type: string\n    description: The user's question.\n"
              + body)
    return {
        PROMPT_FILE: prompt,
        "@evals/suite.yaml": ("dataset: cases.jsonl\nmetrics:\n  - name: answered\n"
                              "    type: length\n    min: 1\ngates:\n  - answered >= 1.0\n"),
        "@evals/cases.jsonl": '{"id": "example", "inputs": {"question": "What is promptctl?"}}\n',
    }


def _copied(project: Project, source: str, name: str) -> dict[str, str]:
    src_dir = project.root / project.prompt_path(source)
    if not (src_dir / PROMPT_FILE).is_file():
        raise NotFoundError(f"prompt {source!r} not found", field="--from",
                            fix="run `promptctl list` to see the prompts")
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(src_dir.iterdir()) if p.is_file()}
    files[PROMPT_FILE] = _renamed(files[PROMPT_FILE], source, name)
    suite_dir = project.root / project.config.evals_dir / source
    if suite_dir.is_dir():
        files.update({f"@evals/{p.name}": p.read_text(encoding="utf-8")
                      for p in sorted(suite_dir.iterdir()) if p.is_file()})
    return files


def _renamed(prompt_yaml: str, old: str, new: str) -> str:
    lines = prompt_yaml.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("name:"):
            lines[i] = f"name: {new}\n"
            break
    return "".join(lines)


def _template_files(kind: str) -> dict[str, str]:
    root = resources.files("promptctl") / "templates" / kind
    found: dict[str, str] = {}

    def walk(node, prefix: str) -> None:
        for child in node.iterdir():
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            else:
                found[f".{rel}" if rel.startswith(_DOTTED) else rel] = child.read_text(encoding="utf-8")

    walk(root, "")
    return found


def _refuse_inside_prompts(directory: Path) -> None:
    """A repo made inside another's prompts/ or evals/ would be read as prompts of that one."""
    from ..errors import PromptctlError
    from ..config import find_root, load_config
    from ..sources import WorkingTree

    try:
        outer = find_root(directory)
        config = load_config(WorkingTree(outer))
    except PromptctlError:   # no enclosing prompt repo (or a broken one: not ours to judge)
        return
    target = directory.resolve()
    for folder in (config.prompts_dir, config.evals_dir):
        if target.is_relative_to((outer / folder).resolve()):
            raise UsageError(f"{directory} is inside {outer / folder}", field="DIR",
                             fix="make the new prompt repo outside that one's prompts and evals folders")


def _write_all(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _is_git_repo(directory: Path) -> bool:
    result = subprocess.run(["git", "-C", str(directory), "rev-parse", "--git-dir"],
                            capture_output=True)
    return result.returncode == 0
