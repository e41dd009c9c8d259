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
from dataclasses import dataclass

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


_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening|night)|thanks?( you)?( so much)?|"
    r"thx|ty|bye|goodbye|see you|ok(ay)?|cool|great|nice|yes|no|yep|nope|sure|"
    r"how are you( doing)?|what'?s up|who are you|what is your name|are you (a )?(bot|human|robot))"
    r"\W*( there| again| bot| assistant)?\W*$")
_COMMAND_LEAD = frozenset({"please", "can", "could", "hey"})


def _simple_intent(lower: str, found: frozenset[str], words: list[str]) -> str | None:
    if _GREETING.match(lower):
        return "greeting"
    head = [w for w in words[:4] if w not in _COMMAND_LEAD and w != "you"]
    if head and (head[0] in ASSISTANT_VERBS or " ".join(head[:2]) in ASSISTANT_VERBS):
        return "assistant_command"
    if not found.isdisjoint(WEATHER_TIME):
        return "weather_time"
    if not found.isdisjoint(ACCOUNT_FAQ):
        return "account_faq"
    return None


SIMPLE_MAX_WORDS = 16
CONTEXT_CHARS = 2000
HARD_CONTEXT = ("proof", "hard_code", "code_task", "math", "expert")

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


@dataclass(frozen=True, slots=True)
class RuleResult:
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
    if view.context:
        # A short follow-up ("and for n = 3?") inherits the difficulty of the
        # conversation it continues. Only the recent tail is scanned.
        context_words, _ = word_set(view.context[-CONTEXT_CHARS:].lower())
        if any(not context_words.isdisjoint(KEYWORDS[name][0]) for name in HARD_CONTEXT):
            found.append(("hard_context", 1))
    return found


_INTENT_OF_MARKER = {
    "proof": "math_proof", "latex": "math", "math": "math", "code_block": "coding",
    "code_task": "coding", "hard_code": "coding", "tech": "coding", "reasoning": "reasoning", "logic": "reasoning",
    "writing": "writing", "constraints": "instructions", "multi_step": "instructions",
    "expert": "expert_question", "tools": "tool_use", "json_mode": "structured_output",
}


def apply_rules(view: RequestView, text: str) -> RuleResult:
    """Score markers on `text` (the view's bounded main text) and the view's context."""
    lower = text.lower()
    found_words, words = word_set(lower)
    weights: dict[str, int] = {}
    for name, (keywords, weight) in KEYWORDS.items():
        if not found_words.isdisjoint(keywords):
            weights[name] = weight
    for name, (pattern, weight) in PATTERNS.items():
        if name not in weights and pattern.search(lower):
            weights[name] = weight
    if "multi_step" not in weights and "first" in found_words and "then" in found_words:
        weights["multi_step"] = 1
    found = list(weights.items())
    n_words = len(text.split())
    if n_words > 400:
        found.append(("very_long", 2))
    elif n_words > 150:
        found.append(("long", 1))
    if text.count("\n") >= 8:
        found.append(("many_lines", 1))
    found.extend(_context_markers(view))
    points = min(4, sum(weight for _, weight in found))
    names = tuple(name for name, _ in found)
    intent = None
    simple = False
    if n_words <= SIMPLE_MAX_WORDS:
        intent = _simple_intent(lower, found_words, words)
        # A marker (even a weak one) vetoes the simple verdict, except for the
        # bare greeting pattern, which is anchored end to end.
        simple = intent is not None and (points == 0 or intent == "greeting")
    if intent is None and found:
        heaviest = max(found, key=lambda item: item[1])[0]
        intent = _INTENT_OF_MARKER.get(heaviest)
    floor = None
    if points >= 3 or COMPLEX_FLOOR.intersection(names):
        floor = "complex"
    elif points >= 2 or STANDARD_FLOOR.intersection(names):
        floor = "standard"
    return RuleResult(names, points, intent, simple and floor is None, n_words, floor)
