"""What drift checks: served versions of a manifest, in memory."""

import pytest

from promptctl.manifest import parse_manifest
from promptctl.services.drift import parse_since, served_versions

MANIFEST = """\
environments:
  production:
    qa:
      active: 2.0.0
      canary: {version: 2.1.0, weight: 5}
      model: snap-a
      segments:
        enterprise: {active: 1.4.0, canary: {version: 1.5.0, weight: 0}}
  staging:
    qa: {active: 2.0.0, model: snap-a}
    faq: {active: 1.0.0}
"""


def test_active_running_canaries_and_segments_deduplicated():
    served = served_versions(parse_manifest(MANIFEST))
    found = {(s.name, s.version, s.model): s.where for s in served}
    assert found == {
        ("qa", "2.0.0", "snap-a"): ("production", "staging"),
        ("qa", "2.1.0", "snap-a"): ("production (canary 5%)",),
        ("qa", "1.4.0", None): ("production/enterprise",),
        ("faq", "1.0.0", None): ("staging",),
    }   # the stopped canary 1.5.0 (weight 0) is not served


def test_one_env_and_model_override():
    served = served_versions(parse_manifest(MANIFEST), env="staging", model="snap-b")
    assert {(s.name, s.version, s.model) for s in served} == {("qa", "2.0.0", "snap-b"),
                                                             ("faq", "1.0.0", "snap-b")}


def test_since_is_normalised_to_utc():
    assert parse_since("2026-11-01") == "2026-11-01T00:00:00+00:00"
    assert parse_since("2026-11-01T12:00:00+02:00") == "2026-11-01T10:00:00+00:00"
    assert parse_since(None) is None


def _run(values: list[float]):
    from promptctl.evals.results import CaseResult, MetricInfo, RunResult, summarise
    cases = [CaseResult(id=f"c{i}", sample=0, inputs={}, expected=None, tags=[], output="",
                        error=None, scores={"acc": v}) for i, v in enumerate(values)]
    run = RunResult(prompt="qa", version="1.0.0", digest="d", provider="p", model="m",
                    dataset_digest="x", metrics=[MetricInfo("acc", "exact")], gates=[],
                    max_errors=0, cases=cases, started="2026-11-25T00:00:00+00:00")
    run.summary = summarise(run)
    return run


def _row(mean: float, cases: int):
    from promptctl.evals.history import HistoryRow
    return HistoryRow(id=7, prompt="qa", version="1.0.0", digest="d", provider="p", model="old",
                      dataset_digest="x", cases=cases, errors=0, score=mean,
                      metrics={"acc": mean}, gates=[], passed=True, baseline=None,
                      regressed=False, shard=None, started="2026-10-01T00:00:00+00:00",
                      duration_s=1.0)


def test_unpaired_two_proportion_test_matches_the_formula():
    import math

    from promptctl.services.drift import compare_with_history
    # 0.9 of 100 then 0.8 of 100: z = -0.1 / sqrt(.09/100 + .16/100) = -2, p = 0.0455.
    comp = compare_with_history(_row(0.9, 100), None, _run([1.0] * 80 + [0.0] * 20), 0.02, 0.05)
    acc = comp["metrics"]["acc"]
    assert comp["method"] == "unpaired" and acc["test"] == "two_proportion_z"
    assert acc["delta"] == pytest.approx(-0.1) and acc["p"] == pytest.approx(0.0455, abs=1e-4)
    assert acc["low"] == pytest.approx(-0.1 - 1.96 * 0.05, abs=1e-3) and acc["regression"]
    assert comp["baseline_model"] == "old" and comp["baseline_run"] == 7
    # The same drop on 20 cases is not significant: no regression claimed.
    small = compare_with_history(_row(0.9, 20), None, _run([1.0] * 16 + [0.0] * 4), 0.02, 0.05)
    assert not small["regressed"] and small["metrics"]["acc"]["p"] > 0.05
    assert math.isfinite(small["metrics"]["acc"]["high"])


def test_history_from_before_case_scores_is_migrated(tmp_path):
    import sqlite3

    from promptctl.evals.history import SCHEMA, History
    path = tmp_path / "history.sqlite"
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)        # the table as older releases created it: no case_scores
    db.execute("INSERT INTO runs (prompt, version, digest, dataset_digest, cases, score, metrics, "
               "passed, started) VALUES ('qa', '1.0.0', 'd', 'x', 100, 0.9, '{\"acc\": 0.9}', 1, "
               "'2026-10-01T00:00:00+00:00')")
    db.commit()
    db.close()
    history = History(path)
    try:
        old = history.last_run("qa", "d", "x")
        assert old.metrics == {"acc": 0.9} and history.case_scores(old.id) is None
        new_id = history.record(_run([1.0, 0.0]))
        assert history.case_scores(new_id) == [
            {"id": "c0", "sample": 0, "error": False, "scores": {"acc": 1.0}},
            {"id": "c1", "sample": 0, "error": False, "scores": {"acc": 0.0}}]
        assert history.last_run("qa", "d", "x", since="2026-11-01").id == new_id
    finally:
        history.close()
