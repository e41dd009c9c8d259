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

from proxy.classifier.request_text import RequestView

_F = re.IGNORECASE

# Each marker: name -> (pattern, weight). Weight 1 lifts a request out of the
# simple tier; a total of 2 or more lifts it to complex.
MARKERS: dict[str, tuple[re.Pattern[str], int]] = {
    "proof": (re.compile(
        r"\b(prove|proof|disprove|show that|demonstrate that|derive|derivation|lemma|theorem|"
        r"by induction|contradiction|rigorous(ly)?)\b", _F), 2),
    "latex": (re.compile(
        r"\\(frac|int|sum|sqrt|lim|begin|cdot|times|alpha|beta|theta|infty|mathbb|le|ge|neq|boxed)\b"
        r"|\$[^$\n\d\s][^$\n]{0,80}\$|\^\{", _F), 1),
    "math": (re.compile(
        r"\b(solve|equation|integral|derivative|polynomial|matrix|eigen\w*|probability|"
        r"expected value|variance|modulo|prime factor\w*|permutations?|combinations?|"
        r"how many (ways|different|distinct)|greatest common|least common|remainder|"
        r"optimi[sz]ation|minimi[sz]e|maximi[sz]e|calculate|compute)\b"
        r"|\d\s*[-+*/^×÷=]\s*\(?\d|[a-z]\s*\^\s*\d|\b[xyz]\s*[=<>]", _F), 1),
    "code_block": (re.compile(r"```|^\s{4,}\S.*[;:{}()]\s*$|^\s*(def|class|import|#include|public|fn) ", _F | re.M), 1),
    "code_task": (re.compile(
        r"\b(implement\w*|refactor\w*|debug\w*|algorithm\w*|function|script|program|"
        r"(write|this|following|sample|example|some|the|python) code|code (snippet|review|that|to|for)|"
        r"class|api|sql|regex|query|compile\w*|runtime|time complexity|big[- ]o|"
        r"python|javascript|typescript|java|c\+\+|rust|golang|bash|html|css|react|docker|"
        r"kubernetes|database|recursion|recursive|data structure|unit tests?)\b", _F), 1),
    "tech": (re.compile(
        r"\b(linux|ubuntu|windows server|macos|terminal|command line|shell|ssh|git|github|npm|pip|"
        r"node(js)?|django|flask|fastapi|dotnet|\.net|c#|kotlin|android|ios|unity|"
        r"unreal|excel|vba|macro|power ?bi|tableau|pandas|numpy|matplotlib|sklearn|scikit|"
        r"pytorch|tensorflow|keras|jax|hugging ?face|llm|gpt|embedding|vector|dataframe|csv|"
        r"json|yaml|xml|postgres\w*|mysql|sqlite|mongodb|redis|kafka|spark|hadoop|aws|azure|gcp|"
        r"lambda|s3|ec2|terraform|ansible|nginx|apache|http|https|tcp|dns|vpn|firewall|"
        r"server|backend|frontend|endpoint|webhook|oauth|jwt|encryption|hash(ing)?|"
        r"latency|throughput|cache|caching|thread|async|await|gpu|cuda|shader|"
        r"framework|library|module|dependency|deploy\w*|pipeline|ci/cd|firmware|"
        r"blockchain|solidity|smart contract|arduino|raspberry pi|microcontroller|fpga|verilog|"
        r"matlab|octave|latex|markdown|plugin|extension|browser|chrome|firefox|selenium|"
        r"scrap(e|ing)|crawler|regex|cron|systemd|kernel|compiler|debugger|stack trace|"
        r"exception|error message|bug|variable|array|integer|boolean|loop)\b", _F), 1),
    "hard_code": (re.compile(
        r"\b(thread[- ]safe|concurren\w*|distributed|lock[- ]free|o\([^)]{1,12}\)|"
        r"from scratch|production[- ]ready|scalab\w*|architecture|design (a|an|the) \w+ system|"
        r"memory leak|race condition|deadlock|compiler|interpreter|parser|neural network|"
        r"transformer|gradient|backpropagation|cryptograph\w*)", _F), 2),
    "reasoning": (re.compile(
        r"\b(step[- ]by[- ]step|reasoning|analy[sz]e|analysis|"
        r"compare and contrast|trade[- ]?offs?|pros and cons|evaluate|critique|justify|"
        r"implications?|in depth|detailed|comprehensive|thorough(ly)?|nuanced|"
        r"hypothes[ie]s|counterargument|argue|persuasive|strategy|strategies|framework)\b", _F), 1),
    "logic": (re.compile(
        r"\b(puzzle|riddle|logic grid|clues?|deduce|each of the|who owns|if and only if|"
        r"paradox|syllogism|truth table|constraints?)\b", _F), 1),
    "writing": (re.compile(
        r"\b(essay|report|article|blog post|story|poem|screenplay|script|cover letter|"
        r"speech|proposal|business plan|curriculum|lesson plan|outline|chapter|"
        r"\d{3,} words|paragraphs?)\b", _F), 1),
    "constraints": (re.compile(
        r"\b(must|must not|should not|do not|don't|without using|at least|no more than|"
        r"exactly \d+|at most|in the style of|make sure|ensure|format (it|the)|"
        r"use only|only use|each \w+ must)\b", _F), 1),
    "multi_step": (re.compile(
        r"(^\s*(\d+[.)]|[-*•])\s+\S.*$\n?){3,}|\b(first\b.{0,200}\bthen|and then|after that|"
        r"finally|additionally|furthermore)\b", _F | re.M | re.S), 1),
    "expert": (re.compile(
        r"\b(diagnos\w*|differential|pathophysiolog\w*|pharmacokinetic\w*|clinical|"
        r"statute|jurisdiction|tort|litigation|thermodynamic\w*|quantum|relativity|"
        r"entropy|enzyme|genom\w*|econometric\w*|macroeconomic\w*|regression|bayesian|"
        r"stochastic|asymptotic|topolog\w*|manifold|isomorphi\w*|eigenvalue\w*)\b", _F), 1),
}

# Known simple intents: only trusted for short requests with no marker.
SIMPLE_INTENTS: dict[str, re.Pattern[str]] = {
    "greeting": re.compile(
        r"^\W*(hi|hello|hey|hiya|good (morning|afternoon|evening|night)|thanks?( you)?( so much)?|"
        r"thx|ty|bye|goodbye|see you|ok(ay)?|cool|great|nice|yes|no|yep|nope|sure|"
        r"how are you( doing)?|what'?s up|who are you|what is your name|are you (a )?(bot|human|robot))"
        r"\W*( there| again| bot| assistant)?\W*$", _F),
    "assistant_command": re.compile(
        r"^\W*(please\s+|can you\s+|could you\s+|hey\s+\w+\s+)?"
        r"(set|turn (on|off|up|down)|switch (on|off)|play|pause|resume|skip|stop|mute|unmute|"
        r"remind me|wake me|snooze|call|text|dial|open|cancel|book|reserve|order|add|remove|delete|"
        r"increase|decrease|dim|brighten|volume|navigate|directions|schedule)\b", _F),
    "weather_time": re.compile(
        r"\b(weather|forecast|temperature outside|rain(ing)? (today|tomorrow)|what time is it|"
        r"time in \w+|what day is|today'?s date|timer|alarm)\b", _F),
    "account_faq": re.compile(
        r"\b(my|the) (card|account|balance|pin|password|transfer|payment|refund|order|package|"
        r"delivery|subscription|statement|atm|exchange rate|top[- ]?up|bill|booking|reservation|"
        r"credit score|routing number|insurance|flight|luggage|shipping)\b|"
        r"\b(track (my|an|the) order|reset (my )?password|change (my )?(address|pin|password)|"
        r"opening hours|business hours|customer service|speak to (a|an) (human|agent))\b", _F),
}

SIMPLE_MAX_WORDS = 16

# Markers strong enough to set a floor on their own. Weak markers (a word
# like "code" or "must") only become TF-IDF pseudo-tokens: on their own they
# fire on a few percent of plain FAQ requests too.
COMPLEX_FLOOR = frozenset({"proof", "hard_code", "very_long"})
STANDARD_FLOOR = frozenset({
    "latex", "code_block", "multi_step", "many_lines", "long", "tools", "json_mode",
    "long_history", "code_in_context", "media", "long_system",
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
    return found


_INTENT_OF_MARKER = {
    "proof": "math_proof", "latex": "math", "math": "math", "code_block": "coding",
    "code_task": "coding", "hard_code": "coding", "tech": "coding", "reasoning": "reasoning", "logic": "reasoning",
    "writing": "writing", "constraints": "instructions", "multi_step": "instructions",
    "expert": "expert_question", "tools": "tool_use", "json_mode": "structured_output",
}


def apply_rules(view: RequestView, text: str) -> RuleResult:
    """Score markers on `text` (the view's bounded main text) and the view's context."""
    words = len(text.split())
    found: list[tuple[str, int]] = [
        (name, weight) for name, (pattern, weight) in MARKERS.items() if pattern.search(text)
    ]
    if words > 400:
        found.append(("very_long", 2))
    elif words > 150:
        found.append(("long", 1))
    if text.count("\n") >= 8:
        found.append(("many_lines", 1))
    found.extend(_context_markers(view))
    points = min(4, sum(weight for _, weight in found))
    names = tuple(name for name, _ in found)
    intent = None
    simple = False
    if words <= SIMPLE_MAX_WORDS:
        for name, pattern in SIMPLE_INTENTS.items():
            if pattern.search(text):
                intent = name
                # A marker (even a weak one) vetoes the simple verdict, except
                # for the bare greeting pattern, which is anchored end to end.
                simple = points == 0 or name == "greeting"
                break
    if intent is None and found:
        heaviest = max(found, key=lambda item: item[1])[0]
        intent = _INTENT_OF_MARKER.get(heaviest)
    floor = None
    if points >= 3 or COMPLEX_FLOOR.intersection(names):
        floor = "complex"
    elif points >= 2 or STANDARD_FLOOR.intersection(names):
        floor = "standard"
    return RuleResult(names, points, intent, simple and floor is None, words, floor)
