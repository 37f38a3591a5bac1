"""Turning the bodies callers pass to ``put`` into a stream of byte chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

__all__ = ["Body", "OverLimit", "PartReader", "iter_chunks"]

Body = BinaryIO | Iterable[bytes] | bytes


def iter_chunks(body: Body, chunk_size: int) -> Iterator[bytes]:
    """Yield ``body`` as non-empty chunks of at most ``chunk_size`` bytes.

    Accepts ``bytes``, a readable binary stream or an iterable of byte chunks
    (chunks larger than ``chunk_size`` are split, so memory stays bounded by the
    caller's chunks and ``chunk_size``).
    """
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])
        return
    read = getattr(body, "read", None)
    if callable(read):
        while True:
            chunk = read(chunk_size)
            if not chunk:
                return
            yield chunk
    for piece in body:
        if not piece:
            continue
        if len(piece) <= chunk_size:
            yield piece
            continue
        view = memoryview(piece)
        for offset in range(0, len(view), chunk_size):
            yield bytes(view[offset : offset + chunk_size])


class PartReader:
    """Fills buffers from a ``put`` body: bytes, a readable stream, or an iterable of chunks.

    Each call to ``fill`` fills the buffer completely unless the body ends.
    Chunks are copied once, straight into the buffer (a chunk larger than the
    room left is split across buffers without copying it first). Raises
    ``OverLimit`` as soon as more than ``max_bytes`` bytes were read.
    """

    def __init__(self, body: Body, max_bytes: int | None) -> None:
        self.total = 0
        self._max_bytes = max_bytes
        self._pending = memoryview(b"")
        self._readinto: Callable[[memoryview], int | None] | None = None
        self._chunks: Iterator[bytes] | None = None
        if isinstance(body, bytes | bytearray | memoryview):
            self._pending = memoryview(body).cast("B")
            self._chunks = iter(())
        elif callable(getattr(body, "readinto", None)):
            self._readinto = body.readinto  # type: ignore[attr-defined]  # checked just above
        elif callable(getattr(body, "read", None)):
            read = body.read  # type: ignore[attr-defined]  # checked just above
            self._chunks = iter(lambda: read(1024 * 1024), b"")
        else:
            self._chunks = iter(body)

    def fill(self, buffer: memoryview) -> int:
        filled = 0
        size = len(buffer)
        while filled < size:
            if self._readinto is not None:
                got = self._readinto(buffer[filled:]) or 0
                if not got:
                    break
            else:
                if not self._pending:
                    assert self._chunks is not None
                    chunk = next(self._chunks, None)
                    if chunk is None:
                        break
                    self._pending = memoryview(chunk).cast("B")
                    continue
                got = min(len(self._pending), size - filled)
                buffer[filled : filled + got] = self._pending[:got]
                self._pending = self._pending[got:]
            filled += got
            if self._max_bytes is not None and self.total + filled > self._max_bytes:
                raise OverLimit(self._max_bytes)
        self.total += filled
        return filled


class OverLimit(Exception):  # a signal for the store, which raises SizeLimitError
    """A body was longer than ``max_bytes``; the store turns this into SizeLimitError."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes
