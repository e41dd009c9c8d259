"""The per-host TLS context cache: minted once, reused, evicted, refreshed before expiry."""

from __future__ import annotations

import time

import pytest

from proxy.interception.ca import load_ca
from proxy.interception.leaves import HostContext, LeafCache


@pytest.fixture
def cache(ca_files) -> LeafCache:
    return LeafCache(load_ca(ca_files.cert, ca_files.key), size=2, validity_days=7)


def test_hit_after_first_mint(cache):
    first = cache.context_for("a.test")
    assert isinstance(first, HostContext) and first.host == "a.test"
    assert cache.context_for("a.test") is first
    assert (cache.stats.minted, cache.stats.hits) == (1, 1)
    assert 0 < cache.stats.last_mint_ms < 1000


def test_least_recently_used_is_evicted(cache):
    a = cache.context_for("a.test")
    cache.context_for("b.test")
    cache.context_for("a.test")
    cache.context_for("c.test")  # evicts b, the least recently used
    assert len(cache) == 2 and cache.stats.evicted == 1
    assert cache.context_for("a.test") is a
    cache.context_for("b.test")
    assert cache.stats.minted == 4


def test_reminted_once_half_the_validity_has_passed(cache, monkeypatch):
    first = cache.context_for("a.test")
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 4 * 86400)
    second = cache.context_for("a.test")
    assert second is not first and cache.stats.minted == 2


def test_tls_1_2_is_the_minimum(cache):
    assert cache.context_for("a.test").minimum_version.name == "TLSv1_2"
