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
