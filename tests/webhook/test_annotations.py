import pytest

from proxy.webhook.annotations import (
    EXCLUDE_CONTAINERS,
    INJECT,
    MODE,
    OVERRIDE_ENV,
    PERCENT,
    ROUTE,
    Overrides,
    injection_wanted,
    read_overrides,
)


@pytest.mark.parametrize(
    ("labels", "annotations", "require", "wanted", "reason"),
    [
        ({}, {}, False, True, "namespace opted in"),
        ({}, {}, True, False, "pod did not opt in"),
        ({}, {INJECT: "true"}, True, True, "pod opted in"),
        ({INJECT: "true"}, {}, True, True, "pod opted in"),
        ({}, {INJECT: "false"}, False, False, "pod opted out"),
        ({INJECT: "false"}, {}, False, False, "pod opted out"),
        ({INJECT: "true"}, {INJECT: "False"}, False, False, "pod opted out"),
        ({INJECT: "false"}, {INJECT: "true"}, True, False, "pod opted out"),
    ],
)
def test_opt_in_and_opt_out(labels, annotations, require, wanted, reason):
    assert injection_wanted(labels, annotations, require) == (wanted, reason, [])


def test_an_unreadable_inject_value_is_ignored_with_a_warning():
    wanted, reason, warnings = injection_wanted({}, {INJECT: "yes please"}, False)
    assert (wanted, reason) == (True, "namespace opted in")
    assert warnings == [f'annotation {INJECT}="yes please" is not "true" or "false"; ignored']


def test_valid_overrides_become_sidecar_env():
    overrides, warnings = read_overrides({MODE: "canary", PERCENT: "2.50", ROUTE: "support", OVERRIDE_ENV: "true"})
    assert warnings == []
    assert overrides.override_env is True
    assert overrides.sidecar_env() == [
        ("LLM_ROUTER_MODE", "canary"),
        ("LLM_ROUTER_PERCENT", "2.5"),
        ("LLM_ROUTER_ROUTE", "support"),
    ]


@pytest.mark.parametrize("percent", ["-1", "100.5", "nan", "inf", "ten", ""])
def test_out_of_range_percent_is_ignored(percent):
    overrides, warnings = read_overrides({PERCENT: percent})
    assert overrides.percent is None
    assert len(warnings) == 1 and PERCENT in warnings[0]


def test_invalid_mode_route_and_flag_are_ignored_each_with_a_warning():
    overrides, warnings = read_overrides({MODE: "yolo", ROUTE: "has space", OVERRIDE_ENV: "maybe"})
    assert overrides == Overrides()
    assert len(warnings) == 3


def test_excluded_containers_are_a_comma_list():
    overrides, _ = read_overrides({EXCLUDE_CONTAINERS: " migrate, ,debug "})
    assert overrides.exclude_containers == {"migrate", "debug"}
