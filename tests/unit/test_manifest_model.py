"""release.yaml in memory: validation with file:line: field, dumping, and the pure edits."""

import json
from datetime import datetime, timezone
from importlib.resources import files

import pytest

from promptctl import manifest as mf
from promptctl import manifest_edits as edits
from promptctl.errors import ManifestError, ValidationError

SPEC_EXAMPLE = """\
environments:
  production:
    support-refund:
      active: 2.0.0
      canary: {version: 2.1.0, weight: 5, started: 2026-11-20T10:00:00Z}
      model: gpt-4o-2024-08-06
      segments:
        enterprise: {active: 1.4.0}
  staging:
    support-refund: {active: 2.1.0}
"""
T0 = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
T1 = datetime(2026, 11, 21, 10, tzinfo=timezone.utc)


def example() -> mf.Manifest:
    return mf.parse_manifest(SPEC_EXAMPLE)


def test_spec_example_parses_and_round_trips():
    m = example()
    entry = m.entry("production", "support-refund")
    assert entry.active == "2.0.0" and entry.model == "gpt-4o-2024-08-06"
    assert entry.canary.version == "2.1.0" and entry.canary.weight == 5 and entry.canary.started == T0
    assert entry.segments["enterprise"].active == "1.4.0"
    assert mf.parse_manifest(mf.dump_manifest(m)) == m


def test_dump_keeps_a_readable_key_order_and_integral_weights():
    text = mf.dump_manifest(example())
    order = [text.index(k) for k in ("active:", "canary:", "version:", "weight: 5\n", "model:", "segments:")]
    assert order == sorted(order)
    assert text.index("production") < text.index("staging")


@pytest.mark.parametrize("body, field, words", [
    ("    p:\n      active: 2.0\n", "environments.production.p.active", "not a semantic version"),
    ("    p:\n      active: 1.0.0\n      canary: {version: 1.1.0, weight: 5.001}\n",
     "environments.production.p.canary.weight", "two decimals"),
    ("    p:\n      active: 1.0.0\n      canary: {version: 1.1.0, weight: 150}\n",
     "environments.production.p.canary.weight", "100"),
    ("    p:\n      active: 1.0.0\n      actve: 1.0.0\n", "environments.production.p.actve", "unknown field"),
    ("    p:\n      canary: {version: 1.1.0, weight: 5}\n", "environments.production.p.active", "required"),
    ("    Bad Name:\n      active: 1.0.0\n", "environments.production.Bad Name.[key]", "prompt name"),
])
def test_invalid_manifests_name_file_line_and_field(body, field, words):
    with pytest.raises(ValidationError) as info:
        mf.parse_manifest("environments:\n  production:\n" + body, "release.yaml")
    problem = info.value.problems[0]
    assert problem.file == "release.yaml" and problem.field == field
    assert problem.line is not None and problem.line >= 2
    assert words in problem.message


def test_promote_sets_active_and_clears_a_canary_of_that_version():
    m, change = edits.promote(example(), "production", "support-refund", "2.1.0")
    entry = m.entry("production", "support-refund")
    assert (entry.active, entry.canary) == ("2.1.0", None)
    assert entry.model == "gpt-4o-2024-08-06" and "enterprise" in entry.segments
    assert change.previous == "2.0.0"
    assert change.summary() == "promote support-refund 2.1.0 to production"


def test_promote_of_another_version_keeps_the_running_canary():
    m, _ = edits.promote(example(), "production", "support-refund", "1.9.0")
    assert m.entry("production", "support-refund").canary.version == "2.1.0"


def test_promote_to_a_segment_needs_a_default_entry():
    m, change = edits.promote(example(), "production", "support-refund", "1.5.0", segment="enterprise")
    assert m.entry("production", "support-refund").segments["enterprise"].active == "1.5.0"
    assert change.summary() == "promote support-refund 1.5.0 to production/enterprise"
    with pytest.raises(ManifestError, match="no default version"):
        edits.promote(example(), "production", "triage", "1.0.0", segment="enterprise")


def test_reweight_keeps_started_and_salt_new_version_restarts():
    m, change = edits.canary(example(), "production", "support-refund", "2.1.0", 50, now=T1)
    c = m.entry("production", "support-refund").canary
    assert (c.weight, c.started) == (50, T0)
    assert change.summary() == "canary support-refund 2.1.0 at 50% in production"
    m, _ = edits.canary(example(), "production", "support-refund", "2.2.0", 2.5, now=T1)
    c = m.entry("production", "support-refund").canary
    assert (c.version, c.weight, c.started) == ("2.2.0", 2.5, T1)


@pytest.mark.parametrize("weight", [-1, 100.5, 1.234])
def test_canary_weight_out_of_range_is_refused(weight):
    with pytest.raises(ManifestError, match="weight"):
        edits.canary(example(), "production", "support-refund", "2.1.0", weight)


def test_weight_zero_stops_and_keeps_the_record():
    m, change = edits.canary(example(), "production", "support-refund", "2.1.0", 0, now=T1)
    c = m.entry("production", "support-refund").canary
    assert (c.version, c.weight, c.started, c.stopped) == ("2.1.0", 0, T0, T1)
    assert not c.running and change.action == "stop"
    with pytest.raises(ManifestError, match="no running canary"):
        edits.canary(m, "production", "support-refund", "2.1.0", 0)
    with pytest.raises(ManifestError, match="is 2.1.0, not 9.9.9"):
        edits.canary(example(), "production", "support-refund", "9.9.9", 0)


def test_canary_needs_an_active_version_and_a_different_one():
    with pytest.raises(ManifestError, match="no active version"):
        edits.canary(example(), "production", "triage", "1.0.0", 5)
    with pytest.raises(ManifestError, match="already active"):
        edits.canary(example(), "production", "support-refund", "2.0.0", 5)


def test_rollback_stops_a_running_canary_first_then_restores_a_version():
    m, change = edits.rollback(example(), "production", "support-refund", now=T1)
    assert change.action == "stop" and m.entry("production", "support-refund").active == "2.0.0"
    with pytest.raises(ManifestError, match="--to"):
        edits.rollback(m, "production", "support-refund")
    m, change = edits.rollback(m, "production", "support-refund", to="1.9.0")
    assert m.entry("production", "support-refund").active == "1.9.0"
    assert change.summary() == "rollback support-refund to 1.9.0 in production"
    assert "Promptctl-Previous: 2.0.0" in change.trailers()


def test_segment_lookup_falls_back_to_the_default_entry():
    m = example()
    assert m.target("production", "support-refund", "enterprise").active == "1.4.0"
    assert m.target("production", "support-refund", "unknown").active == "2.0.0"
    assert m.exact("production", "support-refund", "unknown") is None


def test_shipped_json_schema_is_generated_from_the_model():
    shipped = json.loads(files("promptctl").joinpath("schemas/manifest.schema.json").read_text())
    assert shipped == json.loads(json.dumps(mf.json_schema()))
    assert "environments" in shipped["properties"]


def test_editors_can_check_release_yaml_with_the_shipped_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml
    schema = json.loads(files("promptctl").joinpath("schemas/manifest.schema.json").read_text())
    good = yaml.safe_load(SPEC_EXAMPLE.replace("2026-11-20T10:00:00Z", "'2026-11-20T10:00:00Z'"))
    jsonschema.validate(good, schema)
    bad = yaml.safe_load("environments: {production: {p: {active: 1.0.0, canary: "
                         "{version: 1.1.0, weight: 150}, colour: red}}}")
    errors = {e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(bad)}
    assert any("150" in m for m in errors) and any("colour" in m for m in errors)


def test_edits_keep_the_entry_policy_and_pin():
    # a per-entry canary policy (analysis) or model pin is the user's; no edit may drop it
    m = mf.parse_manifest("""\
environments:
  production:
    support-refund:
      active: 2.0.0
      model: gpt-4o-2024-08-06
      analysis: {min_calls: 50}
      segments:
        enterprise: {active: 1.4.0, analysis: {min_calls: 7}}
""")
    m, _ = edits.canary(m, "production", "support-refund", "2.1.0", 5, now=T0)
    m, _ = edits.stop(m, "production", "support-refund", now=T1)
    m, _ = edits.promote(m, "production", "support-refund", "2.1.0")
    m, _ = edits.rollback(m, "production", "support-refund", to="2.0.0")
    m, _ = edits.promote(m, "production", "support-refund", "1.5.0", "enterprise")
    entry = m.entry("production", "support-refund")
    assert entry.analysis == {"min_calls": 50} and entry.model == "gpt-4o-2024-08-06"
    assert entry.segments["enterprise"].analysis == {"min_calls": 7}
    assert "min_calls: 50" in mf.dump_manifest(m)


def test_a_canary_on_a_segment_without_an_entry_says_which_promote_to_run():
    m = example()
    with pytest.raises(ManifestError) as info:
        edits.canary(m, "production", "support-refund", "2.1.0", 5, "vip", now=T0)
    assert "--env production --segment vip` first" in info.value.one_line()
