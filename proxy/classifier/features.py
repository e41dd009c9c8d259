"""Tokenization for the TF-IDF stage, shared by training and serving.

Tokenizing in Python (instead of inside the ONNX graph) keeps training and
serving on one code path, so scikit-learn and onnxruntime see exactly the
same tokens; the ONNX graph then only does the TF-IDF weighting and the
linear model. Choices made for generalization beyond the training sources:

* everything is lower-cased (the simple training sources are lower-case, so
  case would otherwise become a shortcut);
* digits collapse to a shape token (`<num>`, `<num4>`), so unseen numbers
  still count as numbers;
* code and maths punctuation is kept as tokens, other punctuation dropped;
* rule markers and a coarse length bucket are added as pseudo-tokens (`§...`),
  letting the model learn how much each marker matters.
"""

from __future__ import annotations

import math
import re
import unicodedata
from itertools import pairwise

from proxy.classifier.request_text import RequestView
from proxy.classifier.rules import RuleResult

_TOKEN = re.compile(r"[^\W\d_]+|\d+|[?=+*/^<>{}()\[\];:$\\`#%|&~-]")
_KEEP_PUNCT = frozenset("?=+*/^<>{}()[];:$\\`#%|&~-")
# The same tokens for ASCII text, where `[^\W\d_]` is `[a-zA-Z]` and `\d` is `[0-9]` (faster to scan).
_ASCII_TOKEN = re.compile(r"[a-zA-Z]+|[0-9]+|[?=+*/^<>{}()\[\];:$\\`#%|&~-]")
_ASCII_DIGIT = re.compile(r"[0-9]")


def bounded_text(text: str, max_chars: int) -> str:
    """Head and tail of a long text: the ask is usually at one end."""
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    return text[:head] + "\n" + text[-(max_chars - head) :]


def normalize(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.lower()


def word_tokens(text: str) -> list[str]:
    # Numbers collapse to two placeholders; every other token (words, kept punctuation) stays as is.
    if text.isascii():
        tokens = _ASCII_TOKEN.findall(text)
        if _ASCII_DIGIT.search(text) is None:
            return tokens  # no token can start with a digit: nothing to collapse
    else:
        tokens = _TOKEN.findall(text)
    return [("<num>" if len(tok) < 4 else "<num4>") if tok[0].isdigit() else tok for tok in tokens]


def _length_bucket(words: int) -> str:
    # log2 buckets, merged at both ends so one extra word rarely flips a bucket.
    return f"§len{min(7, max(1, int(math.log2(words + 1))))}"


_BUCKETS = tuple(_length_bucket(n) for n in range(256))


def length_bucket(words: int) -> str:
    return _BUCKETS[words] if 0 <= words < 256 else _length_bucket(words)


def pseudo_tokens(rules: RuleResult, view: RequestView | None = None) -> list[str]:
    """The `§` tokens of a request: rule markers, length bucket, question form, system prompt."""
    tokens = ["§" + name for name in rules.markers]
    tokens.append(length_bucket(rules.words))
    if rules.factoid:
        tokens.append("§factoid")
    if view is not None and view.system:
        tokens.append("§system")
    return tokens


def analyze(text: str, rules: RuleResult, view: RequestView | None = None) -> list[str]:
    """Tokens of a request: word unigrams and bigrams, markers, length bucket."""
    words = word_tokens(normalize(text))
    tokens = list(words)
    tokens.extend(map(" ".join, pairwise(words)))
    tokens.extend(pseudo_tokens(rules, view))
    return tokens
