"""`promptctl check`: validate prompts, their contracts and eval datasets, and
promptctl.yaml's sections; no model is called."""

from __future__ import annotations

from ..checks import release_problems
from ..errors import Problem, PromptctlError, ValidationError
from ..prompt_files import PROMPT_FILE, list_prompt_names
from .project import Project, load_working


def check(project: Project, names: list[str] | None = None) -> tuple[list[str], list[Problem]]:
    """Validate prompts, their contracts, and their eval datasets; no model is called."""
    names = names or list_prompt_names(project.root, project.config)
    problems: list[Problem] = config_problems(project)
    for name in names:
        problems += prompt_problems(project, name)
        problems += suite_problems(project, name)
    return names, problems


def config_problems(project: Project) -> list[Problem]:
    """promptctl.yaml's sections that only some commands read (checked when it was loaded):
    found by `check`, not by the eval or canary run that would trip over them later."""
    from ..config import section_problems

    return section_problems(project.config)


def prompt_problems(project: Project, name: str) -> list[Problem]:
    yaml_path = f"{project.prompt_path(name)}/{PROMPT_FILE}"
    try:
        content = load_working(project, name)
    except ValidationError as exc:
        return exc.problems or [Problem(yaml_path, exc.message)]
    except PromptctlError as exc:  # a check reports every prompt, it never stops at the first
        return [Problem(exc.file or yaml_path, exc.message)]
    return release_problems(content, yaml_path, content.files.get(f"{name}/{PROMPT_FILE}"))


def suite_problems(project: Project, name: str) -> list[Problem]:
    """The suite's schema, gates and datasets (the eval engine's own validation)."""
    from ..evals.suite import check_suite
    return check_suite(project, name)
