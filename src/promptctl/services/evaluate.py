"""Services of `promptctl eval`: run suites, compare with a baseline, merge shards, history.

Everything here returns values; the CLI decides how to show them.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..errors import NotFoundError, UsageError, ValidationError
from ..model import PromptContent
from ..prompt_files import list_prompt_names
from .project import WORKING, Project, load_version, split_ref

HISTORY_FILE = "history.sqlite"
CACHE_FILE = "cache.sqlite"


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


def state_path(project: Project, key: str, default: str) -> Path:
    """Where the eval history or response cache lives (`eval.history` / `eval.cache`)."""
    from ..config import eval_settings

    configured = getattr(eval_settings(project.config), key)
    return project.root / (configured or f"{project.config.state_dir}/{default}")


# ---------------------------------------------------------------- eval

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
        _record(project, run)
        from .evidence import attest
        run.attested = [r.tag for r in attest(project, run, suite_file, suite, content)]
    return run


def suite_digest(project: Project, suite_file: str) -> str:
    """The digest attestations and drift baselines match a run's suite on."""
    from ..evals.attestation import text_digest
    return text_digest(project.working.read(suite_file) or "")


def load_suite(project: Project, suite_file: str, declared: set[str] | None = None):
    from ..evals.datasets import load_cases
    from ..evals.suite import parse_suite

    text = project.working.read(suite_file)
    if text is None:
        raise NotFoundError("suite file not found", file=suite_file)
    suite = parse_suite(text, suite_file)
    folder = suite_file.rsplit("/", 1)[0] if "/" in suite_file else "."
    cases, digest = load_cases(lambda p: project.working.read(f"{folder}/{p}"), suite.datasets,
                               suite_file, declared)
    if not cases:
        raise ValidationError("the dataset has no cases", file=suite_file, field="dataset",
                              fix="add at least one case")
    return suite, cases, digest


def execute_suite(project: Project, name: str, version: str, content: PromptContent, suite,
                  cases, dataset_digest: str, repeat: int, options: EvalOptions,
                  positions: dict[str, int]):
    """Run one version of a prompt on a loaded suite and return its RunResult (not recorded):
    the step `eval` and `drift` share."""
    from ..evals import engine, scorers
    from ..evals.attestation import params_digest
    from ..evals.cache import ResponseCache
    from ..evals.results import RunResult, summarise
    from ..providers import make_provider
    from ..render import compile_content, output_request, tool_dict

    spec = content.spec
    kind = options.provider or suite.provider or spec.model.provider
    model = options.model or suite.model or spec.model.name
    params = dict(spec.model.params if suite.params is None else suite.params)
    settings = _settings(project, kind, suite, options)
    try:
        with _blame(_provider_origin(project, name, suite, options)):
            provider = make_provider(settings, project.root)
    except UsageError as exc:
        if options.provider and exc.field == "provider":
            raise exc.reworded(field="--provider") from exc
        raise
    judge = None
    if any(m.type == "llm_judge" for m in suite.metrics):
        judge_kind = suite.judge.provider or kind
        with _blame(_suite_path(project, name, options), "judge"):
            judge = provider if judge_kind == kind else make_provider(
                _settings(project, judge_kind, suite, options), project.root)
    cache = None
    if not options.no_cache and kind != "echo":
        cache = ResponseCache(state_path(project, "cache", CACHE_FILE))
    compiled = compile_content(content, f"{name}@{version}")
    progress = options.on_progress
    plan = engine.Plan(
        render=compiled.render, cases=cases, metrics=list(suite.metrics), provider=provider,
        model=model, params=params, repeat=repeat,
        concurrency=options.concurrency or suite.concurrency, cache=cache, judge=judge,
        judge_model=suite.judge.model or model, judge_params=dict(suite.judge.params),
        prices=project.config.prices,
        context=scorers.Context(root=project.root, output_schema=spec.output.json_schema,
                                tools=tuple(tool_dict(t) for t in spec.tools)),
        on_progress=(lambda done, total: progress(f"{name}@{version}", done, total))
        if progress else None, positions=positions,
        tools=compiled.render_tools if spec.tools else None, tool_choice=spec.tool_choice,
        output=output_request(spec), name=name)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    try:
        with _blame(_suite_path(project, name, options), "metrics"):   # python scorers load here
            results = engine.run(plan)
    finally:
        if cache is not None:
            cache.close()
    run = RunResult(prompt=name, version=version, digest=content.digest, provider=kind,
                    model=model, dataset_digest=dataset_digest,
                    metrics=engine.metric_infos(list(suite.metrics)), gates=list(suite.gates),
                    max_errors=suite.max_errors, cases=results, shard=options.shard,
                    started=started, duration_s=round(time.perf_counter() - clock, 3),
                    params_digest=params_digest(params))
    run.summary = summarise(run)
    return run


def _suite_path(project: Project, name: str, options: EvalOptions) -> str:
    return options.suite or f"{project.config.evals_dir}/{name}/suite.yaml"


def _provider_origin(project: Project, name: str, suite, options: EvalOptions) -> str | None:
    """The file whose `provider` a run uses: the suite, else the prompt; None for --provider."""
    if options.provider:
        return None
    if suite.provider:
        return _suite_path(project, name, options)
    return f"{project.config.prompts_dir}/{name}/prompt.yaml"


@contextmanager
def _blame(file: str | None, prefix: str | None = None):
    """Errors raised while loading what a suite names (provider, scorer functions) point at it."""
    try:
        yield
    except (UsageError, NotFoundError) as exc:
        if exc.file is not None or file is None:
            raise
        field = f"{prefix}.{exc.field}" if prefix and exc.field else exc.field
        raise exc.reworded(file=file, field=field) from exc


def _settings(project: Project, kind: str, suite, options: EvalOptions):
    from ..providers import ProviderSettings

    conf = provider_conf(project.config, kind)

    def pick(key: str):
        # The suite wins when it sets a value; then promptctl.yaml; then the suite's default.
        if key in suite.model_fields_set or key not in conf:
            return getattr(suite, key)
        return conf[key]

    from ..pymodules import referenced_files, source_digest
    digest = source_digest(project.root, referenced_files(project.root, [kind])) \
        if kind.startswith("python:") else ""
    return ProviderSettings(kind=kind, base_url=pick("base_url"), api_key_env=pick("api_key_env"),
                            timeout=float(pick("timeout")), retries=int(pick("retries")),
                            max_response_bytes=int(pick("max_response_bytes")),
                            rpm=pick("rpm"),
                            concurrency=int(options.concurrency or pick("concurrency")),
                            source_digest=digest)


def provider_conf(config, kind: str) -> dict:
    """promptctl.yaml's `providers.<kind>` settings that it sets (validated when loaded),
    with an Azure deployment as its base URL."""
    from ..config import provider_settings

    settings = provider_settings(config, kind)
    if settings is None:
        return {}
    conf = {key: getattr(settings, key) for key in settings.model_fields_set if key != "azure"}
    if settings.azure is not None:
        from ..providers.openai import azure_base_url
        azure = settings.azure
        conf["base_url"] = azure_base_url(azure.endpoint, azure.deployment, azure.api_version)
    return conf


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


def _record(project: Project, run) -> None:
    from ..evals.history import History

    history = History(state_path(project, "history", HISTORY_FILE))
    try:
        history.record(run)
    finally:
        history.close()


# ---------------------------------------------------------------- history, merge, require

def history(project: Project, name: str | None, limit: int = 20) -> list:
    """`promptctl eval history NAME`: this machine's runs and the attested ones (git notes,
    from any clone), newest first; a run found in both is marked `local+attested`."""
    from ..evals.history import History
    from .evidence import attested_rows

    path = state_path(project, "history", HISTORY_FILE)
    local = []
    if path.exists():
        store = History(path)
        try:
            local = store.rows(name, limit)
        finally:
            store.close()
    return attested_rows(project, name, local)[:limit]


def merge(project: Project, files: list[Path], record: bool = True) -> EvalReport:
    """`promptctl eval merge`: join shard JSON results into whole runs, re-summarised, and
    record (and attest) them."""
    report = join_shards(files)
    if record:
        record_merged(project, report)
    return report


def join_shards(files: list[Path]) -> EvalReport:
    """Shard JSON results joined into whole runs, re-summarised; needs no repo, so
    `eval merge --no-record` works anywhere."""
    from ..evals.results import RunResult

    groups: dict[tuple, list] = {}
    for file in files:
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
            runs = [RunResult.from_dict(r) for r in data["runs"]]
        except FileNotFoundError as exc:
            raise NotFoundError("file not found", file=str(file)) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ValidationError(f"not a promptctl eval JSON result ({exc})", file=str(file),
                                  fix="produce it with `promptctl eval ... --format json`") from exc
        for run in runs:
            key = (run.prompt, run.version, run.digest, run.model, run.dataset_digest)
            groups.setdefault(key, []).append(run)
    report = EvalReport()
    for parts in groups.values():
        _check_complete(parts)
        report.runs.append(_joined(parts))
    return report


def _joined(parts: list) -> Any:
    """The shards of one run as that run: each case once, in suite order."""
    from ..evals.results import summarise

    seen: set = set()
    cases = []
    for part in parts:
        for case in part.cases:
            if case.key not in seen:
                seen.add(case.key)
                cases.append(case)
    cases.sort(key=lambda c: (c.index, c.sample))
    merged = replace(parts[0], cases=cases, shard=None, comparison=None,
                     duration_s=round(max(p.duration_s for p in parts), 3))
    merged.summary = summarise(merged)
    return merged


def record_merged(project: Project, report: EvalReport) -> None:
    """Record merged runs in this machine's history and attest the complete ones."""
    for run in report.runs:
        _record(project, run)
        _attest_merged(project, run)


def _attest_merged(project: Project, run) -> None:
    """A merged run is complete: attest it like a single run, with the suite as it is here."""
    from .evidence import attest

    if not run.suite or project.working.read(run.suite) is None:
        return     # results written before runs named their suite
    suite, _, dataset_digest = load_suite(project, run.suite)
    if dataset_digest != run.dataset_digest:
        return     # the dataset changed since the shards ran: the run proves nothing of it
    content = load_version(project, run.prompt, run.version)
    if content.digest == run.digest:
        run.attested = [r.tag for r in attest(project, run, run.suite, suite, content)]


def _check_complete(parts: list) -> None:
    """A merged run counts as complete (for gates and --require-eval) only with every shard."""
    specs = {p.shard for p in parts}
    if None in specs:
        return   # an unsharded run is whole by itself
    first = parts[0]
    where = f"{first.prompt}@{first.version}"
    try:
        pairs = {(int(spec.split("/")[0]), int(spec.split("/")[1])) for spec in specs}
    except (ValueError, IndexError, AttributeError) as exc:
        raise UsageError(f"shard {sorted(map(str, specs))} is not I/N", field=where,
                         fix="merge files written by `promptctl eval --shard I/N`") from exc
    totals = {total for _, total in pairs}
    if len(totals) > 1:
        raise UsageError(f"shards of different splits ({', '.join(sorted(specs))})", field=where,
                         fix="merge the files of one `--shard I/N` run")
    total = totals.pop()
    missing = sorted(set(range(1, total + 1)) - {index for index, _ in pairs})
    if missing:
        raise UsageError(f"shard {', '.join(f'{i}/{total}' for i in missing)} missing", field=where,
                         fix="pass the JSON result of every shard")


def require_eval(project: Project, name: str, version_digest: str) -> bool:
    """True when this machine's history holds a complete passing run of this content digest.

    Deploy gates do not use it: `--require-eval` trusts only attestations in git notes
    (services.evidence), which every clone can see."""
    from ..evals.history import History

    path = state_path(project, "history", HISTORY_FILE)
    if not path.exists():
        return False
    store = History(path)
    try:
        return store.passing_run(name, version_digest) is not None
    finally:
        store.close()


__all__ = ["EvalOptions", "EvalReport", "evaluate", "execute_suite", "history", "merge",
           "require_eval", "resolve_baseline"]
