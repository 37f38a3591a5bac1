"""The object-store interface every backend implements, and the values it passes.

Two backends have the same semantics and pass the same contract tests:
``S3Store`` (boto3 + a fast ranged downloader) and ``LocalStore`` (a folder).

Semantics every backend guarantees:

- ``put`` is atomic: a reader sees the whole new object or the old one, never
  part of one. A failed or rejected ``put`` (size limit, broken stream) leaves no
  object and no open multipart upload behind (as far as the server allows).
- ``put_if_absent`` is create-only: the first writer wins, the others get
  ``AlreadyExistsError``. A server that cannot do this raises
  ``CreateOnlyUnsupportedError`` rather than silently overwriting.
- ``head``/``get``/``download_to_file`` raise ``ObjectNotFoundError`` for a
  missing key.
- Keys are validated (``validate_key``) before any I/O.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from ivrimeet.errors import InvalidKeyError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = [
    "MAX_KEY_BYTES",
    "Digest",
    "ObjectInfo",
    "ObjectStore",
    "ProgressCallback",
    "replacing",
    "validate_key",
    "validate_prefix",
]

MAX_KEY_BYTES = 1024
"""S3's own limit on key length, applied to every backend."""

ProgressCallback = Callable[[int], None]
"""Called with the number of bytes just transferred (may be negative on a retry rewind)."""


class Digest(Protocol):
    """A running hash ``download_to_file`` feeds the body to, in order (``hashlib.sha256()``,
    ``blake3.blake3()``: its ``update`` returns the hasher, hence ``object``)."""

    def update(self, data: ReadableBuffer, /) -> object: ...


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object."""

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None


def validate_key(key: str) -> str:
    """Return ``key`` unchanged if it is a safe relative object key, else raise.

    Refused: empty keys, absolute paths, ``.``/``..`` segments, empty segments,
    backslashes, control characters and keys over 1024 UTF-8 bytes.
    """
    if not isinstance(key, str) or not key:
        raise InvalidKeyError("Object key is empty.", hints=["pass a non-empty key"])
    problem = _key_problem(key)
    if problem:
        raise InvalidKeyError(
            f"Refusing object key {key[:200]!r}: {problem}.",
            hints=["object keys are relative paths like 'audio/<meeting>/original.wav'"],
        )
    return key


def validate_prefix(prefix: str) -> str:
    """Like ``validate_key`` for a listing prefix; the empty prefix is allowed."""
    if prefix:
        validate_key(prefix.rstrip("/") or prefix)
    return prefix


def _key_problem(key: str) -> str | None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if _CONTROL.search(key):
        return "contains a control character"
    if "\\" in key:
        return "contains a backslash"
    if key.startswith("/"):
        return "is an absolute path"
    segments = key.split("/")
    if any(s in (".", "..") for s in segments):
        return "contains a '.' or '..' path segment"
    if any(s == "" for s in segments[:-1]):
        return "contains an empty path segment ('//')"
    return None


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that becomes ``path`` when the block succeeds.

    Downloads write there, so ``path`` is either absent, the old file, or the
    whole new one (``os.replace``); whatever the block raises, the temporary
    file is removed.
    """
    tmp = path.with_name(f".{path.name}.{os.urandom(16).hex()}.incomplete")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@runtime_checkable
class ObjectStore(Protocol):
    """A bucket-like namespace of immutable byte objects."""

    @property
    def location(self) -> str:
        """Where objects live, for messages and logs: ``s3://bucket`` or a folder path."""
        ...

    def url_for(self, key: str) -> str:
        """Human-readable address of a key (``s3://bucket/key``), never signed."""
        ...

    def put(
        self,
        key: str,
        body: BinaryIO | Iterable[bytes] | bytes,
        *,
        max_bytes: int | None = None,
        content_type: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        """Store ``body`` (bytes, a readable stream or an iterable of chunks) at ``key``.

        Streams of unknown length go up as multipart in constant memory. Over
        ``max_bytes`` raises ``SizeLimitError`` and leaves nothing behind.
        """
        ...

    def put_if_absent(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo:
        """Create ``key`` only if it does not exist (``AlreadyExistsError`` otherwise)."""
        ...

    def supports_create_only(self) -> bool:
        """Whether ``put_if_absent`` is honoured by the server (probed once, cached)."""
        ...

    def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        """Open the object (or bytes ``start``..``end`` inclusive) as a readable stream."""
        ...

    def get_bytes(self, key: str) -> bytes:
        """The whole object in memory: for small objects (manifests, refs, JSON)."""
        ...

    def download_to_file(
        self,
        key: str,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        digest: Digest | None = None,
    ) -> ObjectInfo:
        """Write the object to ``path`` (parallel ranged reads where possible).

        ``digest`` (e.g. ``hashlib.sha256()``) is fed the whole body in order while
        it is written, so a caller verifying it needs no second pass over the file.
        """
        ...

    def head(self, key: str) -> ObjectInfo:
        """Size and metadata of one object."""
        ...

    def exists(self, key: str) -> bool:
        """True if an object is stored at ``key``."""
        ...

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; removing a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many were removed."""
        ...

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        """A short-lived presigned URL to read ``key``.

        Raises ``UnsupportedError`` from the folder store, which hands out no URLs.
        """
        ...
