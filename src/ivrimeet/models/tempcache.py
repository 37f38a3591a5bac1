"""Temporary Hugging Face cache directories: created per load, removed after, swept at start.

A model is restored or downloaded into a fresh directory under ``tmp_dir``::

    <tmp_dir>/ivrimeet-hfcache-<boot id>-<pid namespace>-<pid>-<start ticks>-<random>/
        models--org--name/{blobs,snapshots,refs}/…     what the loader reads
        speechbrain/…                                  SpeechBrain's savedir (links)

The name says which process owns it, so ``sweep_stale`` (called when ``serve``,
the worker and every ``models`` command start) removes directories whose owner
is provably gone (a crash or ``kill -9`` left them) and never touches a
directory another live process is using. An owner that cannot be checked from
here (another container sharing the volume and hostname, or a name from an
older ivrimeet) is presumed alive until its directory is ``max_age_seconds``
old (default 24 h): a load holds its cache for seconds to minutes.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ivrimeet.models.processes import ProcessIdentity, current_process, provably_gone

__all__ = ["TEMP_CACHE_PREFIX", "sweep_stale", "temp_cache"]

logger = logging.getLogger(__name__)

TEMP_CACHE_PREFIX = "ivrimeet-hfcache-"
_NAME = re.compile(
    re.escape(TEMP_CACHE_PREFIX)
    + r"(?P<boot>[0-9a-f]*)-(?P<ns>\d+)-(?P<pid>\d+)-(?P<ticks>\d+)-[0-9a-f]+"
)
DEFAULT_MAX_AGE_SECONDS = 24 * 3600.0


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def temp_cache(tmp_dir: Path) -> Iterator[Path]:
    """A fresh, empty cache directory under ``tmp_dir``, removed when the block exits."""
    me = current_process()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    name = f"{me.boot}-{me.pid_ns}-{me.pid}-{me.started}-{secrets.token_hex(4)}"
    path = tmp_dir / f"{TEMP_CACHE_PREFIX}{name}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        _remove(path)


def _owner(name: str) -> ProcessIdentity | None:
    match = _NAME.fullmatch(name)
    if match is None:
        return None
    # The hostname is not in the name: a shared volume's other containers share it anyway,
    # and boot id + namespace are what make the pid checkable (processes.py).
    return ProcessIdentity(
        host=current_process().host,
        pid=int(match["pid"]),
        started=int(match["ticks"]),
        boot=match["boot"],
        pid_ns=int(match["ns"]),
    )


def sweep_stale(
    tmp_dir: Path,
    *,
    max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    now: float | None = None,
) -> list[Path]:
    """Remove temporary caches under ``tmp_dir`` whose owner is gone; return them.

    Gone: provably (same boot and PID namespace, process not running), or, when
    the owner cannot be checked from here, older than ``max_age_seconds``.
    """
    removed: list[Path] = []
    if not tmp_dir.is_dir():
        return removed
    now = time.time() if now is None else now
    for path in tmp_dir.glob(TEMP_CACHE_PREFIX + "*"):
        if not path.is_dir() or path.is_symlink():
            continue
        owner = _owner(path.name)
        if owner is not None and owner.checkable_from(current_process()):
            if not provably_gone(owner):
                continue
            reason = "owner_gone"
        elif now - path.stat().st_mtime >= max_age_seconds:
            reason = "owner_unknown_and_old"
        else:
            continue
        _remove(path)
        removed.append(path)
        logger.info("model.tempcache_swept path=%s reason=%s", path, reason)
    return removed
