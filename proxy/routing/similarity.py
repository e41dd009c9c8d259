"""A cheap similarity between two answers, for shadow diffs.

Word-set overlap blended with a length ratio: microseconds for typical
answers, no model needed, and good enough to rank which shadowed requests
disagree most. It is a screening signal, not a quality judgment.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def similarity(a: str, b: str) -> float:
    if not a and not b:
        return 1.0
    wa = set(_WORD.findall(a.lower()))
    wb = set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return 1.0 if a.strip() == b.strip() else 0.0
    jaccard = len(wa & wb) / len(wa | wb)
    return round(0.8 * jaccard + 0.2 * length_ratio(a, b), 4)


def length_ratio(a: str, b: str) -> float:
    la, lb = len(a), len(b)
    if la == lb:
        return 1.0
    return round(min(la, lb) / max(la, lb), 4)
