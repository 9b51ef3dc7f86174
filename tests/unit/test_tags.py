import pytest

from promptctl.tags import format_message, format_tag, parse_body, parse_digest, parse_tag, tag_prefix

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("name,version", [
    ("support-refund", "2.1.0"), ("support/refund", "1.0.0"), ("a_b/c-d/e", "2.1.0-rc.1"),
    ("x", "1.0.0+build.7"),
])
def test_tag_round_trip(name, version):
    assert parse_tag(format_tag(name, version)) == (name, version)


def test_custom_format_round_trip():
    fmt = "prompts/{name}@{version}"
    tag = format_tag("support/refund", "3.0.0", fmt)
    assert tag == "prompts/support/refund@3.0.0"
    assert parse_tag(tag, fmt) == ("support/refund", "3.0.0")
    assert tag_prefix(fmt) == "prompts/"
    assert tag_prefix(fmt, "x") == "prompts/x@"


@pytest.mark.parametrize("tag", ["support/v1.0", "Support/v1.0.0", "support/v01.0.0", "v1.0.0",
                                 "support/1.0.0", "support/v1.0.0-"])
def test_foreign_tags_do_not_parse(tag):
    assert parse_tag(tag) is None


def test_message_records_digest_and_body():
    message = format_message("support", "1.2.0", DIGEST, "tighter tone\n")
    assert parse_digest(message) == DIGEST
    assert parse_body(message) == "tighter tone"
    assert parse_digest("no trailer here") is None


@pytest.mark.parametrize("fmt", ["v{version}/{name}", "rel-{name}@{version}", "{name}/v{version}/x"])
def test_any_placeholder_order_round_trips(fmt):
    for name, version in [("support/refund", "2.1.0-rc.1"), ("triage", "1.0.0")]:
        assert parse_tag(format_tag(name, version, fmt), fmt) == (name, version)


@pytest.mark.parametrize("fmt, words", [
    ("{name} {version}", "valid git tag"), ("{name}/{version}/{x}", "only {name} and {version}"),
    ("{name}{version}", "separator"), ("{name}..v{version}", "valid git tag"),
    ("{name}/v{version}/{name}", "exactly once"), ("{name}", "exactly once"),
])
def test_bad_formats_are_named(fmt, words):
    from promptctl.tags import check_format
    assert words in check_format(fmt)
