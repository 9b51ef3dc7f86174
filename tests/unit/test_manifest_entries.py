"""Cutting a past release.yaml into entries without parsing it: only the layout promptctl
writes is cut; anything else is left to the full parser, which must give the same."""

import pytest

from promptctl.manifest import Manifest, dump_manifest
from promptctl.services.manifest_history import split_entries

WRITTEN = dump_manifest(Manifest.model_validate({"environments": {
    "production": {"support/refund": {"active": "1.0.0", "canary": {"version": "1.1.0", "weight": 5},
                                      "segments": {"enterprise": {"active": "1.1.0"}}},
                   "triage": {"active": "2.0.0"}},
    "staging": {"triage": {"active": "2.1.0"}}}}))


def test_the_layout_promptctl_writes_is_cut_into_entries_in_file_order():
    entries = split_entries(WRITTEN)
    assert list(entries) == [("production", "support/refund"), ("production", "triage"),
                             ("staging", "triage")]
    assert entries[("staging", "triage")].strip() == "active: 2.1.0"
    assert "enterprise:" in entries[("production", "support/refund")]


def test_comments_and_blank_lines_are_part_of_the_layout():
    text = "# what runs where\nenvironments:\n\n  production:\n    # the refund bot\n    triage:\n      active: 1.0.0 # pinned\n"
    assert split_entries(text) == {("production", "triage"): "      active: 1.0.0 # pinned\n"}


@pytest.mark.parametrize("text", [
    "environments: {}\n",                                                     # flow style
    "environments:\n  production: {triage: {active: 1.0.0}}\n",
    "environments:\n  production:\n    triage: {active: 1.0.0}\n",
    "environments:\n  production:\n    'triage':\n      active: 1.0.0\n",        # quoted key
    "environments:\n  production:\n    yes:\n      active: 1.0.0\n",           # YAML reads a bool
    "environments:\n  production:\n    2026-01-02:\n      active: 1.0.0\n",    # ... a date
    "environments:\n  production:\n    1_000:\n      active: 1.0.0\n",         # ... an int
    "environments:\n  production:\n    Triage:\n      active: 1.0.0\n",        # not a prompt name
    "environments:\n  production:\n    triage:\n      active: 1.0.0\n    triage:\n      active: 2.0.0\n",
    "environments:\n  production:\n    a:\n      active: 1.0.0\n  production:\n    b:\n      active: 1.0.0\n",
    "environments:\n  production:\n  staging:\n    a:\n      active: 1.0.0\n",   # an empty env
    "environments:\n  production:\n",
    "environments:\n  production:\n    a: &x\n      active: 1.0.0\n    b: *x\n",   # anchors
    "environments:\n  production:\n    a:\n     active: 1.0.0\n",             # five spaces
    "environments:\n  production:\n    a:\n\tactive: 1.0.0\n",
    "environments:\n  production:\n      stray: 1\n    a:\n      active: 1.0.0\n",
    "version: 2\nenvironments:\n  production:\n    a:\n      active: 1.0.0\n",  # another top key
    "environments:\n  production:\n    a:\n      active: 1.0.0\nenvironments:\n  staging:\n    a:\n      active: 1.0.0\n",
    "",
])
def test_any_other_layout_is_left_to_the_full_parser(text):
    assert split_entries(text) is None
