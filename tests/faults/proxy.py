"""A TCP fault proxy on 127.0.0.1: real broken sockets between a client and a real server.

``FaultProxy(upstream_port)`` runs an asyncio server in a thread and forwards
every connection to the upstream port. Switches (callable from the test thread
at any time; they apply to the next bytes that flow):

* ``refuse()`` / ``accept()``: close the listening socket, so connecting fails
  with ``ECONNREFUSED`` (a server that is down), and open it again on the same port;
* ``cut(after_bytes, request=..., direction=..., times=...)``: abort the
  connection (TCP reset on both sides) once ``after_bytes`` bytes have flowed
  in ``direction`` (``"down"``: server to client, ``"up"``: client to server),
  counted from the start of the connection, or, with ``request``, from the start
  of the first request whose request line contains that text (``"GET /bucket/key"``);
* ``stall(after_bytes, ...)``: same matching, but stop forwarding and keep the
  sockets open: the client waits until its own timeout;
* ``latency(seconds)``: delay every forwarded chunk;
* ``cut_randomly(rate, seed, max_bytes)``: each new connection is, with
  probability ``rate`` (a ``random.Random(seed)``, so a run is repeatable),
  cut after a random number of downstream bytes up to ``max_bytes``;
* ``clear()``: pass everything through again (the listener stays as it is).

Counters: ``connections`` (accepted), ``faults`` (connections cut or stalled,
plus connection attempts refused while down is not countable and so not
counted), ``bytes_down``/``bytes_up``. Every fault is also added to the suite's
ledger (``tests.faults.ledger``), which reports the totals.

Request lines are recognised at the start of a chunk sent by the client
(``METHOD target HTTP/1.x``): enough for HTTP/1.1 clients, which write a
request's head in one ``send``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tests.faults import ledger

__all__ = ["Direction", "FaultProxy", "running_proxy"]

Direction = Literal["down", "up"]
_REQUEST_LINE = re.compile(rb"^(GET|PUT|POST|HEAD|DELETE|PATCH|OPTIONS) (\S+) HTTP/1\.[01]\r\n")
_CHUNK = 64 * 1024
T = TypeVar("T")


@dataclass
class _Rule:
    kind: Literal["cut", "stall"]
    after_bytes: int
    direction: Direction
    request: str | None
    times: int | None  # None: every matching connection

    def armed(self) -> bool:
        return self.times is None or self.times > 0


@dataclass(eq=False)
class _Connection:
    """One proxied connection: byte counts and the rule that will break it, if any."""

    number: int
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter | None = None
    request_line: str = ""
    sent: dict[str, int] = field(default_factory=lambda: {"down": 0, "up": 0})
    since_request: dict[str, int] = field(default_factory=lambda: {"down": 0, "up": 0})
    random_cut_at: int | None = None
    broken: bool = False
    stalled: asyncio.Event = field(default_factory=asyncio.Event)


class FaultProxy:
    """See the module docstring. Use ``running_proxy(port)`` or the ``fault_proxy`` fixture."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.connections = 0
        self.faults = 0
        self.bytes_down = 0
        self.bytes_up = 0
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._latency = 0.0
        self._random: tuple[float, random.Random, int] | None = None
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._open: set[_Connection] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="proxy")

    # --- life cycle -------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self.port = self._call(self._listen(0))
        return self

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self, port: int) -> int:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", port, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _shutdown(self) -> None:
        for conn in list(self._open):
            self._abort(conn)
        await self._close_listener()

    # --- switches ----------------------------------------------------------------

    def refuse(self, *, drop_open: bool = True) -> None:
        """Stop listening: new connections are refused; open ones are reset too by default."""

        async def go() -> None:
            if drop_open:
                for conn in list(self._open):
                    self._abort(conn)
            await self._close_listener()

        self._call(go())

    def accept(self) -> None:
        """Listen again on the same port."""

        async def go() -> None:
            if self._server is None:
                await self._listen(self.port)

        self._call(go())

    def cut(
        self,
        after_bytes: int = 0,
        *,
        request: str | None = None,
        direction: Direction = "down",
        times: int | None = 1,
    ) -> None:
        """Reset the matching connection(s) after ``after_bytes`` in ``direction``."""
        with self._lock:
            self._rules.append(_Rule("cut", after_bytes, direction, request, times))

    def stall(
        self,
        after_bytes: int = 0,
        *,
        request: str | None = None,
        direction: Direction = "down",
        times: int | None = 1,
    ) -> None:
        """Stop forwarding on the matching connection(s) after ``after_bytes``; keep them open."""
        with self._lock:
            self._rules.append(_Rule("stall", after_bytes, direction, request, times))

    def latency(self, seconds: float) -> None:
        """Delay every forwarded chunk by ``seconds``."""
        with self._lock:
            self._latency = seconds

    def cut_randomly(self, rate: float, *, seed: int, max_bytes: int = 256 * 1024) -> None:
        """Cut a share ``rate`` of new connections after 0..``max_bytes`` downstream bytes."""
        with self._lock:
            self._random = (rate, random.Random(seed), max_bytes)

    def clear(self) -> None:
        """Forward everything again (no rules, no latency, no random cuts)."""
        with self._lock:
            self._rules.clear()
            self._latency = 0.0
            self._random = None

        async def wake() -> None:
            for conn in list(self._open):
                conn.stalled.set()

        self._call(wake())

    # --- forwarding ----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
            conn = _Connection(self.connections, writer)
            if self._random is not None:
                rate, rng, max_bytes = self._random
                if rng.random() < rate:
                    conn.random_cut_at = rng.randint(0, max_bytes)
        self._open.add(conn)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                self._abort(conn)
                return
            conn.server = up_writer
            await asyncio.gather(
                self._pump(conn, reader, up_writer, "up"),
                self._pump(conn, up_reader, writer, "down"),
            )
        finally:
            self._open.discard(conn)
            self._close(conn)

    async def _pump(
        self,
        conn: _Connection,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        direction: Direction,
    ) -> None:
        try:
            while not conn.broken:
                data = await source.read(_CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        if sink.can_write_eof():
                            sink.write_eof()
                    conn.stalled.set()  # a peer left: a stalled other half ends too
                    return
                if direction == "up":
                    match = _REQUEST_LINE.match(data)
                    if match:
                        conn.request_line = f"{match.group(1).decode()} {match.group(2).decode()}"
                        conn.since_request = {"down": 0, "up": 0}
                keep, action = self._decide(conn, direction, len(data))
                if self._latency:
                    await asyncio.sleep(self._latency)
                if keep:
                    # Counted before writing: a test reading the counters after its client
                    # got the last byte must see that byte counted.
                    self._count(conn, direction, keep)
                    sink.write(data[:keep])
                    await sink.drain()
                if action == "cut":
                    self._abort(conn)
                    return
                if action == "stall":
                    # Until clear() or a peer leaves; then the connection is dropped.
                    await conn.stalled.wait()
                    self._abort(conn)
                    return
        except (OSError, asyncio.IncompleteReadError):
            self._abort(conn)

    def _count(self, conn: _Connection, direction: Direction, count: int) -> None:
        conn.sent[direction] += count
        conn.since_request[direction] += count
        with self._lock:
            if direction == "down":
                self.bytes_down += count
            else:
                self.bytes_up += count

    def _decide(
        self, conn: _Connection, direction: Direction, length: int
    ) -> tuple[int, Literal["cut", "stall"] | None]:
        """How many bytes of this chunk to forward, and what to do afterwards."""
        with self._lock:
            if conn.random_cut_at is not None and direction == "down":
                left = conn.random_cut_at - conn.sent["down"]
                if left < length:
                    conn.random_cut_at = None
                    self._fault("cut", "random")
                    return max(left, 0), "cut"
            for rule in self._rules:
                if not rule.armed() or rule.direction != direction:
                    continue
                if rule.request is None:
                    done = conn.sent[direction]
                elif rule.request in conn.request_line:
                    done = conn.since_request[direction]
                else:
                    continue
                left = rule.after_bytes - done
                if left < length or (left == 0 and length == 0):
                    if rule.times is not None:
                        rule.times -= 1
                    self._fault(rule.kind, rule.request or "connection")
                    return max(left, 0), rule.kind
        return length, None

    def _fault(self, kind: str, where: str) -> None:
        self.faults += 1
        ledger.fault(f"proxy.{kind}")

    def _close(self, conn: _Connection) -> None:
        """End a connection that finished normally: FIN after the buffered bytes."""
        for writer in (conn.client, conn.server):
            if writer is not None and not writer.transport.is_closing():
                writer.close()

    def _abort(self, conn: _Connection) -> None:
        conn.broken = True
        conn.stalled.set()
        for writer in (conn.client, conn.server):
            if writer is not None:
                transport = writer.transport
                if not transport.is_closing():
                    # SO_LINGER 0 via abort(): the peer sees a reset, as when a server dies.
                    transport.abort()


@contextlib.contextmanager
def running_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    """A started ``FaultProxy`` in front of ``upstream_port``, stopped afterwards."""
    proxy = FaultProxy(upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def port_of(url: str) -> int:
    """The port of ``http://host:port``."""
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def refused(port: int) -> bool:
    """True if nothing accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0
