"""A small policy with explicit prices, so expected costs can be computed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FAQ = "What are your opening hours on Sunday?"
HARD = ("Prove that for every prime p > 3, p^2 - 1 is divisible by 24, then generalize the argument "
        "to p^4 - 1 and write a Python function that verifies it for the first 10,000 primes.")
# USD per million tokens: round numbers make the hand computation exact to read.
PRICES = {"big-model": (10.0, 20.0), "mid-model": (4.0, 8.0), "cheap-model": (1.0, 2.0)}


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    policy = {
        "tiers": {"simple": {"model": "cheap-model"}, "standard": {"model": "mid-model"},
                  "complex": {"model": "big-model"}},
        "never_upgrade": True,
        "classifier": {"stages": ["rules", "tfidf"], "model_dir": str(ROOT / "policies" / "models"),
                       "exemplars": str(ROOT / "policies" / "exemplars" / "exemplars.yaml")},
        "prices": {m: {"input_per_mtok": i, "output_per_mtok": o} for m, (i, o) in PRICES.items()},
    }
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


@pytest.fixture
def config_path(tmp_path: Path, policy_path: Path) -> Path:
    path = tmp_path / "proxy.yaml"
    path.write_text(yaml.safe_dump({"policy": policy_path.name}))
    return path


def cost(model: str, tokens_in: int, tokens_out: int) -> float:
    price_in, price_out = PRICES[model]
    return tokens_in * price_in / 1e6 + tokens_out * price_out / 1e6
