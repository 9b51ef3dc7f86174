"""Canary routing: published vectors, stickiness across weights, and the share of traffic."""

import hashlib

import pytest

from promptctl.runtime import routing

SALT = "support-refund:production::2.1.0"
# Published in docs/runtime.md: other implementations (a proxy, a JS client) must agree.
VECTORS = [("user-1", 1529), ("user-2", 9112), ("alice", 4945), ("42", 2662)]


@pytest.mark.parametrize("key, expected", VECTORS)
def test_published_vectors(key, expected):
    assert routing.bucket(SALT, key) == expected
    spelled_out = int(hashlib.sha1(f"{SALT}.{key}".encode()).hexdigest()[:15], 16) % 10000
    assert spelled_out == expected


def test_default_salt_names_prompt_env_segment_and_version():
    assert routing.default_salt("support-refund", "production", None, "2.1.0") == SALT
    assert routing.default_salt("a", "prod", "enterprise", "1.0.0") == "a:prod:enterprise:1.0.0"


def test_raising_the_weight_keeps_every_canary_key():
    keys = [f"user-{i}" for i in range(20_000)]
    at5 = {k for k in keys if routing.in_canary(SALT, k, 5)}
    at50 = {k for k in keys if routing.in_canary(SALT, k, 50)}
    assert at5 and at5 <= at50


@pytest.mark.parametrize("weight", [1, 5, 12.5, 50, 95])
def test_share_within_one_point_over_20000_keys(weight):
    hits = sum(routing.in_canary(SALT, f"k{i}", weight) for i in range(20_000))
    assert abs(hits / 200 - weight) <= 1


def test_edges_and_keyless_calls():
    assert not any(routing.in_canary(SALT, i, 0) for i in range(1000))
    assert all(routing.in_canary(SALT, i, 100) for i in range(1000))
    assert routing.threshold(0.01) == 1 and routing.threshold(33.33) == 3333
    share = sum(routing.in_canary(SALT, None, 30) for _ in range(20_000)) / 200
    assert abs(share - 30) <= 1.5
