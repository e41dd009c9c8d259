from proxy.classifier.features import analyze, bounded_text, length_bucket, word_tokens
from proxy.classifier.request_text import view_of_text
from proxy.classifier.rules import apply_rules


def test_numbers_collapse_and_code_punctuation_stays():
    assert word_tokens("x = 42 + 12345;") == ["x", "=", "<num>", "+", "<num4>", ";"]


def test_markers_and_length_become_tokens():
    text = "Prove that 2 + 2 = 4"
    rules = apply_rules(view_of_text(text), text)
    tokens = analyze(text, rules)
    assert "§proof" in tokens and length_bucket(rules.words) in tokens and "prove that" in tokens


def test_bounded_text_keeps_head_and_tail():
    text = "A" * 5000 + "B" * 5000
    out = bounded_text(text, 3000)
    assert out.startswith("A") and out.endswith("B") and len(out) <= 3001
