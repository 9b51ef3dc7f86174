import pytest

from promptctl.errors import ReleaseError, UsageError
from promptctl.versions import BumpKind, next_version, parse_level, sort_versions


def test_first_release_is_1_0_0_whatever_the_level():
    assert next_version([], BumpKind.PATCH) == "1.0.0"
    assert next_version([], BumpKind.MAJOR) == "1.0.0"


@pytest.mark.parametrize("level,expected", [
    (BumpKind.PATCH, "2.0.1"), (BumpKind.MINOR, "2.1.0"), (BumpKind.MAJOR, "3.0.0")])
def test_levels(level, expected):
    assert next_version(["1.0.0", "2.0.0"], level) == expected


def test_prerelease_counts_up_then_final():
    assert next_version(["2.0.0"], BumpKind.MINOR, pre="rc") == "2.1.0-rc.1"
    assert next_version(["2.0.0", "2.1.0-rc.1"], BumpKind.MINOR, pre="rc") == "2.1.0-rc.2"
    assert next_version(["2.0.0", "2.1.0-rc.1", "2.1.0-rc.2"], BumpKind.MINOR) == "2.1.0"


def test_explicit_version_must_be_new_and_greater():
    assert next_version(["1.0.0"], "1.5.0") == "1.5.0"
    with pytest.raises(ReleaseError, match="already exists"):
        next_version(["1.0.0"], "1.0.0")
    with pytest.raises(ReleaseError, match="not greater"):
        next_version(["2.0.0"], "1.9.9")


def test_no_change_level_is_refused():
    with pytest.raises(ReleaseError):
        next_version(["1.0.0"], BumpKind.NONE)


def test_parse_level():
    assert parse_level("auto") is None
    assert parse_level("MINOR") is BumpKind.MINOR
    assert parse_level("v2.0.0") == "2.0.0"
    with pytest.raises(UsageError):
        parse_level("2.0")


def test_semver_precedence():
    assert sort_versions(["1.0.0", "1.0.0-rc.10", "1.0.0-rc.2", "0.9.0"]) == [
        "0.9.0", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0"]


def test_explicit_version_with_pre_is_a_pre_release():
    assert next_version(["1.0.0"], "2.0.0", pre="rc") == "2.0.0-rc.1"
    assert next_version(["1.0.0", "2.0.0-rc.1"], "2.0.0", pre="rc") == "2.0.0-rc.2"
    with pytest.raises(UsageError, match="already a pre-release"):
        next_version(["1.0.0"], "2.0.0-rc.1", pre="rc")


def test_a_release_candidate_train_continues_whatever_the_smaller_level():
    existing = ["1.0.0", "2.0.0-rc.1"]
    assert next_version(existing, BumpKind.MINOR, pre="rc") == "2.0.0-rc.2"
    assert next_version(existing, BumpKind.PATCH) == "2.0.0"
    assert next_version(existing, BumpKind.MAJOR, pre="rc") == "2.0.0-rc.2"
    assert next_version(["2.0.0", "2.1.0-rc.1"], BumpKind.MAJOR, pre="rc") == "3.0.0-rc.1"
    assert next_version([], BumpKind.MAJOR, pre="rc") == "1.0.0-rc.1"
