"""The run of one version of a prompt on a suite: loading the suite and its dataset, the
provider and judge settings, and the engine's run, not recorded (the step `eval` and
`drift` share)."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..errors import NotFoundError, UsageError, ValidationError
from ..model import PromptContent
from .eval_history import state_path
from .project import Project

if TYPE_CHECKING:
    from .evaluate import EvalOptions

CACHE_FILE = "cache.sqlite"


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
    from ..evals import engine
    from ..evals.attestation import params_digest
    from ..evals.cache import ResponseCache
    from ..evals.results import RunResult, summarise
    from ..evals.scoring import Context
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
        context=Context(root=project.root, output_schema=spec.output.json_schema,
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
