"""The standard-library OTLP/HTTP sender: chosen only where it behaves as the `requests` one does,
keeps its connection, survives a receiver that drops idle connections, and reports failures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proxy.telemetry.export import HttpSender, PlainHttpSender, make_sender
from proxy.telemetry.settings import TelemetrySettings


class Receiver:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.drop_after_answer = False
        self.connections: set[int] = set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((self.path, dict(self.headers), body))
                receiver.connections.add(id(self.connection))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if receiver.drop_after_answer:
                    # As a receiver closing an idle kept-alive connection: no `Connection: close` said.
                    self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def config(endpoint: str, **fields: object):  # type: ignore[no-untyped-def]
    settings = TelemetrySettings(otlp_endpoint=endpoint, protocol="http/protobuf", timeout_s=2, **fields)  # type: ignore[arg-type]
    resolved = settings.resolve({})
    assert resolved is not None
    return resolved


def test_plain_http_only_without_tls_or_an_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(make_sender(config("http://127.0.0.1:4318")), PlainHttpSender)
    assert isinstance(make_sender(config("https://collector:4318")), HttpSender)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy:3128")
    assert isinstance(make_sender(config("http://collector:4318")), HttpSender)
    monkeypatch.setenv("NO_PROXY", "collector")
    assert isinstance(make_sender(config("http://collector:4318")), PlainHttpSender)


def test_posts_to_the_signal_paths_with_the_headers(receiver: Receiver) -> None:
    sender = PlainHttpSender(
        config(f"http://127.0.0.1:{receiver.port}/otlp", headers={"x-api-key": "k", "content-type": "application/x-protobuf; v=1"})
    )
    sender.send("traces", b"\x01\x02")
    sender.send("metrics", b"\x03")
    sender.send("traces", b"")
    (path1, headers, body1), (path2, _, body2), (_, _, body3) = receiver.requests
    assert (path1, body1, path2, body2, body3) == ("/otlp/v1/traces", b"\x01\x02", "/otlp/v1/metrics", b"\x03", b"")
    assert headers["x-api-key"] == "k"
    assert [v for k, v in headers.items() if k.lower() == "content-type"] == ["application/x-protobuf; v=1"]
    assert len(receiver.connections) == 1  # one kept-alive connection
    sender.close()


def test_a_dropped_idle_connection_is_reopened_once(receiver: Receiver) -> None:
    sender = PlainHttpSender(config(f"http://127.0.0.1:{receiver.port}"))
    receiver.drop_after_answer = True
    for i in range(3):
        sender.send("traces", bytes([i]))
    assert [body for _, _, body in receiver.requests] == [b"\x00", b"\x01", b"\x02"]
    sender.close()


def test_failures_raise(receiver: Receiver) -> None:
    sender = PlainHttpSender(config(f"http://127.0.0.1:{receiver.port}"))
    receiver.status = 503
    with pytest.raises(RuntimeError, match="answered 503"):
        sender.send("traces", b"x")
    receiver.status = 200
    sender.send("traces", b"y")  # the next export goes through
    sender.close()
    dead = PlainHttpSender(config("http://127.0.0.1:9"))
    with pytest.raises(OSError):
        dead.send("traces", b"x")
