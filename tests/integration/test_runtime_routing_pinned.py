"""The variant the running registry serves for a key is the one `routing` gives: pinned for
a few keys, so a change in how the registry asks for its bucket cannot re-shuffle users who
are already in (or out of) a canary."""

from __future__ import annotations

import pytest

from promptctl.runtime import routing
from promptctl.runtime.registry import Registry
from promptctl.services import deploy
from promptctl.services.project import open_project

SALT = "support-refund:production::1.1.0"
# (key, bucket, variant) at weight 20 (threshold 2000), as served before the registry
# delegated its choice to routing.
PINNED = [("user-0", 7384, "stable"), ("user-3", 2398, "stable"), ("user-4", 892, "canary"),
          ("user-11", 206, "canary"), ("user-12", 1503, "canary"), ("user-31", 2166, "stable"),
          ("user-39", 764, "canary")]


def _registry(root, weight: float) -> Registry:
    project = open_project(root)
    deploy.promote(project, "support-refund", "1.0.0", "production", why="first")
    deploy.canary(project, "support-refund", "1.1.0", "production", weight, why="try")
    return Registry.open(root, env="production")


def test_pinned_keys_get_the_same_variant_and_bucket(deploy_repo):
    reg = _registry(deploy_repo, 20)
    served = [(k, reg.get("support-refund", key=k)) for k, _, _ in PINNED]
    assert [(k, p.bucket, p.variant) for k, p in served] == PINNED
    assert all(p.threshold == 2000 for _, p in served)
    assert {p.version for _, p in served if p.variant == "canary"} == {"1.1.0"}


@pytest.mark.parametrize("weight", [0.5, 37.5])
def test_registry_serves_what_routing_in_canary_says(deploy_repo, weight):
    reg = _registry(deploy_repo, weight)
    keys = [f"k{i}" for i in range(400)]
    served = {k for k in keys if reg.get("support-refund", key=k).variant == "canary"}
    assert served == {k for k in keys if routing.in_canary(SALT, k, weight)}


def test_a_call_without_a_key_draws_a_bucket_in_range(deploy_repo):
    reg = _registry(deploy_repo, 50)
    calls = [reg.get("support-refund") for _ in range(400)]
    assert all(0 <= p.bucket < routing.BUCKETS and (p.bucket < 5000) == (p.variant == "canary")
               for p in calls)
    assert 100 < sum(p.variant == "canary" for p in calls) < 300
