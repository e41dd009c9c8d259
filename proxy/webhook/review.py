"""AdmissionReview v1 in, AdmissionReview v1 out.

Every path answers `allowed: true`: this webhook only ever adds a sidecar, and
a pod must never fail to start because of it. Problems travel back as
admission warnings (shown by kubectl) and in the returned log fields.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from proxy.webhook.patch import MalformedPod, Plan, plan
from proxy.webhook.settings import InjectionSettings

API_VERSION = "admission.k8s.io/v1"
# The API server may truncate warnings past 256 characters; cutting them here
# keeps the cut predictable and each warning on one line.
_WARNING_MAX = 256


@dataclass(frozen=True)
class Outcome:
    review: dict
    log: dict = field(default_factory=dict)


def respond(body: bytes, settings: InjectionSettings) -> Outcome:
    """Answer one AdmissionReview request body."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _allow("", [f"llm-router webhook: request body is not JSON ({exc.msg})"], malformed=True)
    request = document.get("request") if isinstance(document, Mapping) else None
    if not isinstance(request, Mapping):
        return _allow("", ["llm-router webhook: not an AdmissionReview (no request)"], malformed=True)
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        return _allow("", ["llm-router webhook: AdmissionReview request has no uid"], malformed=True)
    if document.get("apiVersion") != API_VERSION or document.get("kind") != "AdmissionReview":
        return _allow(uid, [f"llm-router webhook: expected an {API_VERSION} AdmissionReview"], malformed=True)

    context = {
        "uid": uid,
        "namespace": request.get("namespace"),
        "operation": request.get("operation"),
    }
    kind = request.get("kind") if isinstance(request.get("kind"), Mapping) else {}
    if kind.get("kind") != "Pod" or request.get("operation") != "CREATE":
        return _allow(uid, [], context | {"injected": False, "reason": "not a pod creation"})
    pod = request.get("object")
    if isinstance(pod, Mapping):
        meta = pod.get("metadata") if isinstance(pod.get("metadata"), Mapping) else {}
        context["pod"] = meta.get("name") or meta.get("generateName")
    try:
        decision = plan(pod, settings)
    except MalformedPod as exc:
        return _allow(uid, [f"llm-router webhook: malformed pod ({exc})"], context, malformed=True)
    return _answer(uid, decision, context)


def _answer(uid: str, decision: Plan, context: dict) -> Outcome:
    response: dict = {"uid": uid, "allowed": True}
    if decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(orjson.dumps(decision.patch)).decode("ascii")
    if decision.warnings:
        response["warnings"] = [_one_line(w) for w in decision.warnings]
    log = context | {"injected": decision.injected, "reason": decision.reason, "warnings": decision.warnings}
    return Outcome(_review(response), log)


def error_outcome(body: bytes, error: str) -> Outcome:
    """The answer when the webhook itself failed: allowed, with the uid if one can be read."""
    try:
        uid = str(orjson.loads(body)["request"]["uid"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        uid = ""  # nothing to echo; the API server then applies failurePolicy: Ignore
    return _allow(uid, [f"llm-router webhook: internal error ({error}); pod admitted unchanged"], malformed=True)


def _allow(uid: str, warnings: list[str], context: dict | None = None, malformed: bool = False) -> Outcome:
    response: dict = {"uid": uid, "allowed": True}
    if warnings:
        response["warnings"] = [_one_line(w) for w in warnings]
    log = (context or {"uid": uid}) | {"injected": False, "malformed": malformed, "warnings": warnings}
    return Outcome(_review(response), log)


def _review(response: dict) -> dict:
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response}


def _one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _WARNING_MAX else flat[: _WARNING_MAX - 1] + "…"
