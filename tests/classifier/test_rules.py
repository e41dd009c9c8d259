import pytest

from proxy.classifier.request_text import view_of_text
from proxy.classifier.rules import apply_rules


def rules(text):
    return apply_rules(view_of_text(text), text)


def test_greeting_is_a_simple_intent():
    result = rules("hello there!")
    assert result.simple_intent and result.intent == "greeting" and result.floor is None


def test_proof_sets_a_complex_floor():
    result = rules("Prove that there are infinitely many primes.")
    assert result.floor == "complex" and "proof" in result.markers


def test_technical_how_to_cannot_be_simple():
    result = rules("how do i do a tuple comprehension in python")
    assert result.floor == "standard" and not result.simple_intent


def test_plain_faq_has_no_marker():
    result = rules("how do I reset my password?")
    assert result.floor is None and result.markers == ()


def test_money_amounts_are_not_latex():
    assert "latex" not in rules("I paid $5 and then $10 for lunch").markers


@pytest.mark.parametrize("text", [
    "who wrote the declaration of independence",
    "What's the capital of Australia?",
    "how many episodes are in season 5 of the flash",
    "  When did the Berlin wall fall?  ",
])
def test_short_wh_question_has_the_factoid_form(text):
    assert rules(text).factoid


@pytest.mark.parametrize("text", [
    "how do I reset my password?",                                   # a how-to, not a lookup
    "who won? also tell me why the other team lost so badly",        # two sentences
    "what is the difference between a mutex and a semaphore when used across processes in posix",  # 15 words
    "which of these is faster:\nfor x in xs: f(x)",                  # more than one line
    "'what' is a word",                                              # the wh-word is not the question's lead
    "write a poem about who we are",
])
def test_other_requests_do_not_have_the_factoid_form(text):
    assert not rules(text).factoid
