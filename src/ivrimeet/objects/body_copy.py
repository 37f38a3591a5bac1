"""Moving one answer's body into a ``PartFile``: through a reused buffer, or spliced.

Over TLS (and whenever splicing is off) the body is read with
``HTTPResponse.readinto`` into one page-aligned 1 MiB buffer per thread and
written at its offset: http.client fills the caller's buffer, where urllib3
allocates and copies on every read. Over plain HTTP on Linux it is spliced:
socket -> pipe -> file at the offset, the bytes never entering Python
(~0.4 CPU-s/GiB less here). Either way the bytes are accounted for in steps
of at most 1 MiB, which the in-order hasher follows (``part_file``).

A body that ends early or breaks raises the ``Retryable`` that ``broken``
makes, after the part's bytes are forgotten, so the retry policy can fetch
the part again.
"""

from __future__ import annotations

import errno
import http.client
import mmap
import os
import select
import socket
import threading
from collections.abc import Callable

from ivrimeet.objects.part_file import PartFile
from ivrimeet.objects.retry import Cancelled, Retryable
from ivrimeet.objects.s3_http import TRANSIENT

__all__ = ["CAN_SPLICE", "BodyCopier"]

_BUFFER = 1024 * 1024
_PIPE_BYTES = 256 * 1024
"""Pipe size for spliced bodies: 64 KiB (the default) took 1.0-1.1 s per GiB here,
256 KiB 0.7-0.8 s, 1 MiB no better (a one-off loop: 1 GiB, 8 connections, rclone on
loopback)."""
CAN_SPLICE = hasattr(os, "splice")


class BodyCopier:
    """Copies answer bodies into ``file``; ``zero_copy``: splice plain-HTTP bodies (Linux)."""

    def __init__(
        self,
        file: PartFile,
        broken: Callable[[BaseException], Retryable],
        *,
        zero_copy: bool,
    ) -> None:
        self.file = file
        self.broken = broken
        # Turned off for good if the file system refuses splice.
        self.zero_copy = zero_copy and CAN_SPLICE
        self._local = threading.local()

    def receive(
        self,
        conn: http.client.HTTPConnection,
        response: http.client.HTTPResponse,
        offset: int,
        length: int,
    ) -> None:
        """Read exactly ``length`` body bytes into the file at ``offset``.

        Through a page-aligned buffer (``_copy_some``), or, when the connection
        is plain HTTP, with ``splice`` from the socket into the file
        (``_splice_some``). Either way the bytes are accounted for in steps of
        at most 1 MiB, which the hasher follows.
        """
        pipe = self._splice_pipe(conn, response)
        view = memoryview(self._buffer()) if pipe is None else None
        left = length
        position = offset
        try:
            if pipe is not None:
                # Body bytes http.client read together with the headers come first.
                try:
                    early = response.fp.read(min(len(response.fp.peek()), left)) if left else b""
                except TRANSIENT as exc:
                    raise self.broken(exc) from exc
                self.file.write(memoryview(early), position)
                position, left = self.file.account(offset, position, left, len(early))
            while left > 0:
                if self.file.stop.is_set():
                    raise Cancelled()
                want = min(_BUFFER, left)
                if pipe is not None:
                    moved = self._splice_some(pipe, position, want)
                else:
                    assert view is not None
                    moved = self._copy_some(response, view, position, want)
                position, left = self.file.account(offset, position, left, moved)
            if pipe is not None:
                # Nothing is left for http.client to read: close the answer so that the
                # connection takes the next request.
                response.length = 0
                response.read()
        except Retryable:
            self.file.rollback(offset, length, left)
            raise
        finally:
            if view is not None:
                view.release()
            if pipe is not None:
                pipe.close()

    def receive_to_end(self, response: http.client.HTTPResponse) -> int:
        """Read a body of unknown length (chunked) into the file from byte 0; its length.

        Not retried part by part: a chunked answer that breaks raises (http.client
        reports a cut chunk stream), and the whole first request is tried again.
        """
        view = memoryview(self._buffer())
        position = 0
        try:
            while True:
                if self.file.stop.is_set():
                    raise Cancelled()
                try:
                    got = response.readinto(view)
                except TRANSIENT as exc:
                    raise self.broken(exc) from exc
                if not got:
                    return position
                self.file.write(view[:got], position)
                position, _ = self.file.account(0, position, 0, got)
        except Retryable:
            self.file.rollback(0, position, 0)
            raise
        finally:
            view.release()

    def _copy_some(
        self, response: http.client.HTTPResponse, view: memoryview, position: int, want: int
    ) -> int:
        """Fill the buffer with the next ``want`` bytes, then write it at ``position``.

        The buffer is page-aligned (an anonymous ``mmap``) and filled completely
        before each ``pwrite``: copying socket-sized, misaligned pieces into the
        page cache cost 2-3x more kernel CPU here (perf: copy_folio_from_iter_atomic).
        """
        filled = 0
        while filled < want:
            try:
                got = response.readinto(view[filled:want])
            except TRANSIENT as exc:
                raise self.broken(exc) from exc
            if not got:
                raise self.broken(http.client.IncompleteRead(b"", want - filled))  # cut
            filled += got
        self.file.write(view[:filled], position)
        return filled

    def _splice_pipe(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> SplicePipe | None:
        """A pipe from ``response``'s socket if its body can be spliced, else None."""
        if not self.zero_copy or response.chunked or response.length is None:
            return None
        # Exactly socket.socket: an ssl.SSLSocket's bytes must be decrypted in Python.
        return SplicePipe(conn.sock) if type(conn.sock) is socket.socket else None

    def _splice_some(self, pipe: SplicePipe, position: int, want: int) -> int:
        """Move up to ``want`` bytes from the socket into the file at ``position``."""
        try:
            moved = pipe.fill(want)
        except TRANSIENT as exc:
            raise self.broken(exc) from exc
        if not moved:
            raise self.broken(http.client.IncompleteRead(b"", want))  # cut
        try:
            with self.file.write_lock:
                pipe.drain_to(self.file.fd, position, moved)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise self.file.disk_full() from exc
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                raise
            # This file system takes no splice: write what the pipe holds, copy from now on.
            self.zero_copy = False
            self.file.write(memoryview(pipe.read(moved)), position)
        return moved

    def _buffer(self) -> mmap.mmap:
        """This thread's read buffer, made once and reused for every part it fetches."""
        buffer: mmap.mmap | None = getattr(self._local, "buffer", None)
        if buffer is None:
            buffer = mmap.mmap(-1, _BUFFER)
            self._local.buffer = buffer
        return buffer


class SplicePipe:
    """A kernel pipe that carries one part's body from ``sock`` to the file (``splice``)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.read_fd, self.write_fd = os.pipe()
        try:
            import fcntl

            fcntl.fcntl(self.write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        except (ImportError, AttributeError, OSError):  # older kernels: the default 64 KiB
            pass
        self._poller = select.poll()
        self._poller.register(sock, select.POLLIN)

    def fill(self, want: int) -> int:
        """Splice up to ``want`` bytes from the socket into the pipe; 0 at the end of the stream.

        The socket is non-blocking (it has a timeout): wait for data up to that timeout.
        """
        timeout = self.sock.gettimeout()
        while True:
            try:
                return os.splice(self.sock.fileno(), self.write_fd, want, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                if not self._poller.poll(None if timeout is None else timeout * 1000):
                    raise TimeoutError(f"no data for {timeout} s") from None

    def drain_to(self, fd: int, position: int, count: int) -> None:
        """Splice ``count`` bytes the pipe holds into ``fd`` at ``position``."""
        while count:
            done = os.splice(self.read_fd, fd, count, offset_dst=position)
            position += done
            count -= done

    def read(self, count: int) -> bytes:
        """The ``count`` bytes the pipe holds (for a file system that refuses ``splice``)."""
        chunks = []
        while count:
            chunks.append(os.read(self.read_fd, count))
            count -= len(chunks[-1])
        return b"".join(chunks)

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)
