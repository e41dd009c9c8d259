"""What can go wrong talking to an upstream below HTTP (see `proxy.http.outbound`)."""

from __future__ import annotations


class ClientError(Exception):
    """The upstream exchange failed below HTTP (no connection, a broken or garbled answer)."""


class ConnectError(ClientError):
    def __init__(self, message: str, os_error: OSError | None = None):
        super().__init__(message)
        self.os_error = os_error


class ConnectTimeout(ClientError):
    pass


class Disconnected(ClientError):
    """The upstream closed the connection before its answer's head arrived."""


class PayloadError(ClientError):
    """The upstream's answer broke off before its end."""


class BadResponse(ClientError):
    """What the upstream sent is not an HTTP/1.1 response."""
