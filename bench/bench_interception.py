"""Figures for HTTPS_PROXY interception (not a test; pytest does not collect it).

    python bench/bench_interception.py [--requests 3000] [--tunnels 500]

Three processes on loopback: a tiny upstream (and TCP echo server), the
sidecar (its real handler behind `start_listener`, on uvloop), and this
client, which uses blocking sockets so its own overhead is small and equal in
every mode. It prints, as JSON:

- per-request latency through a kept-alive intercepted tunnel vs the same
  request in reverse-proxy form on a kept-alive connection (the difference is
  what interception adds: TLS on both ends of the app's leg), and reverse-proxy
  requests through the listener vs the same HTTP server bound directly with
  `loop.create_server` (what the listener costs plain traffic);
- a new plain connection plus one request, through the listener and direct;
- the cost of a new tunnel, from TCP connect to TLS established: with a leaf
  minted for a new host, and with the leaf already cached;
- the sidecar's RSS idle, with N intercepted tunnels open (each has carried a
  request), and with N blind tunnels open as well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
ANSWER = b'{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}'


def _raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the upstream process ---------------------------------------------------------------------

async def _upstream_main() -> None:
    from aiohttp import web

    async def handle(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=ANSWER, content_type="application/json")

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass  # the tunnel was torn down
        finally:
            writer.close()

    loop = asyncio.get_running_loop()
    http = await loop.create_server(web.Server(handle, access_log=None), "127.0.0.1", 0, backlog=2048)
    tcp = await asyncio.start_server(echo, "127.0.0.1", 0, backlog=2048)
    print(json.dumps({"http": http.sockets[0].getsockname()[1], "echo": tcp.sockets[0].getsockname()[1]}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


# -- the sidecar process ----------------------------------------------------------------------

async def _proxy_main(upstream_port: int, ca_dir: Path) -> None:
    import yaml

    from proxy import logs
    from proxy.config import load
    from proxy.http.inbound import InboundServer
    from proxy.interception.listener import start_listener
    from proxy.interception.settings import InterceptionSettings
    from proxy.server import Sidecar

    path = ca_dir / "proxy.yaml"
    path.write_text(yaml.safe_dump({
        "listen": "127.0.0.1:0", "admin": "127.0.0.1:0",
        "upstreams": {"openai": {"base_url": f"http://127.0.0.1:{upstream_port}"}},
        "logging": {"level": "warning", "access_log": False},
    }))
    logs.configure("warning")
    loaded = load(path)
    sidecar = Sidecar(loaded)
    sidecar.apply(loaded)
    server = InboundServer(sidecar.handle)
    settings = InterceptionSettings(hosts=["api.openai.com", "*.bench.test"], ca_cert="ca.crt", ca_key="ca.key",
                                    leaf_cache_size=10000)
    listener = await start_listener(server, "127.0.0.1", 0, settings, ca_dir, backlog=2048)
    # The same server bound directly, without the listener's first-bytes check, to show what the listener costs.
    site = await asyncio.get_running_loop().create_server(server, "127.0.0.1", 0, backlog=2048)
    print(json.dumps({"port": listener.address[1], "bound_directly": site.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await listener.close()
    await server.shutdown(1)
    await sidecar.pool.close()


def _child(role: str, *args: str) -> tuple[subprocess.Popen[str], dict[str, int]]:
    proc = subprocess.Popen([sys.executable, __file__, "--role", role, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    while not (line := proc.stdout.readline()).startswith('{"'):
        if not line:
            raise RuntimeError(f"{role} process exited before it was ready")
    # Keep reading what it logs, so a full pipe never blocks it.
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc, json.loads(line)


# -- the client -------------------------------------------------------------------------------

def _request(sock: socket.socket | ssl.SSLSocket, path: bytes = b"/v1/chat/completions") -> None:
    sock.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: api.openai.com\r\nAuthorization: Bearer sk-bench\r\n"
                 b"Content-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)


def _tunnel(port: int, host: str, ctx: ssl.SSLContext) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return ctx.wrap_socket(sock, server_hostname=host)


def _latencies(sock: socket.socket, n: int) -> list[float]:
    for _ in range(200):  # warm up: connection pools, caches, branch predictors
        _request(sock)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        _request(sock)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 4), "p90_ms": round(ms[int(len(ms) * 0.9)], 4),
            "p99_ms": round(ms[int(len(ms) * 0.99)], 4), "mean_ms": round(statistics.fmean(ms), 4)}


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _open_many(port: int, n: int, ctx: ssl.SSLContext, target: str, intercepted: bool) -> list[asyncio.StreamWriter]:
    writers = []
    for i in range(n):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        if intercepted:
            await writer.start_tls(ctx, server_hostname="api.openai.com")
            writer.write(b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
        else:
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
        writers.append(writer)
    return writers


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--tunnels", type=int, default=500)
    p.add_argument("--new-tunnels", type=int, default=200)
    p.add_argument("--role", choices=["client", "upstream", "proxy"], default="client")
    p.add_argument("--upstream-port", type=int)
    p.add_argument("--ca-dir", type=Path)
    args = p.parse_args()
    _raise_fd_limit()
    if args.role != "client":
        import uvloop

        sys.path.insert(0, str(ROOT))
        uvloop.run(_upstream_main() if args.role == "upstream" else _proxy_main(args.upstream_port, args.ca_dir))
        return

    sys.path.insert(0, str(ROOT))
    from proxy.interception.ca import create_ca

    with tempfile.TemporaryDirectory() as tmp:
        ca_dir = Path(tmp)
        cert, _ = create_ca(ca_dir)
        upstream, ports = _child("upstream")
        proxy, proxy_ports = _child("proxy", "--upstream-port", str(ports["http"]), "--ca-dir", str(ca_dir))
        port = proxy_ports["port"]
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.set_alpn_protocols(["http/1.1"])
        try:
            results: dict[str, object] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
            results["rss_idle_kib"] = _rss_kib(proxy.pid)

            direct = socket.create_connection(("127.0.0.1", ports["http"]))
            direct.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            plain = socket.create_connection(("127.0.0.1", port))
            plain.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tunnel = _tunnel(port, "api.openai.com", ctx)
            # Interleaved rounds, so drift (frequency scaling, other load) hits every mode alike.
            site = socket.create_connection(("127.0.0.1", proxy_ports["bound_directly"]))
            site.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rounds: dict[str, list[float]] = {"direct_upstream": [], "reverse_proxy_bound_directly": [],
                                              "reverse_proxy": [], "intercepted_tunnel": []}
            per_round = max(1, args.requests // 5)
            for _ in range(5):
                rounds["direct_upstream"] += _latencies(direct, per_round)
                rounds["reverse_proxy_bound_directly"] += _latencies(site, per_round)
                rounds["reverse_proxy"] += _latencies(plain, per_round)
                rounds["intercepted_tunnel"] += _latencies(tunnel, per_round)
            for sock in (direct, site, plain, tunnel):
                sock.close()
            latency = {mode: _summary(ms) for mode, ms in rounds.items()}
            latency["interception_added_p50_ms"] = round(latency["intercepted_tunnel"]["p50_ms"] - latency["reverse_proxy"]["p50_ms"], 4)
            latency["interception_added_mean_ms"] = round(latency["intercepted_tunnel"]["mean_ms"] - latency["reverse_proxy"]["mean_ms"], 4)
            latency["listener_added_p50_ms"] = round(latency["reverse_proxy"]["p50_ms"] - latency["reverse_proxy_bound_directly"]["p50_ms"], 4)
            results["per_request"] = latency

            # A new plain connection per request: what the listener's first-bytes check costs a connection.
            conn: dict[str, list[float]] = {"bound_directly": [], "listener": []}
            pairs = [("bound_directly", proxy_ports["bound_directly"]), ("listener", port)]
            for i in range(args.new_tunnels * 5):
                for mode, p in (pairs if i % 2 else pairs[::-1]):  # alternate, so neither always goes first
                    t = time.perf_counter()
                    sock = socket.create_connection(("127.0.0.1", p))
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    _request(sock)
                    sock.close()
                    conn[mode].append((time.perf_counter() - t) * 1000)
            results["new_plain_connection_plus_request"] = {mode: _summary(ms) for mode, ms in conn.items()}

            cached, minted = [], []
            _tunnel(port, "warm.bench.test", ctx).close()
            for i in range(args.new_tunnels):
                t = time.perf_counter()
                _tunnel(port, "warm.bench.test", ctx).close()
                cached.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                _tunnel(port, f"h{i}.bench.test", ctx).close()
                minted.append((time.perf_counter() - t) * 1000)
            results["new_tunnel"] = {"cached_leaf": _summary(cached), "minted_leaf": _summary(minted)}

            async def hold() -> None:
                intercepted = await _open_many(port, args.tunnels, ctx, "api.openai.com:443", True)
                await asyncio.sleep(0.5)
                results[f"rss_{args.tunnels}_intercepted_tunnels_kib"] = _rss_kib(proxy.pid)
                blind = await _open_many(port, args.tunnels, ctx, f"127.0.0.1:{ports['echo']}", False)
                await asyncio.sleep(0.5)
                results[f"rss_plus_{args.tunnels}_blind_tunnels_kib"] = _rss_kib(proxy.pid)
                for w in intercepted + blind:
                    w.close()

            asyncio.run(hold())
            results["rss_per_intercepted_tunnel_kib"] = round(
                (results[f"rss_{args.tunnels}_intercepted_tunnels_kib"] - results["rss_idle_kib"]) / args.tunnels, 1)  # type: ignore[operator]
            print(json.dumps(results, indent=2))
        finally:
            for child in (proxy, upstream):
                assert child.stdin is not None
                child.stdin.close()
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()


if __name__ == "__main__":
    main()
