"""``LocalStore``: the object store as a folder, with the same semantics as S3.

Layout::

    <root>/                     objects, one file per key (key "a/b" -> <root>/a/b)
    <root>.incomplete/          temporary files being written (same filesystem)

Every write goes to a uniquely named file in ``<root>.incomplete/``, is fsynced,
then renamed into place (``os.replace``: atomic, last writer wins) or hard-linked
into place (``os.link``: atomic and fails if the key exists, which is how
``put_if_absent`` is create-only). A crash leaves at most a temporary file, never
half an object; ``sweep_incomplete`` removes those at start-up.

The folder store hands out no URLs: ``presign_get`` raises ``UnsupportedError``,
and readers open the file at ``url_for(key)`` instead.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ivrimeet.errors import (
    AlreadyExistsError,
    ConflictError,
    DiskFullError,
    ObjectNotFoundError,
    SizeLimitError,
    UnsupportedError,
)
from ivrimeet.objects.chunks import Body, iter_chunks
from ivrimeet.objects.store import (
    Digest,
    ObjectInfo,
    ProgressCallback,
    replacing,
    validate_key,
    validate_prefix,
)

__all__ = ["LocalStore"]

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024


class _RangeReader:
    """A read-only view of ``length`` bytes of an open file from its current offset."""

    def __init__(self, handle: BinaryIO, length: int) -> None:
        self._handle = handle
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        if size < 0 or size > self._left:
            size = self._left
        data = self._handle.read(size)
        self._left -= len(data)
        return data

    def readable(self) -> bool:
        return True


class LocalStore:
    """Objects as files under ``root``; see the module docstring for guarantees."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._incomplete = self.root.with_name(self.root.name + ".incomplete")
        self.root.mkdir(parents=True, exist_ok=True)
        self._incomplete.mkdir(parents=True, exist_ok=True)

    # --- naming ---------------------------------------------------------------

    @property
    def location(self) -> str:
        return str(self.root)

    def url_for(self, key: str) -> str:
        return str(self._path(key))

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _temp_path(self) -> Path:
        return self._incomplete / f"{os.getpid()}-{os.urandom(16).hex()}"

    def sweep_incomplete(self, older_than_seconds: float = 0.0) -> int:
        """Remove temporary files left by crashed writers; returns how many."""
        removed = 0
        cutoff = time.time() - older_than_seconds
        for path in self._incomplete.iterdir():
            with suppress(FileNotFoundError):
                if path.stat().st_mtime <= cutoff:
                    path.unlink()
                    removed += 1
        return removed

    # --- writing --------------------------------------------------------------

    def _write_temp(
        self,
        key: str,
        body: Body,
        max_bytes: int | None,
        progress: ProgressCallback | None,
    ) -> tuple[Path, int]:
        tmp = self._temp_path()
        written = 0
        try:
            with open(tmp, "xb") as out:
                for chunk in iter_chunks(body, _CHUNK):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise SizeLimitError(
                            f"Upload to {key} is larger than the limit of {max_bytes} bytes.",
                            hints=["send a smaller file or raise MAX_UPLOAD_BYTES"],
                        )
                    out.write(chunk)
                    if progress:
                        progress(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno == 28:  # ENOSPC
                raise DiskFullError(
                    f"Disk full while writing {key} under {self.root}.",
                    hints=["free space on that volume or point IVRIMEET_DATA_DIR elsewhere"],
                ) from exc
            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp, written

    def _prepare_parent(self, key: str, final: Path) -> None:
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise ConflictError(
                f"Cannot store {key}: a parent of it is already an object.",
                hints=["use a key that does not nest under an existing object"],
            ) from exc

    def put(
        self,
        key: str,
        body: Body,
        *,
        max_bytes: int | None = None,
        content_type: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ObjectInfo:
        final = self._path(key)
        started = time.monotonic()
        tmp, size = self._write_temp(key, body, max_bytes, progress)
        try:
            self._prepare_parent(key, final)
            if final.is_dir():
                raise ConflictError(
                    f"Cannot store {key}: other objects are stored under it as a prefix.",
                    hints=["use a key that is not also a prefix of other keys"],
                )
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        logger.info(
            "object.put store=local key=%s bytes=%d seconds=%.3f",
            key,
            size,
            time.monotonic() - started,
        )
        return self.head(key)

    def put_if_absent(
        self, key: str, data: bytes, *, content_type: str | None = None
    ) -> ObjectInfo:
        final = self._path(key)
        tmp, _ = self._write_temp(key, data, None, None)
        try:
            self._prepare_parent(key, final)
            os.link(tmp, final)
        except FileExistsError as exc:
            raise AlreadyExistsError(
                f"{key} already exists in {self.root}; create-only write refused.",
            ) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return self.head(key)

    def supports_create_only(self) -> bool:
        return True

    # --- reading --------------------------------------------------------------

    def _missing(self, key: str) -> ObjectNotFoundError:
        return ObjectNotFoundError(f"No object {key} in {self.root}.")

    def head(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise self._missing(key) from exc
        if not path.is_file():
            raise self._missing(key)
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        )

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get(
        self, key: str, *, start: int | None = None, end: int | None = None
    ) -> AbstractContextManager[BinaryIO]:
        return self._open(key, start, end)

    @contextmanager
    def _open(self, key: str, start: int | None, end: int | None) -> Iterator[BinaryIO]:
        path = self._path(key)
        try:
            handle = open(path, "rb")  # noqa: SIM115  # closed by the `with` below
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise self._missing(key) from exc
        with handle:
            if start is None and end is None:
                yield handle
                return
            size = os.fstat(handle.fileno()).st_size
            first = start or 0
            last = size - 1 if end is None else min(end, size - 1)
            handle.seek(first)
            yield _RangeReader(handle, max(0, last - first + 1))  # type: ignore[misc]  # duck-typed BinaryIO

    def get_bytes(self, key: str) -> bytes:
        with self.get(key) as handle:
            return handle.read()

    def download_to_file(
        self,
        key: str,
        path: Path,
        *,
        progress: ProgressCallback | None = None,
        digest: Digest | None = None,
    ) -> ObjectInfo:
        info = self.head(key)
        try:
            with (
                replacing(path) as tmp,
                open(self._path(key), "rb") as src,
                open(tmp, "xb") as dst,
            ):
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    if digest is not None:
                        digest.update(chunk)
                    if progress:
                        progress(len(chunk))
        except FileNotFoundError as exc:
            raise self._missing(key) from exc
        except OSError as exc:
            if exc.errno == 28:
                raise DiskFullError(
                    f"Disk full while writing {path} from {key}.",
                    hints=["free space on that volume"],
                ) from exc
            raise
        return info

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        validate_prefix(prefix)
        keys: list[str] = []
        for dirpath, _dirnames, filenames in os.walk(self.root):
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            with suppress(ObjectNotFoundError):
                yield self.head(key)

    # --- deleting -------------------------------------------------------------

    def delete(self, key: str) -> None:
        path = self._path(key)
        with suppress(FileNotFoundError, NotADirectoryError):
            if path.is_dir():
                return
            path.unlink()
        self._prune_empty_parents(path.parent)

    def _prune_empty_parents(self, directory: Path) -> None:
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        for info in list(self.list(prefix)):
            self.delete(info.key)
            removed += 1
        return removed

    # --- URLs -----------------------------------------------------------------

    def presign_get(self, key: str, expires_seconds: int = 900) -> str:
        # Nothing serves this folder over HTTP, so a URL would lead nowhere; browsers
        # get media through the API's signed /media links, ffmpeg reads the file.
        raise UnsupportedError(
            f"Cannot make a URL for {validate_key(key)}: the folder store hands out no URLs",
            hints=[f"read the file at {self.url_for(key)} instead"],
        )
