"""`promptctl eval`: run the suite of one prompt, the changed ones or all of them, compare
each run with its baseline, record and attest it.

Everything here returns values; the CLI decides how to show them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from ..errors import NotFoundError, UsageError, ValidationError
from ..model import PromptContent
from ..prompt_files import list_prompt_names
from .eval_history import HISTORY_FILE, record_run, state_path
from .eval_run import execute_suite, load_suite, suite_digest
from .project import WORKING, Project, load_version, split_ref


@dataclass
class EvalOptions:
    suite: str | None = None              # a suite.yaml path instead of evals/<name>/suite.yaml
    model: str | None = None
    provider: str | None = None
    repeat: int | None = None
    concurrency: int | None = None
    baseline: str | None = None           # a version, or an environment of release.yaml
    changed_since: str | None = None
    all: bool = False
    shard: str | None = None
    no_cache: bool = False
    record: bool = True
    on_progress: Callable[[str, int, int], None] | None = None


@dataclass
class EvalReport:
    runs: list[Any] = field(default_factory=list)      # evals.results.RunResult
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (prompt, why)

    @property
    def passed(self) -> bool:
        return all(run.passed for run in self.runs)

    def to_dict(self, cases: bool = True) -> dict[str, Any]:
        return {"passed": self.passed, "runs": [r.to_dict(cases) for r in self.runs],
                "skipped": [{"prompt": p, "reason": r} for p, r in self.skipped]}


def evaluate(project: Project, target: str | None, options: EvalOptions) -> EvalReport:
    """`promptctl eval`: run the suite of one prompt, the changed ones, or all of them."""
    from ..evals.history import History

    # A bad `eval:` setting or an unreadable history fails before any (paid) call.
    history_file = state_path(project, "history", HISTORY_FILE)
    if history_file.exists():
        History(history_file).close()
    if options.suite:
        options = replace(options, suite=_repo_path(project, options.suite))
    if target is None and not options.all and not options.changed_since:
        raise UsageError("name a prompt, or pass --all or --changed-since REF",
                         fix="for example `promptctl eval support-refund`")
    if target is not None and options.all:
        raise UsageError("give a prompt name or --all, not both")
    if target is not None:
        name, version = split_ref(target)
        targets = [(name, version)]
    else:
        targets = [(n, None) for n in list_prompt_names(project.root, project.config)]
    report = EvalReport()
    changed = None
    if options.changed_since:
        try:
            changed = project.store.changed_paths(options.changed_since)
        except (UsageError, NotFoundError) as exc:
            raise exc.reworded(field=exc.field or "--changed-since") from exc
    for name, version in targets:
        suite_file = options.suite or f"{project.config.evals_dir}/{name}/suite.yaml"
        if target is not None:
            content = load_version(project, name, version)
        if options.suite is None and project.working.read(suite_file) is None:
            if target is not None:
                raise NotFoundError(f"no eval suite for {name!r}", file=suite_file,
                                    fix="create it (see docs/evals.md) or pass --suite")
            report.skipped.append((name, "no suite"))
            continue
        if target is None:
            content = load_version(project, name, version)
        if changed is not None and not _touched(project, name, content, suite_file, changed,
                                                options):
            report.skipped.append((name, f"unchanged since {options.changed_since}"))
            continue
        report.runs.append(_run_one(project, name, version, content, suite_file, options))
    return report


def _label(project: Project, name: str, version: str | None) -> str:
    """How history names the run: `v1.0.0` and the tag `name/v1.0.0` are release 1.0.0."""
    if version in (None, WORKING):
        return WORKING
    for release in project.store.releases(name):
        if version in (release.version, f"v{release.version}", release.tag):
            return release.version
    return version


def _repo_path(project: Project, path: str) -> str:
    """An absolute path inside the repo as the repo-relative path messages and git use."""
    try:
        return Path(path).resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return path


def _touched(project: Project, name: str, content: PromptContent, suite_file: str,
             changed: set[str], options: EvalOptions) -> bool:
    prompts = project.config.prompts_dir
    own = {f"{prompts}/{path}" for path in content.files}
    own |= set(_module_files(project, content, suite_file, options))
    suite_dir = suite_file.rsplit("/", 1)[0] + "/"
    return bool(own & changed) or any(p.startswith(suite_dir) for p in changed)


def _module_files(project: Project, content: PromptContent, suite_file: str,
                  options: EvalOptions) -> list[str]:
    """The repo's Python files the run would import (its provider and python scorers)."""
    from ..errors import PromptctlError
    from ..evals.suite import parse_suite
    from ..pymodules import referenced_files, suite_specs

    text = project.working.read(suite_file)
    try:
        suite = parse_suite(text, suite_file) if text is not None else None
    except PromptctlError:
        return []   # evaluating it reports the problem
    provider = options.provider or (suite.provider if suite else None) or content.spec.model.provider
    specs = suite_specs(suite, provider) if suite else [provider]
    return referenced_files(project.root, specs)


def _run_one(project: Project, name: str, version: str | None, content: PromptContent,
             suite_file: str, options: EvalOptions):
    from ..evals import engine
    from ..evals.results import compare

    from ..evals.datasets import input_problems

    suite, all_cases, dataset_digest = load_suite(project, suite_file, set(content.spec.inputs))
    missing = input_problems(all_cases, content.spec.inputs)
    if missing:   # a dataset that does not fit the prompt is bad input, not N failing cases
        raise ValidationError(problems=missing)
    positions = {case.id: i for i, case in enumerate(all_cases)} if options.shard else {}
    cases = engine.shard(all_cases, options.shard)
    repeat = options.repeat or suite.repeat
    if repeat < 1:
        raise UsageError("--repeat must be at least 1", field="--repeat")
    from ..evals.suite import k_of_n_problem
    problem = k_of_n_problem(list(suite.gates), repeat)
    if problem:
        raise UsageError(problem, file=suite_file, field="gates",
                         fix="set `repeat:` in the suite or pass --repeat")
    run = execute_suite(project, name, _label(project, name, version), content, suite, cases, dataset_digest,
                   repeat, options, positions)
    run.suite_digest = suite_digest(project, suite_file)
    base_version = resolve_baseline(project, name, options.baseline) if options.baseline else None
    if base_version is not None:
        base_content = load_version(project, name, base_version)
        base = execute_suite(project, name, base_version, base_content, suite, cases, dataset_digest,
                        repeat, options, positions)
        policy = suite.baseline
        run.comparison = compare(base, run, policy.tolerance, policy.alpha, policy.resamples)
    elif options.baseline:
        run.baseline_note = f"none: {name} is not deployed in {options.baseline} yet (gates only)"
    run.suite = suite_file
    if options.record:
        record_run(project, run)
        from .evidence import attest
        run.attested = [r.tag for r in attest(project, run, suite_file, suite, content)]
    return run


def resolve_baseline(project: Project, name: str, baseline: str) -> str | None:
    """A version as given, or the version active for `name` in a release.yaml environment;
    None when that environment does not serve `name` yet (a new prompt has no baseline, and
    the CI recipe `--changed-since ... --baseline production` must not fail on it)."""
    from ..versions import looks_like_version

    bare = baseline.removeprefix("v")
    if looks_like_version(bare) or baseline == WORKING:
        return bare
    from .working_manifest import read_manifest

    envs = read_manifest(project).environments
    if baseline not in envs:
        raise NotFoundError(f"{baseline!r} is neither a version nor an environment",
                            file=project.config.manifest, field="--baseline",
                            fix=f"environments: {', '.join(sorted(envs)) or 'none'}")
    entry = envs[baseline].get(name)
    return entry.active if entry is not None else None


__all__ = ["EvalOptions", "EvalReport", "evaluate", "resolve_baseline"]
