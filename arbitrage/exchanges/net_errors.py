"""Why a venue could not be reached, in words a person can act on: the host and the kind of
failure (DNS, refused, TLS, timeout, reset), never the URL.

requests' own message holds the full URL, and a signed request's URL holds its query string and
signature; the cause is dug out of the exception chain instead (requests -> urllib3 ->
socket / ssl), so nothing from the request is ever repeated.
"""
from __future__ import annotations

import errno
import http.client
import socket
import ssl
from urllib.parse import urlsplit

import requests
from urllib3 import exceptions as u3

DNS = "DNS lookup failed"
REFUSED = "connection refused"
TLS = "TLS handshake failed"
PROXY = "proxy failed"
CONNECT_TIMEOUT = "connect timed out"
READ_TIMEOUT = "no answer in time (read timeout)"
RESET = "connection reset or closed by the peer"
NET_UNREACHABLE = "network unreachable"
HOST_UNREACHABLE = "host unreachable"


def host_of(url: str) -> str:
    """`host:port` of a URL: no scheme, no user info, no path, no query string."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3 reasons, args)."""
    seen: list[BaseException] = []
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen) or len(seen) > 20:
            continue                  # (ssl.SSLError.reason is a string, not an exception)
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *getattr(e, "args", ())]
    return seen


def network_cause(exc: BaseException) -> str:
    """The kind of network failure behind `exc` (a requests / urllib3 / socket exception)."""
    chain = _chain(exc)

    def has(*types: type) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    if has(socket.gaierror, u3.NameResolutionError):
        return DNS
    if has(ConnectionRefusedError):
        return REFUSED
    tls = has(ssl.SSLError, u3.SSLError, requests.exceptions.SSLError)
    if tls is not None:
        reason = next((e.reason for e in chain if isinstance(e, ssl.SSLError)
                       and isinstance(getattr(e, "reason", None), str)), None)
        return f"{TLS} ({reason})" if reason else TLS
    if has(u3.ProxyError, requests.exceptions.ProxyError):
        return PROXY
    if has(requests.exceptions.ConnectTimeout) or (
            has(u3.ConnectTimeoutError) and has(socket.timeout, TimeoutError)):
        return CONNECT_TIMEOUT
    if has(requests.exceptions.ReadTimeout, u3.ReadTimeoutError):
        return READ_TIMEOUT
    if has(ConnectionResetError, ConnectionAbortedError, BrokenPipeError,
           http.client.RemoteDisconnected, u3.ProtocolError):
        return RESET
    for e in chain:
        if isinstance(e, OSError) and e.errno == errno.ENETUNREACH:
            return NET_UNREACHABLE
        if isinstance(e, OSError) and e.errno == errno.EHOSTUNREACH:
            return HOST_UNREACHABLE
    return type(exc).__name__


def describe(exc: BaseException, url: str) -> str:
    """`host:port: cause` for a failed request to `url`."""
    return f"{host_of(url)}: {network_cause(exc)}"
