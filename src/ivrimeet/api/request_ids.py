"""A request id on every request: in the answer (``X-Request-Id``, error bodies) and the log.

An answer never holds server details (endpoint, bucket, key, path); the log
line does, with the same request id, so an operator given the id from a
user's screen finds the line. A client may send its own ``X-Request-Id``
(letters, digits, ``-``, ``_``; up to 64): a proxy's id then follows the
request through.
"""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestIdMiddleware", "request_id"]

HEADER = "X-Request-Id"
_ACCEPTED = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def request_id(request: Request) -> str:
    """This request's id (set by ``RequestIdMiddleware``)."""
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else "-"


class RequestIdMiddleware:
    """Pure ASGI (no response buffering): sets ``scope.state.request_id`` and the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(HEADER.lower().encode(), b"").decode("latin-1")
        rid = given if _ACCEPTED.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((HEADER.lower().encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
