"""A small real filesystem for "disk full" cases, and a file-size limit for child processes.

``small_filesystem(size_bytes)`` mounts a tmpfs of that size on a fresh
directory (needs root or CAP_SYS_ADMIN, as in this project's CI container) and
unmounts it afterwards; writes past its size fail with ``ENOSPC``, exactly as
on a full container disk. ``SmallFilesystem.leave_free(n)`` writes a ballast
file so that only about ``n`` bytes stay free.

Where mounting is not permitted, ``small_filesystem`` skips the test, and
``file_size_limit(n)`` is the fallback for a child process: pass it as
``preexec_fn`` and every write beyond ``n`` bytes in one file fails with
``EFBIG`` (SIGXFSZ is ignored, so the process sees the error instead of dying).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults import ledger

__all__ = ["SmallFilesystem", "file_size_limit", "small_filesystem"]

_BLOCK = 4096


@dataclass
class SmallFilesystem:
    """A mounted tmpfs of ``size`` bytes at ``path``."""

    path: Path
    size: int

    @property
    def free(self) -> int:
        return shutil.disk_usage(self.path).free

    def leave_free(self, free_bytes: int) -> None:
        """Fill the filesystem with a ballast file until about ``free_bytes`` remain."""
        ballast = self.path / ".ballast"
        grow = self.free - free_bytes
        if grow <= 0:
            return
        with open(ballast, "ab") as out:
            chunk = b"\0" * (1024 * 1024)
            while grow > 0:
                out.write(chunk[: min(len(chunk), grow)])
                grow -= len(chunk)
        ledger.fault("disk full")

    def entries(self) -> list[str]:
        """Everything on the filesystem except the ballast, as relative paths."""
        return sorted(
            str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.name != ".ballast"
        )


@contextlib.contextmanager
def small_filesystem(size_bytes: int) -> Iterator[SmallFilesystem]:
    """A tmpfs of ``size_bytes`` (rounded up to whole pages), unmounted afterwards."""
    mount_point = Path(tempfile.mkdtemp(prefix="ivrimeet-small-fs-"))
    size = -(-size_bytes // _BLOCK) * _BLOCK
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0777", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mount_point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs root")
    try:
        yield SmallFilesystem(mount_point, size)
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)
        with contextlib.suppress(OSError):
            mount_point.rmdir()


def file_size_limit(max_bytes: int) -> Callable[[], None]:
    """A ``preexec_fn`` capping every file the child writes at ``max_bytes`` (EFBIG beyond)."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return apply


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (used by the tool's own test)."""
    return os.path.ismount(path)
