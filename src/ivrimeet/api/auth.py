"""Bearer-token auth for ``/api/*``: ``Authorization: Bearer $IVRIMEET_API_TOKEN``.

Compared in constant time. A token in the query string is refused even when
correct: URLs end up in access logs, browser history and ``Referer`` headers.
With no token configured the API is open, and ``ivrimeet serve`` then binds
127.0.0.1 only.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Header, Request

from ivrimeet.api.deps import StateDep
from ivrimeet.errors import ApiTokenError

__all__ = ["require_token"]

_QUERY_TOKEN_NAMES = frozenset({"token", "access_token", "api_token", "apikey", "api_key", "key"})


def require_token(
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Dependency: pass when the request carries the configured bearer token."""
    if state.api_token is None:
        return
    if _QUERY_TOKEN_NAMES.intersection(k.lower() for k in request.query_params):
        raise ApiTokenError(
            "API tokens in the query string are refused.",
            hints=["send the token as the header 'Authorization: Bearer <token>'"],
        )
    scheme, _, presented = (authorization or "").partition(" ")
    expected = state.api_token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise ApiTokenError(
            "This request needs the API token.",
            details=["the Authorization header is missing or carries another token"],
            hints=["send 'Authorization: Bearer <IVRIMEET_API_TOKEN>'"],
        )
