"""Read timeouts uvicorn lacks: slow headers and stalled bodies lose their connection.

uvicorn (0.55, h11) times out only an idle keep-alive connection after a
response. A client that connects and sends nothing, half a request line, or
headers one byte at a time, holds a connection forever; so does an upload whose
body stops mid-way (issue 17: both held over 60 s). ``timed_h11(headers, body)``
returns uvicorn's h11 protocol with one more timer per connection:

- **headers**: the request line and headers must be complete within
  ``headers`` seconds of the request's first byte (or of connecting, for the
  first request). Trickling bytes does not extend it (slowloris).
- **body**: while a request body is being read, each chunk must follow the
  previous one within ``body`` seconds. When the application stops reading
  (uvicorn pauses the socket because its buffer is full) the client is not the
  slow one, so the timer waits for the application instead of firing.

On expiry the client gets ``408`` (unless a response has begun) and the
connection is closed. For the application that is a client disconnect: the
upload route aborts its multipart upload exactly as when a client hangs up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["timed_h11"]

logger = logging.getLogger(__name__)


def _timeout_response(what: str) -> bytes:
    body = json.dumps(
        {
            "code": "request_timeout",
            "message": f"The request's {what} did not arrive in time; the connection is closed.",
            "hints": ["check the network between the client and the server, then retry"],
        }
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class _TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the header and body timers; see the module docstring."""

    header_seconds: float
    body_seconds: float

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._request_began: float | None = None

    # uvicorn narrows asyncio's BaseTransport to Transport the same way.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._request_began = self.loop.time()
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._request_began is None and self.conn.their_state is h11.IDLE:
            self._request_began = self.loop.time()
        super().data_received(data)
        self._arm()

    def on_response_complete(self) -> None:
        # The next request's header clock starts with its first byte; until then
        # uvicorn's keep-alive timeout governs the idle connection.
        self._request_began = None
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _arm(self) -> None:
        """Start the timer the connection's state calls for (none while the app works)."""
        self._disarm()
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and self._request_began is not None:
            deadline = self._request_began + self.header_seconds
            self._read_timer = self.loop.call_at(deadline, self._expired, "headers")
        elif state is h11.SEND_BODY:
            self._read_timer = self.loop.call_later(self.body_seconds, self._expired, "body")

    def _expired(self, what: str) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if what == "body" and self.flow.read_paused:
            # The application has not read what it has: wait for it, not the client.
            self._arm()
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        logger.warning(
            "http.read_timeout part=%s client=%s seconds=%s",
            what,
            client,
            self.header_seconds if what == "headers" else self.body_seconds,
        )
        if self.cycle is None or not self.cycle.response_started or self.cycle.response_complete:
            self.transport.write(_timeout_response(what))
        self.transport.close()


def timed_h11(header_seconds: float, body_seconds: float) -> type[H11Protocol]:
    """uvicorn's ``http=`` protocol class with these header and body read timeouts."""
    return type(
        "TimedH11Protocol",
        (_TimedH11Protocol,),
        {"header_seconds": header_seconds, "body_seconds": body_seconds},
    )
