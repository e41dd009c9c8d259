# syntax=docker/dockerfile:1
# llm-router sidecar image.
#   build:  docker build -t llm-router:0.1.0 .
#   size:   docker image ls llm-router:0.1.0 --format '{{.Size}}'
# Stage 1 builds the wheel and a virtualenv with every dependency; stage 2 is
# a clean slim image that only receives that virtualenv, so no compiler,
# pip cache or source tree reaches the runtime image.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proxy ./proxy
RUN python -m pip wheel --no-deps --wheel-dir /wheels .
# Dependencies as prebuilt wheels only: a dependency that would need a
# compiler fails the build here instead of dragging a toolchain in.
RUN python -m venv /opt/llm-router \
 && /opt/llm-router/bin/pip install --only-binary=:all: /wheels/*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="llm-router" \
      org.opencontainers.image.description="Sidecar proxy that routes OpenAI traffic to cheaper models" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid: Kubernetes' runAsNonRoot can only verify a numeric
# user, and the manifests' runAsUser is 10001.
RUN groupadd --system --gid 10001 llm-router \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin llm-router
COPY --from=build /opt/llm-router /opt/llm-router
WORKDIR /app
# Routing policy and the trained classifier (ONNX models, tokenizer,
# exemplars): owned by root and read-only to the service user.
COPY policies ./policies
COPY proxy.yaml ./proxy.yaml
ENV PATH=/opt/llm-router/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 8080 8081
# Slim images have no curl; the interpreter is already there. Kubernetes
# ignores HEALTHCHECK and uses the probes in deploy/k8s instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["llm-router"]
CMD ["serve", "-c", "/app/proxy.yaml"]
