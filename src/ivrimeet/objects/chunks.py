"""Turning the bodies callers pass to ``put`` into a stream of byte chunks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

__all__ = ["Body", "OverLimit", "iter_chunks", "iter_parts", "read_exactly"]

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


def read_exactly(chunks: Iterator[bytes], size: int, carry: bytearray) -> bytes:
    """Take up to ``size`` bytes from ``carry`` + ``chunks``; leftovers stay in ``carry``.

    Returns fewer than ``size`` bytes only when ``chunks`` is exhausted.
    """
    while len(carry) < size:
        try:
            carry += next(chunks)
        except StopIteration:
            break
    out = bytes(carry[:size])
    del carry[:size]
    return out


def iter_parts(body: Body, part_size: int, *, max_bytes: int | None = None) -> Iterator[bytearray]:
    """Yield ``body`` as full parts of ``part_size`` bytes (the last may be shorter).

    Each part is a fresh ``bytearray`` filled in place (``readinto`` for streams
    that have it), so the caller may hand it to another thread. Raises
    ``OverLimit`` as soon as more than ``max_bytes`` bytes have been read.
    Memory: one part plus the body's own chunk.
    """
    readinto = getattr(body, "readinto", None)
    if callable(readinto) and not isinstance(body, bytes | bytearray | memoryview):
        yield from _parts_by_readinto(readinto, part_size, max_bytes)
        return
    total = 0
    part = bytearray()
    for chunk in iter_chunks(body, part_size):
        total += len(chunk)
        if max_bytes is not None and total > max_bytes:
            raise OverLimit(max_bytes)
        room = part_size - len(part)
        if len(chunk) < room:
            part += chunk
            continue
        part += chunk[:room]
        yield part
        part = bytearray(chunk[room:])
    if part:
        yield part


def _parts_by_readinto(
    readinto: Callable[[memoryview], int | None], part_size: int, max_bytes: int | None
) -> Iterator[bytearray]:
    total = 0
    while True:
        part = bytearray(part_size)
        view = memoryview(part)
        filled = 0
        while filled < part_size:
            got = readinto(view[filled:])
            if not got:
                break
            filled += got
            if max_bytes is not None and total + filled > max_bytes:
                view.release()
                raise OverLimit(max_bytes)
        view.release()
        total += filled
        if filled == 0:
            return
        if filled < part_size:
            del part[filled:]
            yield part
            return
        yield part


class OverLimit(Exception):  # a signal for the store, which raises SizeLimitError
    """``iter_parts`` read more than ``max_bytes``; the store turns this into SizeLimitError."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"more than {max_bytes} bytes")
        self.max_bytes = max_bytes
