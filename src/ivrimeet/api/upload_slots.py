"""A global bound on the memory concurrent uploads hold in one API process.

Each upload streaming into the store holds at most its pipe
(``QUEUE_CHUNKS`` × ``CHUNK_BYTES`` = 4 MiB), the batch being filled (1 MiB)
and the store's part buffers: about 25 MiB with the S3 store's defaults
(measured: 20 concurrent 20 MB uploads took one process from 109 to
574 MiB). ``MAX_CONCURRENT_UPLOADS`` uploads (default 4, ~100 MiB) fit next to
the API's own ~110 MiB in a 512 MB container with room to spare; the next
upload is refused at once with 503 and ``Retry-After`` before a byte of its
body is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ivrimeet.errors import ServerBusyError

__all__ = ["UploadSlots"]

logger = logging.getLogger(__name__)


class UploadSlots:
    """``limit`` uploads at once. Used on the event loop only, so a plain counter is safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        """One slot for the ``with`` block; ``ServerBusyError`` when none is free."""
        if self.in_use >= self.limit:
            logger.warning("upload.busy in_use=%d limit=%d", self.in_use, self.limit)
            raise ServerBusyError(
                f"The server is already receiving {self.limit} uploads.",
                hints=["retry the upload in a few seconds (see the Retry-After header)"],
            )
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
