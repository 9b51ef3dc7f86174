"""What drift checks: served versions of a manifest, in memory."""

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
