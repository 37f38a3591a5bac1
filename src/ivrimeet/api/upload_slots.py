"""A global bound on the memory concurrent uploads hold in one API process.

Each upload streaming into the store holds at most its pipe
(``QUEUE_CHUNKS`` × ``CHUNK_BYTES`` = 4 MiB), the batch being filled (1 MiB)
and the store's part buffers: at most ``PER_UPLOAD_MIB`` (25 MiB) with the S3
store's defaults. Measured with ``ivrimeet serve --no-worker``, 20 concurrent
20 MB uploads, RSS sampled every 10 ms (tests/faults/test_upload_memory.py,
2026-12-07, API baseline 113-114 MiB):

| store | slots | uploads at once | peak RSS | growth | per upload |
| --- | --- | --- | --- | --- | --- |
| S3 (moto) | 4 (default) | 4, 16 refused | 206 MiB | 91 MiB | ~23 MiB |
| S3 (moto) | 20 | 20 | 591 MiB | 477 MiB | ~24 MiB |
| local | 4 | 4, 16 refused | 128 MiB | 15 MiB | ~1 MiB (written straight to disk) |
| local | 20 | 20 | 134 MiB | 20 MiB | ~1 MiB |

So the default 4 slots peak near 210 MiB, well inside a 512 MB container; each
extra slot costs ~25 MiB on S3. The next upload is refused at once with 503 and
``Retry-After`` before a byte of its body is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ivrimeet.errors import ServerBusyError

__all__ = ["PER_UPLOAD_MIB", "UploadSlots"]

PER_UPLOAD_MIB = 25
"""Resident memory one upload in flight may add, S3 store defaults (measured ~24 MiB)."""

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
