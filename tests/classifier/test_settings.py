import pytest
from pydantic import ValidationError

from proxy.classifier import ClassifierSettings


def test_defaults_are_valid():
    settings = ClassifierSettings()
    assert settings.stages == ["rules", "tfidf", "embedding"]
    assert settings.thresholds is None  # calibrated values come from the model metadata


def test_thresholds_must_be_ordered_and_say_how_to_fix():
    with pytest.raises(ValidationError) as info:
        ClassifierSettings.model_validate({"thresholds": {"simple": 0.8, "complex": 0.7}})
    message = str(info.value)
    assert "must be lower than" in message and "lower `simple`" in message


def test_unknown_keys_are_rejected():
    with pytest.raises(ValidationError):
        ClassifierSettings.model_validate({"treshold": 0.5})


def test_stage_names_and_order():
    with pytest.raises(ValidationError):
        ClassifierSettings.model_validate({"stages": ["bert"]})
    with pytest.raises(ValidationError) as info:
        ClassifierSettings.model_validate({"stages": ["tfidf", "rules"]})
    assert "order" in str(info.value)


def test_every_field_is_documented():
    import inspect

    source = inspect.getsource(ClassifierSettings)
    for name in ClassifierSettings.model_fields:
        after = source.split(f"    {name}:", 1)[1]
        assert '"""' in after.split("\n")[1], f"{name} lacks a docstring"
