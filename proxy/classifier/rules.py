"""Stage 1: precompiled regex and keyword heuristics.

Rules do two things. They find *markers* of hard work (proofs, code, maths
notation, multi-step instructions, constraints, long context, tools) that
must never land on the simple tier, whatever a statistical model trained on
narrow sources thinks; and they recognise a few *known simple intents*
(greetings, device commands, account FAQs) that are safe to send down.
The same markers feed the TF-IDF stage as pseudo-tokens, so the learned
model sees them too.

Markers only ever raise the score floor and simple intents only cap it when
no marker fired: the rules are deliberately asymmetric ("when in doubt,
route up").
"""

from __future__ import annotations

import re
from itertools import compress, count
from typing import NamedTuple

from proxy.classifier.lexicon import (
    ACCOUNT_FAQ,
    ASSISTANT_VERBS,
    KEYWORDS,
    WEATHER_TIME,
)
from proxy.classifier.request_text import RequestView

# Structural markers that words cannot express: notation, code layout, lists.
# Applied to the lower-cased text; each pattern starts with a literal or a
# simple class so the scan stays linear.
PATTERNS: dict[str, tuple[re.Pattern[str], int]] = {
    "latex": (re.compile(
        r"\\(?:frac|int|sum|sqrt|lim|begin|cdot|times|alpha|beta|theta|infty|mathbb|le|ge|neq|boxed)\b"
        r"|\$[^$\n\d\s][^$\n]{0,80}\$|\^\{"), 1),
    "math": (re.compile(r"\d *[-+*/^×÷=] *\(?\d|[a-z] *\^ *\d|\b[xyz] *[=<>]"), 1),
    "code_block": (re.compile(r"```|^(?: {4,}|\t)\S[^\n]*[;{}()]$|^(?:def|class|import|#include|public|fn) ", re.MULTILINE), 1),
    "hard_code": (re.compile(r"\bo\([^)\n]{1,12}\)|design (?:a|an|the) \w+ system"), 2),
    "constraints": (re.compile(r"exactly \d|\d{3,} words"), 1),
    "multi_step": (re.compile(r"(?:^[ \t]*(?:\d+[.)]|[-*•])[ \t]+\S[^\n]*\n?){3,}", re.MULTILINE), 1),
}

_WORD = re.compile(r"[a-z0-9]+(?:['/-][a-z0-9]+)*[+#]*")
_PHRASE_FIRST = frozenset(k.split(" ", 1)[0] for words, _ in KEYWORDS.values() for k in words if " " in k) | \
    frozenset(k.split(" ", 1)[0] for group in (ASSISTANT_VERBS, WEATHER_TIME, ACCOUNT_FAQ)
              for k in group if " " in k)
_MAX_PHRASE = 4


def word_set(lower: str) -> tuple[frozenset[str], list[str]]:
    """Words of the text plus the word sequences that could start a known phrase."""
    words = _WORD.findall(lower)
    found = set(words)
    for word in words:
        if "-" in word:
            found.update(word.split("-"))
    for i, word in enumerate(words):
        if word in _PHRASE_FIRST:
            for n in range(2, _MAX_PHRASE + 1):
                found.add(" ".join(words[i : i + n]))
    return frozenset(found), words


# -- the request path's keyword lookup -----------------------------------------
#
# `word_set` builds every candidate phrase; the request path only needs to
# know which keyword *groups* the text hits. So each keyword (word or phrase)
# maps to a bit mask of the groups it belongs to, and a request costs one
# set intersection of its words with the keywords, plus a lookup of only the
# phrase lengths that exist for the few words that start a phrase. The result
# equals testing `word_set(...)` against every group (tests/classifier check
# this on the bundled traffic and on generated texts).

_GROUPS: tuple[str, ...] = (*KEYWORDS, "@weather_time", "@account_faq", "@first", "@then")
_BIT: dict[str, int] = {name: 1 << i for i, name in enumerate(_GROUPS)}


def _keyword_bits() -> dict[str, int]:
    bits: dict[str, int] = {}
    members = [(name, words) for name, (words, _) in KEYWORDS.items()]
    members += [("@weather_time", WEATHER_TIME), ("@account_faq", ACCOUNT_FAQ),
                ("@first", frozenset({"first"})), ("@then", frozenset({"then"}))]
    for name, words in members:
        for word in words:
            bits[word] = bits.get(word, 0) | _BIT[name]
    return bits


_KEY_BITS = _keyword_bits()
_KEYS = frozenset(_KEY_BITS)
# First word of a keyword phrase -> the phrase lengths (in words) starting with it.
_PHRASE_LENGTHS: dict[str, tuple[int, ...]] = {}
for _key in sorted(_KEYS):
    _n = _key.count(" ") + 1
    if 2 <= _n <= _MAX_PHRASE:
        _first = _key.split(" ", 1)[0]
        _PHRASE_LENGTHS[_first] = tuple(sorted({*_PHRASE_LENGTHS.get(_first, ()), _n}))
_PHRASE_STARTS = frozenset(_PHRASE_LENGTHS)
_WEATHER_BIT, _ACCOUNT_BIT = _BIT["@weather_time"], _BIT["@account_faq"]
_FIRST_THEN = _BIT["@first"] | _BIT["@then"]
_KEYWORD_GROUPS: tuple[tuple[str, int, int], ...] = tuple(
    (name, _BIT[name], weight) for name, (_, weight) in KEYWORDS.items())


def keyword_mask(lower: str) -> tuple[int, list[str]]:
    """Bit mask (see `_GROUPS`) of the keyword groups `lower` hits, and its words."""
    words = _WORD.findall(lower)
    bits = _KEY_BITS
    mask = 0
    for hit in _KEYS.intersection(words):
        mask |= bits[hit]
    if "-" in lower:
        for word in words:
            if "-" in word:
                for hit in _KEYS.intersection(word.split("-")):
                    mask |= bits[hit]
    # Positions of the words that start a phrase, found without a Python-level loop over all words.
    for i in compress(count(), map(_PHRASE_STARTS.__contains__, words)):
        for n in _PHRASE_LENGTHS[words[i]]:
            mask |= bits.get(" ".join(words[i : i + n]), 0)
    return mask, words


# The structural patterns as the request path tests them. Python's regex
# engine tries a pattern at every position unless it starts with a literal
# (or a small set of characters), so each test below either checks cheaply
# for the characters the pattern needs, or uses an equivalent pattern that
# starts with a literal: `^` in multi-line mode becomes "at 0 or after a
# `\n`", and `\b` before a word character becomes `(?<!\w)`. Each test
# equals `bool(PATTERNS[name][0].search(lower))` (checked by
# tests/classifier/test_rules_fast.py); `newlines` is `lower.count("\n")`.
_MATH_NUMERIC = re.compile(r"\d *[-+*/^×÷=] *\(?\d")
_MATH_POWER = re.compile(r"[a-z] *\^ *\d")
_MATH_COMPARE = re.compile(r"(?<!\w)[xyz] *[=<>]")
_HARD_CODE = re.compile(r"(?<!\w)o\([^)\n]{1,12}\)|design (?:a|an|the) \w+ system")
_CODE_LEADS = ("def ", "class ", "import ", "#include ", "public ", "fn ")
_CODE_LEAD_AFTER_NEWLINE = re.compile(r"\n(?:def|class|import|#include|public|fn) ")
_INDENTED_CODE = r"(?: {4,}|\t)\S[^\n]*[;{}()](?=\n|\Z)"
_CODE_INDENT_FIRST = re.compile(_INDENTED_CODE)
_CODE_INDENT_AFTER_NEWLINE = re.compile("\n" + _INDENTED_CODE)
# Three consecutive list lines; only the last may lack its line break.
_ITEM = r"[ \t]*(?:\d+[.)]|[-*•])[ \t]+\S"
_LIST = _ITEM + r"[^\n]*\n" + _ITEM + r"[^\n]*\n" + _ITEM
_LIST_FIRST = re.compile(_LIST)
_LIST_AFTER_NEWLINE = re.compile("\n" + _LIST)


def _latex(lower: str, newlines: int) -> bool:
    return ("\\" in lower or "$" in lower or "^{" in lower) and PATTERNS["latex"][0].search(lower) is not None


def _math(lower: str, newlines: int) -> bool:
    if _MATH_NUMERIC.search(lower) is not None:
        return True
    if ("=" in lower or "<" in lower or ">" in lower) and _MATH_COMPARE.search(lower) is not None:
        return True
    return "^" in lower and _MATH_POWER.search(lower) is not None


def _code_block(lower: str, newlines: int) -> bool:
    if "```" in lower or lower.startswith(_CODE_LEADS):
        return True
    if newlines and _CODE_LEAD_AFTER_NEWLINE.search(lower) is not None:
        return True
    if lower.startswith((" " * 4, "\t")) and _CODE_INDENT_FIRST.match(lower) is not None:
        return True
    return newlines > 0 and _CODE_INDENT_AFTER_NEWLINE.search(lower) is not None


def _hard_code(lower: str, newlines: int) -> bool:
    return ("o(" in lower or "design " in lower) and _HARD_CODE.search(lower) is not None


def _constraints(lower: str, newlines: int) -> bool:
    return ("exactly " in lower or " words" in lower) and PATTERNS["constraints"][0].search(lower) is not None


def _multi_step(lower: str, newlines: int) -> bool:
    # Every list line after the first starts after a "\n", so three need two.
    if newlines < 2:
        return False
    return _LIST_FIRST.match(lower) is not None or _LIST_AFTER_NEWLINE.search(lower) is not None


_PATTERN_TESTS = {"latex": _latex, "math": _math, "code_block": _code_block, "hard_code": _hard_code,
                  "constraints": _constraints, "multi_step": _multi_step}
assert tuple(_PATTERN_TESTS) == tuple(PATTERNS)
_PATTERN_CHECKS: tuple[tuple[str, int, object], ...] = tuple(
    (name, weight, _PATTERN_TESTS[name]) for name, (_, weight) in PATTERNS.items())


def pattern_matches(name: str, lower: str) -> bool:
    """`PATTERNS[name]` found in `lower`, through the prefiltered test the request path uses."""
    return _PATTERN_TESTS[name](lower, lower.count("\n"))


_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening|night)|thanks?( you)?( so much)?|"
    r"thx|ty|bye|goodbye|see you|ok(ay)?|cool|great|nice|yes|no|yep|nope|sure|"
    r"how are you( doing)?|what'?s up|who are you|what is your name|are you (a )?(bot|human|robot))"
    r"\W*( there| again| bot| assistant)?\W*$")
_COMMAND_LEAD = frozenset({"please", "can", "could", "hey"})


def _simple_intent(lower: str, mask: int, words: list[str]) -> str | None:
    """`mask` is the keyword mask of `lower` (see `keyword_mask`)."""
    if _GREETING.match(lower):
        return "greeting"
    head = [w for w in words[:4] if w not in _COMMAND_LEAD and w != "you"]
    if head and (head[0] in ASSISTANT_VERBS or " ".join(head[:2]) in ASSISTANT_VERBS):
        return "assistant_command"
    if mask & _WEATHER_BIT:
        return "weather_time"
    if mask & _ACCOUNT_BIT:
        return "account_faq"
    return None


SIMPLE_MAX_WORDS = 16
# A short single question that starts like a lookup. The form is what the
# simple training sources share with unseen trivia and FAQ traffic, beyond
# their vocabulary; it only becomes a TF-IDF pseudo-token (`§factoid`), so
# the learned model weighs it and the markers' floors still apply.
FACTOID_MAX_WORDS = 12
_FACTOID_LEADS = frozenset({"who", "what", "when", "where", "which", "whom", "whose",
                            "what's", "who's", "where's", "when's"})
_HOW_MUCH = frozenset({"many", "much", "long", "old", "far", "tall", "big", "often"})


def is_factoid(lower: str, words: list[str], n_words: int, newlines: int) -> bool:
    """`lower` is one line of at most FACTOID_MAX_WORDS words, one sentence, led by a wh-word."""
    if newlines or not words or n_words > FACTOID_MAX_WORDS:
        return False
    lead = words[0]
    if lead not in _FACTOID_LEADS and not (lead == "how" and len(words) > 1 and words[1] in _HOW_MUCH):
        return False
    if not lower.lstrip().startswith(lead):
        return False  # something (a quote, a bracket, code) comes before the question word
    body = lower.rstrip("?.! ")
    return "? " not in body and ". " not in body and "! " not in body


CONTEXT_CHARS = 2000
HARD_CONTEXT = ("proof", "hard_code", "code_task", "math", "expert")
_HARD_CONTEXT_BITS = sum(_BIT[name] for name in HARD_CONTEXT)

# Markers strong enough to set a floor on their own. Weak markers (a word
# like "code" or "must") only become TF-IDF pseudo-tokens: on their own they
# fire on a few percent of plain FAQ requests too.
COMPLEX_FLOOR = frozenset({"proof", "hard_code", "very_long"})
STANDARD_FLOOR = frozenset({
    "latex", "code_block", "multi_step", "many_lines", "long", "tools", "json_mode",
    "long_history", "code_in_context", "media", "long_system", "hard_context",
    # Domain vocabulary: a technical, mathematical or expert term means the
    # request is at least routine work, even when phrased like an FAQ
    # ("how do I ..."). Costs ~2 % of simple recall, removes most hard
    # how-to questions from the simple tier on held-out sources.
    "code_task", "tech", "math", "expert", "logic", "reasoning",
})


class RuleResult(NamedTuple):
    # A named tuple rather than a frozen dataclass: one is built per request, at a third of the cost.
    markers: tuple[str, ...]
    """Names of the hard-work markers that fired (plus context markers)."""
    points: int
    """Sum of marker weights, capped at 4."""
    intent: str | None
    """A known simple intent, or the strongest marker's category."""
    simple_intent: bool
    """A known simple intent matched and nothing argues against it."""
    words: int
    floor: str | None = None
    """Lowest tier the markers allow: None, "standard" or "complex"."""
    factoid: bool = False
    """One short wh-question ("who wrote ...", "how many ..."): a form, not a verdict (see `is_factoid`)."""


def _context_markers(view: RequestView) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    if view.tools:
        found.append(("tools", 1))
    if view.json_mode:
        found.append(("json_mode", 1))
    if view.has_image:
        found.append(("media", 1))
    if view.turns >= 4 or len(view.context) > 4000:
        found.append(("long_history", 1))
    if "```" in view.context or "```" in view.system:
        found.append(("code_in_context", 1))
    if len(view.system) > 1500:
        found.append(("long_system", 1))
    # A short follow-up ("and for n = 3?") inherits the difficulty of the
    # conversation it continues. Only the recent tail is scanned.
    if view.context and keyword_mask(view.context[-CONTEXT_CHARS:].lower())[0] & _HARD_CONTEXT_BITS:
        found.append(("hard_context", 1))
    return found


_INTENT_OF_MARKER = {
    "proof": "math_proof", "latex": "math", "math": "math", "code_block": "coding",
    "code_task": "coding", "hard_code": "coding", "tech": "coding", "reasoning": "reasoning", "logic": "reasoning",
    "writing": "writing", "constraints": "instructions", "multi_step": "instructions",
    "expert": "expert_question", "tools": "tool_use", "json_mode": "structured_output",
}


def apply_rules(view: RequestView, text: str, lower: str | None = None) -> RuleResult:
    """Score markers on `text` (the view's bounded main text) and the view's context.

    `lower` is `text.lower()` when the caller already has it.
    """
    if lower is None:
        lower = text.lower()
    mask, words = keyword_mask(lower)
    newlines = lower.count("\n")  # lower-casing never adds or removes a line break
    weights: dict[str, int] = {}
    if mask:
        for name, bit, weight in _KEYWORD_GROUPS:
            if mask & bit:
                weights[name] = weight
    for name, weight, test in _PATTERN_CHECKS:
        if name not in weights and test(lower, newlines):
            weights[name] = weight
    if "multi_step" not in weights and mask & _FIRST_THEN == _FIRST_THEN:
        weights["multi_step"] = 1
    found = list(weights.items())
    n_words = len(text.split())
    if n_words > 400:
        found.append(("very_long", 2))
    elif n_words > 150:
        found.append(("long", 1))
    if newlines >= 8:
        found.append(("many_lines", 1))
    if view.tools or view.json_mode or view.has_image or view.turns >= 4 or view.context or view.system:
        found.extend(_context_markers(view))
    points = 0
    for _, weight in found:
        points += weight
    points = min(4, points)
    names = tuple([name for name, _ in found])
    intent = None
    simple = False
    if n_words <= SIMPLE_MAX_WORDS:
        intent = _simple_intent(lower, mask, words)
        # A marker (even a weak one) vetoes the simple verdict, except for the
        # bare greeting pattern, which is anchored end to end.
        simple = intent is not None and (points == 0 or intent == "greeting")
    if intent is None and found:
        heaviest = max(found, key=_weight_of)[0]
        intent = _INTENT_OF_MARKER.get(heaviest)
    floor = None
    if points >= 3 or not COMPLEX_FLOOR.isdisjoint(names):
        floor = "complex"
    elif points >= 2 or not STANDARD_FLOOR.isdisjoint(names):
        floor = "standard"
    factoid = is_factoid(lower, words, n_words, newlines)
    return RuleResult(names, points, intent, simple and floor is None, n_words, floor, factoid)


def _weight_of(item: tuple[str, int]) -> int:
    return item[1]
