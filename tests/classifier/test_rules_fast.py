"""The request path's rule tests agree with the plain definitions they replace.

`keyword_mask` must hit exactly the keyword groups that `word_set` (every
word and candidate phrase) intersects, and each prefiltered pattern test
must equal searching `PATTERNS[name]`. Checked on the bundled texts and on
generated texts built from the fragments the patterns care about (line
starts, list items, indentation, operators, Unicode digits and letters).
"""

from __future__ import annotations

import json
import random

import pytest

from proxy.classifier.lexicon import ACCOUNT_FAQ, KEYWORDS, WEATHER_TIME
from proxy.classifier.rules import PATTERNS, keyword_mask, pattern_matches, word_set

from .golden import DATA, REPO

FRAGMENTS = [
    "\n", "\n", "\n\n", "    ", "\t", " ", "  ", "1. ", "2) ", "10. ", "- ", "* ", "• ", "-", "*", "step one", "x",
    "x = 3", "y<2", "z >", "_x=", "ax=", "2^3", "a ^ 2", "b^ x", "3 + (4", "7×8", "9 ÷ 3", "1-2", "٣+٤", "²", "o(n)",
    "o(n log n)", "foo(x)", "o()", "o(abcdefghijklmn)", "design a cache system", "design the  system",
    "exactly 3", "exactly ", "500 words", "12 words", "$x$", "$5 and $6", "\\frac{a}{b}", "\\leq", "\\le ", "^{2}",
    "```", "def ", "class ", "import ", "#include ", "public ", "fn ", "definitely", ";", "{", "}", "(", ")",
    "return x;", "é", "ß", "İ", "ǅ", "prove", "show that", "step by step", "my card", "top-up", "top up",
    "thread-safe", "what time is it", "first", "then", "c++", "c#", "ci/cd", "don't", "big-o", "lock-free",
    "the", "and then", "in-depth", "today's date", "hi", "what", "how many ways", "r", "\r\n", "\u2028",
]


def generated_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30))) for _ in range(n)]


def corpus_texts() -> list[str]:
    texts = []
    for line in (REPO / "examples" / "traffic.jsonl").read_text(encoding="utf-8").splitlines():
        texts.append(json.loads(line)["messages"][-1]["content"])
    for name in ("sample_dev", "sample_train"):
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts.append(row.get("text") or row["messages"][-1]["content"])
    return texts


TEXTS = [t.lower() for t in corpus_texts()] + generated_texts(3000, 7) + [
    "", "\n", "1. a\n2. b\n3. c", "1. a\n2. b\n3.c", "x\n- a\n- b\n- c\n", "- a\n\n- b\n- c", "    x = f(y);",
    "\tif (x) {", "a\n    return y;\nb", "    return y;  ", "    y;\n", "2 ^ 3", "ø(n)", "_o(n)", "éo(n)", "xo(n)",
]


@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_tests_equal_the_patterns(name):
    pattern = PATTERNS[name][0]
    found = 0
    for text in TEXTS:
        expected = pattern.search(text) is not None
        assert pattern_matches(name, text) == expected, (name, text)
        found += expected
    assert 0 < found < len(TEXTS)  # both outcomes exercised


def word_set_groups(lower: str) -> set[str]:
    found, _ = word_set(lower)
    groups = {name for name, (words, _) in KEYWORDS.items() if not found.isdisjoint(words)}
    if not found.isdisjoint(WEATHER_TIME):
        groups.add("@weather_time")
    if not found.isdisjoint(ACCOUNT_FAQ):
        groups.add("@account_faq")
    groups.update(f"@{w}" for w in ("first", "then") if w in found)
    return groups


def mask_groups(lower: str) -> set[str]:
    from proxy.classifier.rules import _BIT

    mask, words = keyword_mask(lower)
    assert words == word_set(lower)[1]
    return {name for name, bit in _BIT.items() if mask & bit}


def test_keyword_mask_hits_the_groups_word_set_hits():
    rng = random.Random(11)
    keywords = sorted({k for words, _ in KEYWORDS.values() for k in words} | WEATHER_TIME | ACCOUNT_FAQ)
    made = [" ".join(rng.choice(keywords + ["the", "my", "-", "a-b", "what", "top-", "x"]) for _ in range(12))
            for _ in range(2000)]
    hits = 0
    for text in TEXTS + made:
        assert mask_groups(text) == word_set_groups(text), text
        hits += bool(word_set_groups(text))
    assert hits > 1000
