"""Run an SDK client script in a subprocess with a clean, chosen environment."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

HERE = Path(__file__).parent

# Everything that could steer a client to a proxy, a trust store or another base URL.
_STEERING = (
    "HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "NODE_USE_ENV_PROXY", "NODE_OPTIONS", "NODE_TLS_REJECT_UNAUTHORIZED",
)


def clean_env(**values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if k.upper() not in _STEERING and not k.upper().startswith("OPENAI_")
    }
    env.update(values)
    return env


async def run_client(argv: list[str], env: dict[str, str], timeout: float = 30) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=str(HERE)
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    lines = out.decode().strip().splitlines()
    assert proc.returncode == 0 and lines, f"client exited {proc.returncode}: {err.decode()[-2000:]}"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    return result
