"""Turning the bodies callers pass to ``put`` into a stream of byte chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import BinaryIO

__all__ = ["Body", "iter_chunks", "read_exactly"]

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
