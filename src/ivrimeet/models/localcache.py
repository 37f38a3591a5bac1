"""An optional local copy of model blobs, kept within ``MODEL_CACHE_MAX_BYTES``.

By default (budget 0) nothing of a model stays on disk after it is loaded.
With a budget, verified blobs are hard-linked into::

    <tmp_dir>/ivrimeet-blobcache/<sha256>

and the next restore links them into its temporary cache instead of downloading
them (each is re-hashed first, with the BLAKE3 the manifest records, else
SHA-256: a blob damaged on disk is dropped and fetched again). The least
recently used blobs are deleted whenever the cache grows past the budget.
Hard links make this safe across processes: a restore that linked a blob
keeps its copy even if another process evicts it meanwhile.
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import suppress
from pathlib import Path

from ivrimeet.models.closure import hash_file, hash_file_blake3
from ivrimeet.models.manifest import validate_sha256

__all__ = ["BLOB_CACHE_NAME", "LocalBlobCache"]

logger = logging.getLogger(__name__)

BLOB_CACHE_NAME = "ivrimeet-blobcache"


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem: copy instead
        shutil.copyfile(source, target)


class LocalBlobCache:
    """Blobs by sha256 under ``root``, at most ``max_bytes`` in total."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def _path(self, sha256: str) -> Path:
        return self.root / validate_sha256(sha256)

    def take(self, sha256: str, size: int, target: Path, blake3_hex: str | None = None) -> bool:
        """Link the cached blob to ``target`` if present and intact; True if it was.

        Intact: ``size`` bytes hashing to ``blake3_hex`` when given (a quarter of
        SHA-256's CPU here), else to ``sha256``.
        """
        cached = self._path(sha256)
        try:
            if cached.stat().st_size != size:
                raise ValueError("size differs")
            _link_or_copy(cached, target)
        except (OSError, ValueError):
            return False
        expected = (size, blake3_hex or sha256)
        if (hash_file_blake3(target) if blake3_hex else hash_file(target)) != expected:
            logger.warning("model.localcache_corrupt path=%s dropping=true", cached)
            target.unlink(missing_ok=True)
            cached.unlink(missing_ok=True)
            return False
        with suppress(OSError):
            os.utime(cached)  # most recently used
        return True

    def keep(self, sha256: str, source: Path) -> None:
        """Remember a verified blob (if it fits the budget), then evict down to the budget."""
        size = source.stat().st_size
        if size > self.max_bytes:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        cached = self._path(sha256)
        if not cached.exists():
            partial = cached.with_name(f".{cached.name}.{os.getpid()}.incomplete")
            try:
                _link_or_copy(source, partial)
                os.replace(partial, cached)
            finally:
                partial.unlink(missing_ok=True)
        with suppress(OSError):
            os.utime(cached)
        self.evict()

    def evict(self) -> list[Path]:
        """Delete least recently used blobs until the total fits ``max_bytes``."""
        entries: list[tuple[float, int, Path]] = []
        with suppress(FileNotFoundError):
            for path in self.root.iterdir():
                if path.name.startswith("."):
                    continue
                with suppress(FileNotFoundError):
                    st = path.stat()
                    entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed: list[Path] = []
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path)
            logger.info("model.localcache_evicted path=%s bytes=%d", path, size)
        return removed
