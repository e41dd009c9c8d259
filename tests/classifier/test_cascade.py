import asyncio
import threading

from proxy.classifier import Classification, Classifier
from proxy.classifier.request_text import view_of_text
from proxy.classifier.settings import AmbiguityBand

from .conftest import REPO, shipped_settings


def chat(text, **extra):
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


def test_faq_is_simple(classifier):
    result = classifier.classify(chat("how do I reset my password?"))
    assert isinstance(result, Classification)
    assert result.tier == "simple" and 0.0 <= result.score < 0.5


def test_greeting_decided_by_rules(classifier):
    result = classifier.classify(chat("hi!"))
    assert (result.tier, result.stage, result.intent) == ("simple", "rules", "greeting")


def test_proof_is_complex(classifier):
    result = classifier.classify(chat("Prove that the square root of 2 is irrational."))
    assert result.tier == "complex" and result.intent == "math_proof"


def test_hard_coding_task_is_complex(classifier):
    text = ("Implement a thread-safe LRU cache in C++ with O(1) get and put, "
            "and explain how you avoid deadlocks under contention.")
    assert classifier.classify(chat(text)).tier == "complex"


def test_score_is_monotone_with_tier(classifier):
    texts = ["thanks", "write a haiku about the sea",
             "Prove by induction that 1 + 2 + ... + n = n(n+1)/2."]
    scores = [classifier.classify(chat(t)).score for t in texts]
    assert scores == sorted(scores)


def test_multi_turn_uses_the_last_turn_and_context(classifier):
    code = "```python\n" + "x = compute(x)\n" * 20 + "```"
    request = {"messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"Here is my code:\n{code}"},
        {"role": "assistant", "content": "I see it."},
        {"role": "user", "content": [{"type": "text", "text": "ok, what now?"}]},
    ]}
    result = classifier.classify(request)
    assert result.tier != "simple"
    assert "marker:code_in_context" in result.reasons


def test_tools_and_json_mode_are_never_simple(classifier):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    assert classifier.classify(chat("what's my balance", tools=tools)).tier != "simple"
    fmt = {"type": "json_object"}
    assert classifier.classify(chat("list three colours", response_format=fmt)).tier != "simple"


class Recorder:
    """Stands in for the embedding stage and records where it ran."""

    def __init__(self, score=1.0):
        self.calls = []
        self.value = score

    def score(self, text):
        self.calls.append((text, threading.current_thread().name))
        return self.value, 0.9


def with_recorder(cheap_classifier, band=None):
    base = cheap_classifier
    recorder = Recorder()
    clf = Classifier(base.settings, base.thresholds, band or base.band, base._tfidf, recorder, {})
    return clf, recorder


def test_embedding_only_for_ambiguous_input(cheap_classifier):
    clf, recorder = with_recorder(cheap_classifier)
    clf.classify(chat("hello"))
    clf.classify(chat("Prove that every bounded monotone sequence converges."))
    assert recorder.calls == []
    clf, recorder = with_recorder(cheap_classifier, AmbiguityBand(low=0.0, high=1.0))
    result = clf.classify(chat("what is the best way to learn the guitar as an adult"))
    assert len(recorder.calls) == 1 and any(r.startswith("embedding:") for r in result.reasons)


def test_real_embedding_stage_reached_for_ambiguous_text(classifier):
    band = classifier.band
    # Find a text whose cheap score is inside the calibrated band.
    candidates = ["recommend a laptop for college", "what should I cook tonight with rice and beans",
                  "is it worth learning latin", "how long does a refund take"]
    reached = [t for t in candidates
               if band.low <= classifier._cheap(view_of_text(t)).score < band.high]
    assert reached, "no candidate is ambiguous for the shipped model"
    result = classifier.classify(chat(reached[0]))
    assert any(r.startswith("embedding:") for r in result.reasons)
    clear = classifier.classify(chat("good morning"))
    assert not any(r.startswith("embedding:") for r in clear.reasons)


async def test_aclassify_runs_embedding_off_the_loop(cheap_classifier):
    clf, recorder = with_recorder(cheap_classifier, AmbiguityBand(low=0.0, high=1.0))
    try:
        result = await clf.aclassify(chat("what is the best way to learn the guitar as an adult"))
        assert recorder.calls and recorder.calls[0][1].startswith("classifier-embedding")
        assert recorder.calls[0][1] != threading.current_thread().name
        assert result.stage in ("tfidf", "embedding", "rules")
        clf2, rec2 = with_recorder(cheap_classifier)
        await clf2.aclassify(chat("hi"))
        assert rec2.calls == []
    finally:
        clf.close()


def test_rules_and_tfidf_only_do_not_load_embedding():
    clf = Classifier.load(shipped_settings(stages=["rules", "tfidf"]), REPO / "policies")
    assert clf._embedding is None
    assert clf.classify(chat("what's the weather tomorrow")).tier == "simple"


def test_classify_is_pure(classifier):
    request = chat("Write a detailed business plan for a bakery, with a budget.")
    assert classifier.classify(request) == classifier.classify(request)
    assert asyncio.run(classifier.aclassify(request)) == classifier.classify(request)


def test_follow_up_inherits_a_hard_conversation(classifier):
    request = {"messages": [
        {"role": "user", "content": "Prove that the sum of the first n odd numbers is n^2."},
        {"role": "assistant", "content": "By induction: ..."},
        {"role": "user", "content": "and what about n = 3?"},
    ]}
    result = classifier.classify(request)
    assert result.tier != "simple" and "marker:hard_context" in result.reasons
    small_talk = {"messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "what's the weather in rome today?"},
    ]}
    assert classifier.classify(small_talk).tier == "simple"


async def test_busy_embedding_stage_is_skipped_and_the_request_routed_up():
    import asyncio
    from pathlib import Path

    from proxy.classifier import Classifier, ClassifierSettings
    from proxy.classifier.request_text import view_of_request

    def request(text: str) -> dict:
        return {"messages": [{"role": "user", "content": text}]}

    root = Path(__file__).resolve().parents[2] / "policies"
    classifier = Classifier.load(ClassifierSettings(embedding_max_pending=1), root)
    try:
        texts = ["Summarize this paragraph for me", "write me a poem about cats", "Explain how vaccines work",
                 "Tell me about the history of Rome", "What should I cook tonight?", "Help me plan a trip"]
        ambiguous = [t for t in texts if classifier._cheap(view_of_request(request(t))).ambiguous]
        assert len(ambiguous) >= 2, "need ambiguous prompts to exercise the embedding stage"
        results = await asyncio.gather(*[classifier.aclassify(request(t)) for t in ambiguous])
        skipped = [r for r in results if "embedding:skipped_busy" in r.reasons]
        # One computation may be in flight; every other ambiguous request is decided without it.
        assert classifier.embedding_skipped == len(skipped) == len(ambiguous) - 1
        assert all(r.tier != "simple" for r in skipped)
    finally:
        classifier.close()


def test_question_form_is_learned_as_a_sign_of_a_lookup(cheap_classifier):
    # The trained model weighs `§factoid` towards simple: the same words score lower with it.
    from proxy.classifier.features import normalize, word_tokens

    model = cheap_classifier._tfidf
    assert "§factoid" in model.index
    for text in ("how many moons does neptune have", "who discovered penicillin", "when was the eiffel tower built"):
        words = word_tokens(normalize(text))
        with_form = model.score_words(words, ["§len3", "§factoid"])
        assert with_form < model.score_words(words, ["§len3"]), text
    assert cheap_classifier.classify(chat("who painted the ceiling of the sistine chapel")).tier == "simple"
