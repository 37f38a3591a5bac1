"""An HTTP proxy on 127.0.0.1 that gives the answers real S3 gives and loopback servers never do.

``AnswerProxy(upstream_url)`` is, at once:

* a **reverse proxy**: clients use its URL as their S3 endpoint; each request
  goes to the real server (moto, rclone) unchanged (same Host header, so SigV4
  still verifies) unless a rule says otherwise;
* a **forward proxy** for ``HTTP_PROXY`` / ``HTTPS_PROXY``: absolute-form
  requests (``GET http://host/...``) and ``CONNECT`` tunnels are served and
  counted (``forwarded``, ``tunnels``).

Rules (``when(method, contains=..., times=...)``, first match wins, each used
``times`` times, ``None``: always):

* ``.answer(status, code=..., body=..., headers=..., chunked=...)``: answer in
  place of the server (``503 SlowDown``, ``400 RequestTimeout``, ``200`` with an
  ``<Error>`` body...), with ``chunked`` as ``Transfer-Encoding: chunked``;
* ``.chunked()``: the server's answer, sent with ``Transfer-Encoding: chunked``
  and no ``Content-Length``;
* ``.cut()``: the server's status and headers, half the body, then a clean close;
* ``.reset()``: the same, then a TCP reset (``SO_LINGER`` 0);
* ``.delay(seconds)``: the server's answer, late.

``tokens``: when set, a function from a request's ``X-Amz-Security-Token`` to
"still valid"; requests whose token is not answer ``400 ExpiredToken`` as S3 does.
``requests`` lists every request line seen, in order.
"""

from __future__ import annotations

import http.client
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["AnswerProxy", "Rule", "error_xml"]

Kind = Literal["answer", "chunked", "cut", "reset", "delay", "pass"]
_HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive", "expect"}


def error_xml(code: str, message: str = "", **fields: str) -> bytes:
    """An S3 error document."""
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message>{extra}<RequestId>PROXY1234</RequestId></Error>"
    ).encode()


@dataclass
class Rule:
    """What to do with requests whose method and target match."""

    method: str
    contains: str
    times: int | None
    kind: Kind = "pass"
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    chunked_answer: bool = False
    used: int = 0

    def answer(
        self,
        status: int,
        code: str | None = None,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        chunked: bool = False,
        **fields: str,
    ) -> Rule:
        self.kind, self.status, self.chunked_answer = "answer", status, chunked
        self.body = body if body is not None else (error_xml(code, **fields) if code else b"")
        self.headers = headers or {}
        return self

    def chunked(self) -> Rule:
        self.kind = "chunked"
        return self

    def cut(self) -> Rule:
        self.kind = "cut"
        return self

    def reset(self) -> Rule:
        self.kind = "reset"
        return self

    def delay(self, seconds: float) -> Rule:
        self.kind, self.seconds = "delay", seconds
        return self


class AnswerProxy:
    """See the module docstring. Use as a context manager; ``url`` is the endpoint to give."""

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.rules: list[Rule] = []
        self.requests: list[str] = []
        self.forwarded = 0
        self.tunnels = 0
        self.tokens: Callable[[str | None], bool] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> AnswerProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def when(self, method: str, contains: str = "", *, times: int | None = 1) -> Rule:
        rule = Rule(method, contains, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def unused(self) -> list[Rule]:
        """Rules with tries left: a test checks its faults really happened."""
        with self._lock:
            return [r for r in self.rules if r.times is not None and r.used < r.times]

    def _match(self, method: str, target: str) -> Rule | None:
        with self._lock:
            self.requests.append(f"{method} {target}")
            for rule in self.rules:
                spent = rule.times is not None and rule.used >= rule.times
                if not spent and rule.method == method and rule.contains in target:
                    rule.used += 1
                    return rule
        return None


def _handler_for(proxy: AnswerProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # stdlib name
            pass

        def do_CONNECT(self) -> None:  # http.server's naming
            host, _, port = self.path.rpartition(":")
            with proxy._lock:
                proxy.tunnels += 1
            upstream = socket.create_connection((host, int(port)), timeout=10)
            self.send_response(200, "Connection established")
            self.end_headers()
            _pump(self.connection, upstream)
            self.close_connection = True

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target, upstream = self.path, proxy.upstream
            if target.startswith("http://"):
                parts = urlsplit(target)
                upstream = (parts.hostname or "", parts.port or 80)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                with proxy._lock:
                    proxy.forwarded += 1
            rule = proxy._match(self.command, target)
            if proxy.tokens is not None and not proxy.tokens(
                self.headers.get("X-Amz-Security-Token")
            ):
                self._send(400, {}, error_xml("ExpiredToken", "The provided token has expired."))
                return
            if rule is not None and rule.kind == "answer":
                send = self._send_chunked if rule.chunked_answer else self._send
                send(rule.status, rule.headers, rule.body)
                return
            status, headers, data = _forward(upstream, self.command, target, self.headers, body)
            kind = rule.kind if rule is not None else "pass"
            if kind == "delay":
                assert rule is not None
                time.sleep(rule.seconds)  # the fault itself: a slow server, not a test wait
            if kind == "chunked":
                self._send_chunked(status, headers, data)
            elif kind in ("cut", "reset"):
                self._send_part(status, headers, data, reset=kind == "reset")
            else:
                self._send(status, headers, data)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _any

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            length = headers.get("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _send_chunked(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(data), 300):
                piece = data[start : start + 300]
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def _send_part(
            self, status: int, headers: dict[str, str], data: bytes, *, reset: bool
        ) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if reset:
                linger = struct.pack("ii", 1, 0)
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.close_connection = True

    return Handler


def _forward(
    upstream: tuple[str, int], method: str, target: str, headers: object, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*upstream, timeout=30)
    try:
        sent = {
            name: value
            for name, value in headers.items()  # type: ignore[attr-defined]  # http.client.HTTPMessage
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length"
        }
        conn.request(
            method, target, body=body if body or method in ("PUT", "POST") else None, headers=sent
        )
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data
    finally:
        conn.close()


def _pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until one side closes (a CONNECT tunnel)."""
    sockets = [client, upstream]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
    finally:
        upstream.close()
