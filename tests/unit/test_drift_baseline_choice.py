"""Which run is a served version's drift baseline: small exact examples."""

from __future__ import annotations

from dataclasses import replace

from promptctl.services.drift_baseline import BaselineRun, Need, candidates, choose, unusable

NEED = Need("qa", "sha256:p", "sha256:s", "sha256:d", "openai", "snap-1", "sha256:k")


def _run(started: str, **over) -> BaselineRun:
    base = BaselineRun("history", started, "1.0.0", "sha256:p", "sha256:s", "sha256:d", "openai",
                       "snap-1", "sha256:k", True, 40, 0, 0.9, id=int(started[-2:]))
    return replace(base, **over)


def test_the_newest_matching_passing_eval_run_is_the_baseline():
    runs = [_run("2026-01-01T00:00:01"), _run("2026-01-02T00:00:02")]
    assert choose(runs, NEED).id == 2


def test_outages_other_models_suites_and_unaccepted_drift_runs_never_are():
    good = _run("2026-01-01T00:00:01")
    bad = [_run("2026-01-05T00:00:05", errors=40, passed=False),     # the provider was down
           _run("2026-01-06T00:00:06", errors=30, accepted=True),    # accepted, but mostly errors
           _run("2026-01-07T00:00:07", model="snap-9"),              # drift --model snap-9
           _run("2026-01-08T00:00:08", suite_digest="sha256:lenient"),
           _run("2026-01-09T00:00:09", params_digest="sha256:hot"),
           _run("2026-01-10T00:00:10", kind="drift"),                # a drift run nobody accepted
           _run("2026-01-11T00:00:11", passed=False)]                # a failing eval
    assert choose([good, *bad], NEED).id == 1
    assert [unusable(r, NEED) for r in bad] == [
        "it did not pass", "most of its calls failed", "another model", "another suite digest",
        "another params digest", "a drift run that nobody accepted", "it did not pass"]


def test_an_accepted_drift_run_replaces_the_baseline_even_below_the_old_level():
    accepted = _run("2026-01-03T00:00:03", kind="drift", accepted=True, passed=False, score=0.6)
    assert choose([_run("2026-01-01T00:00:01"), accepted], NEED).id == 3
    # ... until a newer eval run (a new promotion) comes
    assert choose([accepted, _run("2026-01-04T00:00:04")], NEED).id == 4


def test_since_and_no_candidate():
    assert choose([_run("2026-01-01T00:00:01")], NEED, since="2026-02-01") is None
    assert choose([], NEED) is None


def test_an_attested_run_recorded_here_too_is_taken_once_with_its_case_scores():
    class Row:
        id, started, version, digest, suite_digest = 7, "2026-01-01T00:00:00", "1.0.0", "p", "s"
        dataset_digest, provider, model, params_digest = "d", "openai", "snap-1", "k"
        passed, cases, errors, score, metrics, gates = True, 40, 0, 0.9, {}, []
        kind, accepted = "eval", False

    class Gate:
        def model_dump(self):
            return {"gate": "accuracy >= 0.5", "passed": True}

    class Note:
        time, version, prompt_digest, suite_digest, dataset_digest = Row.started, "1.0.0", "p", "s", "d"
        provider, model, params_digest, passed, cases, errors, score = "openai", "snap-1", "k", True, 40, 0, 0.9
        metrics, gates, tag = {}, [Gate()], "qa/v1.0.0"

    other = type("Later", (Note,), {"time": "2026-02-01T00:00:00"})
    found = candidates([Row()], [Note(), other()])
    assert [(c.source, c.id) for c in found] == [("history", 7), ("attestation", None)]
    assert found[1].label == "the run attested on qa/v1.0.0" and found[0].label == "run #7"
