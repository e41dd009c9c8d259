"""Kubernetes admission webhook that injects the router as a native sidecar.

The pieces, from the inside out:

- `annotations`: the `llm-router.io/` labels and annotations a pod uses to opt in
  or out and to override its rollout (mode, percent, route), read into plain values.
- `sidecar`: what gets added, as plain dicts: the sidecar container (an
  `initContainers` entry with `restartPolicy: Always`), its volumes, and the
  environment and mount each app container receives.
- `patch`: the decision, a pure function `plan(pod, settings) -> Plan` that turns
  a pod dict into RFC 6902 JSONPatch operations plus warnings, or explains why
  the pod is left alone.
- `review`: AdmissionReview v1 in, AdmissionReview v1 out; anything malformed is
  answered `allowed: true` with a warning, because a pod is never blocked.
- `server` and `command`: the HTTPS edge (aiohttp, certificate reload) and
  `llm-router webhook`.
"""
