import base64

import orjson
import pytest

from proxy.webhook.annotations import INJECT
from proxy.webhook.review import error_outcome, respond
from proxy.webhook.settings import SIDECAR_NAME

from .conftest import apply, make_pod, make_review


def answer(document, settings) -> dict:
    body = document if isinstance(document, bytes) else orjson.dumps(document)
    review = respond(body, settings).review
    assert review["apiVersion"] == "admission.k8s.io/v1" and review["kind"] == "AdmissionReview"
    assert review["response"]["allowed"] is True
    return review["response"]


def test_an_opted_in_pod_gets_a_base64_json_patch(settings):
    pod = make_pod()
    response = answer(make_review(pod, uid="abc-1"), settings)
    assert response["uid"] == "abc-1"
    assert response["patchType"] == "JSONPatch"
    patched = apply(pod, orjson.loads(base64.b64decode(response["patch"])))
    assert patched["spec"]["initContainers"][0]["name"] == SIDECAR_NAME
    assert "warnings" not in response


def test_an_opted_out_pod_gets_no_patch(settings):
    response = answer(make_review(make_pod(annotations={INJECT: "false"})), settings)
    assert "patch" not in response and "patchType" not in response


@pytest.mark.parametrize(("operation", "kind"), [("UPDATE", "Pod"), ("CREATE", "Deployment")])
def test_only_pod_creation_is_mutated(settings, operation, kind):
    response = answer(make_review(make_pod(), operation=operation, kind=kind), settings)
    assert "patch" not in response and "warnings" not in response


@pytest.mark.parametrize(
    ("document", "uid", "fragment"),
    [
        (b"{not json", "", "not JSON"),
        ({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}, "", "no request"),
        ({"request": {"object": {}}}, "", "no uid"),
        ({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}}, "u", "v1"),
        (make_review({"spec": "nope"}, uid="u2"), "u2", "malformed pod"),
        (make_review(None, uid="u3"), "u3", "malformed pod"),
    ],
)
def test_malformed_reviews_are_allowed_with_a_warning(settings, document, uid, fragment):
    response = answer(document, settings)
    assert response["uid"] == uid
    assert "patch" not in response
    assert len(response["warnings"]) == 1 and fragment in response["warnings"][0]


def test_the_log_fields_say_what_happened(settings):
    outcome = respond(orjson.dumps(make_review(make_pod(), uid="u4")), settings)
    assert outcome.log["uid"] == "u4"
    assert outcome.log["namespace"] == "shop" and outcome.log["pod"] == "app-"
    assert outcome.log["injected"] is True and outcome.log["reason"] == "namespace opted in"


def test_warnings_are_single_short_lines(settings):
    pod = make_pod(annotations={"llm-router.io/route": "x" * 400})
    warnings = answer(make_review(pod), settings)["warnings"]
    assert all("\n" not in w and len(w) <= 256 for w in warnings)


def test_an_internal_error_is_answered_allowed_with_the_uid_when_readable():
    review = error_outcome(orjson.dumps(make_review(make_pod(), uid="u5")), "KeyError").review
    assert review["response"]["uid"] == "u5" and review["response"]["allowed"] is True
    assert "internal error" in review["response"]["warnings"][0]
    assert error_outcome(b"\xff", "KeyError").review["response"]["uid"] == ""
