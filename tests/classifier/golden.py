"""Inputs and golden outputs of the rules + TF-IDF cascade (equivalence check).

`golden_cascade.jsonl` was written by this module from the classifier as it
was *before* the per-request speed work (rules and tokenizer rewritten around
precompiled tables, fewer numpy/onnxruntime calls); `test_golden.py` checks
that every input still gets exactly the same tier, score, intent, stage,
reasons and ambiguity flag. Regenerate only when a change is *meant* to
alter classifications (retraining, new rules):

    python -m tests.classifier.golden --write

Inputs (all inside the repository): every row of examples/traffic.jsonl, the
classifier test samples (dev and train), and hand-written shapes the samples
lack (system prompts, multi-turn, tools, JSON mode, media, non-ASCII,
over-long texts, odd content parts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden_cascade.jsonl"


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _chat(text: Any, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


def _synthetic() -> list[dict[str, Any]]:
    code = "```python\n" + "x = compute(x)\n" * 20 + "```"
    long_words = " ".join(f"word{i} and the proof of lemma {i}" for i in range(900))
    numbered = "\n".join(f"{i}. step number {i} of the plan" for i in range(1, 6))
    return [
        _chat("hi!"), _chat("Hello there"), _chat("thanks so much bot"), _chat("ok"), _chat(""), _chat("   "),
        _chat("how do I reset my password?"), _chat("what's the weather in rome today?"),
        _chat("please turn off the lights in the kitchen"), _chat("could you set an alarm for 7"),
        _chat("Prove that the square root of 2 is irrational."),
        _chat("Implement a thread-safe LRU cache in C++ with O(1) get and put, and explain deadlocks."),
        _chat("Design a distributed rate limiter system. First sketch it, then list trade-offs."),
        _chat("Solve for x: 3x^2 + 2x - 5 = 0, show every step"),
        _chat("I paid $5 and $10 for two items, what's the total?"),
        _chat("Écris un poème sur la mer, exactement 12 vers, à la manière de Baudelaire."),
        _chat("Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ ① ② ③ ﬁnance ＡＰＩ"),
        _chat("Straße, İstanbul, ΣΊΣΥΦΟΣ, ǅemal — what do these have in common?"),
        _chat("日本語で自己紹介を書いてください。300 words exactly"),
        _chat("Write a 500 words essay; it must not use the letter e. Make sure to cite sources."),
        _chat(numbered), _chat("def f(x):\n    return g(x);\n" * 3), _chat("line\n" * 12),
        _chat(long_words), _chat("a " * 200 + "what is it"), _chat("x" * 7000 + " the end"),
        _chat("The value is 12345 and 3.14159; e^{i\\pi} + 1 = 0 and \\frac{a}{b} \\le c"),
        _chat("What's 2+2? and x = 5, y < 3"), _chat("my-card is-not working; first this then that"),
        _chat("c++ vs c# vs f#: which one for a game engine?"), _chat("node.js/express - async/await - best practice"),
        _chat([{"type": "text", "text": "what is in this picture?"},
               {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]),
        _chat(["plain string part", {"type": "input_text", "text": "and a text part"}, 42, None]),
        _chat(None), _chat({"unexpected": "dict"}), _chat(12),
        _chat("what's my balance", tools=[{"type": "function", "function": {"name": "lookup", "parameters": {}}}]),
        _chat("list three colours", response_format={"type": "json_object"}),
        _chat("list three colours", response_format={"type": "text"}),
        _chat("where is my order?", functions=[{"name": "track"}, {"name": "cancel"}]),
        {"messages": [{"role": "system", "content": "You are a support bot. " * 80},
                      {"role": "user", "content": "where is my order?"},
                      {"role": "assistant", "content": "Let me check."},
                      {"role": "user", "content": "it was due yesterday"}],
         "tools": [{"type": "function", "function": {"name": "track", "parameters": {}}}]},
        {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                      {"role": "user", "content": f"Here is my code:\n{code}"},
                      {"role": "assistant", "content": "I see it."},
                      {"role": "user", "content": [{"type": "text", "text": "ok, what now?"}]}]},
        {"messages": [{"role": "user", "content": "Prove that there are infinitely many primes."},
                      {"role": "assistant", "content": "Suppose there are finitely many..."},
                      {"role": "user", "content": "and for twin primes?"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"},
                      {"role": "user", "content": "what's the weather in rome today?"}]},
        {"messages": [{"role": "developer", "content": "Answer in JSON."},
                      {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                      {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"},
                      {"role": "user", "content": "q3"}, {"role": "assistant", "content": None,
                                                          "tool_calls": [{"id": "1"}]},
                      {"role": "tool", "content": "result"}, {"role": "user", "content": "q4 thanks"}]},
        {"messages": [{"role": "assistant", "content": "How can I help?"}]},
        {"messages": [{"role": "system", "content": "only a system prompt"}]},
        {"messages": ["not a dict", {"role": "user"}, {"role": "user", "content": "fine"}]},
        {"messages": []}, {"prompt": "complete this sentence"}, {"input": ["a", "list"]}, {},
    ]


def inputs() -> list[tuple[str, str, dict[str, Any]]]:
    """(name, kind, input): kind is `request` (classify) or `row` (classify_row)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for i, row in enumerate(_jsonl(REPO / "examples" / "traffic.jsonl")):
        out.append((f"traffic:{i}", "request", row))
    for name in ("sample_dev", "sample_train"):
        for i, row in enumerate(_jsonl(DATA / f"{name}.jsonl")):
            out.append((f"{name}:{i}", "row", row))
    for i, request in enumerate(_synthetic()):
        out.append((f"synthetic:{i}", "request", request))
    return out


def outputs(classifier: Any) -> list[dict[str, Any]]:
    from proxy.classifier.request_text import view_of_request, view_of_row

    rows = []
    for name, kind, item in inputs():
        result = classifier.classify(item) if kind == "request" else classifier.classify_row(item)
        view = view_of_request(item) if kind == "request" else view_of_row(item)
        partial = classifier._cheap(view)
        rows.append({"name": name, "tier": result.tier, "score": round(result.score, 6), "intent": result.intent,
                     "stage": result.stage, "reasons": list(result.reasons), "ambiguous": partial.ambiguous})
    return rows


def lean_classifier() -> Any:
    """The cascade of policies/lean.yaml (rules + TF-IDF), on the shipped artifacts."""
    from proxy.classifier import Classifier
    from proxy.classifier.policy_file import load_settings

    policy = REPO / "policies" / "lean.yaml"
    settings, base = load_settings(policy)
    return Classifier.load(settings, base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the golden outputs of the rules + TF-IDF cascade")
    parser.add_argument("--write", action="store_true", help=f"overwrite {GOLDEN.relative_to(REPO)}")
    args = parser.parse_args(argv)
    rows = outputs(lean_classifier())
    text = "".join(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows)
    if args.write:
        GOLDEN.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} rows to {GOLDEN}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
