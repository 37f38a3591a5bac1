"""Short-lived links to a meeting's recording and snippets that carry no credential.

A presigned S3 URL names the endpoint, bucket, key and the full access key id,
and with temporary credentials the session token too (issue 17). So the API
never hands one out: answers carry links to its own ``/media`` routes, which
stream the object through the API with ``Range`` support. A link names only
ids and an expiry, and is signed with the API's own key, so a browser's
``<audio>`` element, which cannot send the bearer token, can play it::

    /media/<meeting>/recording?expires=1767225600&signature=<hex>
    /media/<meeting>/speakers/<speaker>?expires=1767225600&signature=<hex>

The signing key is derived from ``IVRIMEET_API_TOKEN`` (every replica that
shares the token accepts every replica's links; rotating the token revokes
them) or, for an open API bound to 127.0.0.1, the data dir's signing key.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

__all__ = ["MediaLinks", "link_key"]

DEFAULT_EXPIRY_SECONDS = 900


def link_key(api_token: str | None, local_key: Callable[[], bytes]) -> bytes:
    """The HMAC key for media links: derived from the API token, else ``local_key()``."""
    if api_token is None:
        return local_key()
    # Derived, never the token itself: a signature reveals nothing usable as the token.
    return hmac.new(api_token.encode(), b"ivrimeet media links v1", hashlib.sha256).digest()


class MediaLinks:
    """Mints and checks the ``/media`` links; ``clock`` is passed in so expiry is testable."""

    def __init__(
        self,
        key: bytes,
        *,
        expires_seconds: int = DEFAULT_EXPIRY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.expires_seconds = expires_seconds
        self._clock = clock

    def recording(self, meeting_id: str) -> str:
        return self._signed(f"/media/{meeting_id}/recording")

    def snippet(self, meeting_id: str, speaker_id: str) -> str:
        return self._signed(f"/media/{meeting_id}/speakers/{speaker_id}")

    def verify(self, path: str, expires: int, signature: str) -> bool:
        """True if ``signature`` was minted for ``path`` with this expiry and has not expired."""
        if expires < self._clock():
            return False
        return hmac.compare_digest(self._signature(path, expires), signature)

    def _signed(self, path: str) -> str:
        expires = int(self._clock()) + self.expires_seconds
        return f"{path}?expires={expires}&signature={self._signature(path, expires)}"

    def _signature(self, path: str, expires: int) -> str:
        message = f"{path}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
