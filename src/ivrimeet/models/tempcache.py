"""Temporary Hugging Face cache directories: created per load, removed after, swept at start.

A model is restored or downloaded into a fresh directory under ``tmp_dir``::

    <tmp_dir>/ivrimeet-hfcache-<pid>-<start ticks>-<random>/
        models--org--name/{blobs,snapshots,refs}/…     what the loader reads
        speechbrain/…                                  SpeechBrain's savedir (links)

The name says which process owns it, so ``sweep_stale`` (called when ``serve``,
the worker and every ``models`` command start) removes directories whose owner
is no longer running (a crash or ``kill -9`` left them) and never touches a
directory another live process is using.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ivrimeet.models.processes import ProcessIdentity, current_process, is_running

__all__ = ["TEMP_CACHE_PREFIX", "sweep_stale", "temp_cache"]

logger = logging.getLogger(__name__)

TEMP_CACHE_PREFIX = "ivrimeet-hfcache-"
_NAME = re.compile(re.escape(TEMP_CACHE_PREFIX) + r"(\d+)-(\d+)-[0-9a-f]+")


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def temp_cache(tmp_dir: Path) -> Iterator[Path]:
    """A fresh, empty cache directory under ``tmp_dir``, removed when the block exits."""
    me = current_process()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"{TEMP_CACHE_PREFIX}{me.pid}-{me.started}-{secrets.token_hex(4)}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        _remove(path)


def _owner(name: str) -> ProcessIdentity | None:
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    return ProcessIdentity(
        host=current_process().host, pid=int(match.group(1)), started=int(match.group(2))
    )


def sweep_stale(tmp_dir: Path) -> list[Path]:
    """Remove temporary caches under ``tmp_dir`` whose owning process is gone; return them."""
    removed: list[Path] = []
    if not tmp_dir.is_dir():
        return removed
    for path in tmp_dir.glob(TEMP_CACHE_PREFIX + "*"):
        owner = _owner(path.name)
        if owner is None or not path.is_dir() or path.is_symlink():
            continue
        if is_running(owner):
            continue
        _remove(path)
        removed.append(path)
        logger.info("model.tempcache_swept path=%s pid=%d", path, owner.pid)
    return removed
