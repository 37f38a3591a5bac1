"""Connections for the requests ivrimeet sends itself: pooled, timed, proxied, verified.

What boto3's client gets from botocore and urllib3, the own client gets here,
from the same sources, so both reach S3 the same way:

- **timeouts**: connecting (TCP, the proxy's ``CONNECT``, the TLS handshake)
  is bounded by ``connect_timeout``, every read after that by ``read_timeout``
  (``http.client`` alone has one timeout for both: an endpoint that drops
  packets took the 60 s read timeout per try);
- **proxies**: ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY`` as urllib reads
  them (botocore asks ``urllib.request`` too): HTTPS through a ``CONNECT``
  tunnel, plain HTTP as absolute-form requests to the proxy, as urllib3 does;
  ``user:password@`` in the proxy URL becomes ``Proxy-Authorization``;
- **CA bundle**: the file ``ca_bundle()`` names (``S3Connection.ca_bundle``:
  ``AWS_CA_BUNDLE`` or the profile's ``ca_bundle``, resolved by botocore's
  session as for the boto3 client), else botocore's default (certifi).

A connection that fails while connecting to or through the proxy raises
``ProxyFailure``, so the error says to check the proxy rather than S3.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = [
    "ConnectTimeout",
    "ConnectionPool",
    "ProxyFailure",
    "Target",
    "TimedConnection",
    "request_target",
]


@dataclass(frozen=True)
class Target:
    """Where a request goes: scheme, host, port, path (with query) and whole URL."""

    scheme: str
    host: str
    port: int | None
    path: str
    url: str


class ConnectTimeout(TimeoutError):
    """No connection within ``connect_timeout`` (an endpoint that drops packets)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no connection within {seconds} s")
        self.seconds = seconds


class ProxyFailure(OSError):
    """Connecting to or through the configured proxy failed (carries the proxy's answer)."""


class TimedConnection(http.client.HTTPConnection):
    """Plain HTTP: ``connect_timeout`` while connecting, ``read_timeout`` afterwards."""

    read_timeout: float = 60.0
    proxy_url: str | None = None
    proxy_authorization: str | None = None
    absolute_form = False
    """True when requests go to a forwarding proxy: the request line carries the whole URL."""

    def connect(self) -> None:
        try:
            super().connect()
        except ssl.SSLError:
            raise
        except TimeoutError as exc:
            if self.proxy_url is not None:
                raise ProxyFailure(exc.errno, f"proxy {self.proxy_url}: {exc}") from exc
            assert self.timeout is not None
            raise ConnectTimeout(self.timeout) from exc
        except OSError as exc:
            if self.proxy_url is None or isinstance(exc, ProxyFailure):
                raise
            raise ProxyFailure(exc.errno, f"proxy {self.proxy_url}: {exc}") from exc
        assert self.sock is not None
        self.sock.settimeout(self.read_timeout)

    def _tunnel(self) -> None:
        try:
            super()._tunnel()  # type: ignore[misc]  # http.client's private CONNECT step
        except OSError as exc:
            raise ProxyFailure(None, f"proxy {self.proxy_url}: {exc}") from exc

    def putrequest(
        self, method: str, url: str, skip_host: bool = False, skip_accept_encoding: bool = False
    ) -> None:
        super().putrequest(method, url, skip_host, skip_accept_encoding)
        if self.absolute_form and self.proxy_authorization:
            self.putheader("Proxy-Authorization", self.proxy_authorization)


class TimedHTTPSConnection(TimedConnection, http.client.HTTPSConnection):
    """HTTPS with the same two timeouts (the TLS handshake counts as connecting)."""


def request_target(conn: http.client.HTTPConnection, target: Target) -> str:
    """What goes on the request line: the path, or the whole URL for a forwarding proxy."""
    return target.url if getattr(conn, "absolute_form", False) else target.path


class ConnectionPool:
    """Keep-alive connections to the store's endpoint, shared by threads."""

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        max_idle: int,
        ca_bundle: Callable[[], str | None],
    ) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self._ca_bundle = ca_bundle
        self._ssl: ssl.SSLContext | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        # Idle connections are closed when the pool goes away (no unclosed sockets).
        weakref.finalize(self, _close_all, self._idle)

    def get(self, target: Target) -> http.client.HTTPConnection:
        """A keep-alive connection from the pool that is still open, or a new one.

        Servers close idle connections (rclone, S3 after a while): one that the
        server has closed shows as readable (EOF or reset) and is dropped here,
        instead of failing the request sent on it.
        """
        while True:
            with self._lock:
                if not self._idle:
                    break
                conn = self._idle.pop()
            if conn.sock is not None and not _closed_by_peer(conn.sock):
                return conn
            conn.close()
        return self.new(target)

    def new(self, target: Target) -> http.client.HTTPConnection:
        """A fresh connection to ``target``'s host, outside the pool (not yet connected)."""
        proxy = self._proxy_for(target)
        conn: TimedConnection
        if target.scheme == "https":
            conn = TimedHTTPSConnection(
                target.host, target.port, timeout=self.connect_timeout, context=self._context()
            )
        else:
            conn = TimedConnection(target.host, target.port, timeout=self.connect_timeout)
        conn.read_timeout = self.read_timeout
        if proxy is not None:
            _route_through(conn, proxy, target)
        return conn

    def release(self, conn: http.client.HTTPConnection) -> None:
        """Give a connection whose last answer was read completely back to the pool."""
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            _close_all(self._idle)

    def _context(self) -> ssl.SSLContext:
        with self._lock:
            if self._ssl is None:
                self._ssl = ssl.create_default_context(cafile=self._ca_bundle())
            return self._ssl

    def _proxy_for(self, target: Target) -> str | None:
        """The proxy URL for ``target`` from the environment, as urllib (and botocore) read it."""
        cache_key = (target.scheme, target.host)
        with self._lock:
            if cache_key in self._proxies:
                return self._proxies[cache_key]
        # Imported here: 30 ms that a process without proxies pays once, on first connect.
        import urllib.request

        proxy = urllib.request.getproxies().get(target.scheme)
        if proxy and urllib.request.proxy_bypass(target.host):
            proxy = None
        with self._lock:
            self._proxies[cache_key] = proxy or None
        return proxy or None


def _route_through(conn: TimedConnection, proxy: str, target: Target) -> None:
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    headers: dict[str, str] = {}
    if parts.username is not None:
        user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        conn.proxy_authorization = "Basic " + base64.b64encode(user.encode()).decode()
        headers["Proxy-Authorization"] = conn.proxy_authorization
    # For messages and logs: no user name or password.
    conn.proxy_url = f"{parts.scheme}://{parts.hostname}:{parts.port or 80}"
    port = target.port or (443 if target.scheme == "https" else 80)
    proxy_port = parts.port or 80
    if target.scheme == "https":
        conn.set_tunnel(target.host, port, headers=headers)
        conn.host, conn.port = parts.hostname or "", proxy_port
    else:
        conn.host, conn.port = parts.hostname or "", proxy_port
        conn.absolute_form = True


def _closed_by_peer(sock: socket.socket) -> bool:
    """True if an idle connection's socket is readable: the server closed or reset it."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    while connections:
        connections.pop().close()
