"""The official openai Python SDK as an app would use it: no base_url, configured
only by its environment. Prints one JSON line: the reply, or the error chain.

A guard refuses to resolve any name but loopback ones, so a client that
ignores the proxy settings fails here instead of reaching out to the network.
"""

from __future__ import annotations

import json
import socket
import sys

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_real_getaddrinfo = socket.getaddrinfo


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode() if isinstance(host, bytes) else str(host)
    if name not in _LOOPBACK:
        raise socket.gaierror(socket.EAI_NONAME, f"test guard: direct connection to {name} attempted")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _guarded_getaddrinfo

import openai


def main() -> None:
    mode = sys.argv[1]
    client = openai.OpenAI(api_key="sk-test-interception", max_retries=0, timeout=10)
    messages = [{"role": "user", "content": "Say hello"}]
    try:
        if mode == "stream":
            stream = client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True)
            chunks = [c.choices[0].delta.content or "" for c in stream if c.choices]
            out = {"ok": True, "content": "".join(chunks), "chunks": len(chunks)}
        else:
            reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
            out = {"ok": True, "content": reply.choices[0].message.content, "base_url": str(client.base_url)}
    except openai.APIConnectionError as exc:
        chain, cur = [], exc
        while cur is not None:
            chain.append(f"{type(cur).__name__}: {cur}")
            cur = cur.__cause__ or cur.__context__
        out = {"ok": False, "error": chain}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
