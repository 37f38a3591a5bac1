"""Tune glibc's allocator for a server that streams request bodies (``ivrimeet serve``).

An upload arrives as a stream of 64-256 KiB ``bytes`` chunks (asyncio reads,
the HTTP parser's slices), each freed a moment after it was copied on. With
glibc's defaults the top of the heap is returned to the kernel as soon as
512 KiB there are free, and taken back for the next chunks: every page is
faulted in and zeroed again, about a tenth of the server's CPU during an
upload. Keeping up to ``TRIM_THRESHOLD`` of freed heap instead, and serving
blocks below ``MMAP_THRESHOLD`` from the heap, took the CPU per GiB uploaded
through the API from 3.04-3.08 to 2.15-2.53 s (``bench/run.py --only upload``,
uploader and server, two rounds of 3 runs each; peak RSS unchanged at 137 MiB;
README, Upload performance).

Not for processes that run inference: there the 1 MiB mmap threshold sends
every large tensor to its own mapping, faulted in and zeroed on each use.
10 chunks of WeSpeaker ResNet34 embeddings (``bench/cases/processing_allocator.py``,
two rounds, same run): 13.4-15.3 CPU s tuned against 12.5-12.9 s with glibc's
defaults, 2.19 M minor page faults against 1.74 M (a review measured a conv1d
loop at 10.0-10.3 against 6.5-6.7 CPU s). So ``ivrimeet serve`` tunes only with
``--no-worker``; its embedded worker and ``ivrimeet worker`` keep the defaults.

Only glibc has ``mallopt`` (elsewhere nothing is changed), and an operator's own
``MALLOC_*_`` or ``GLIBC_TUNABLES`` settings win: then nothing is changed either.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Mapping

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "tune_for_streaming"]

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
TRIM_THRESHOLD = 32 * MiB
"""Freed heap kept for reuse before it is given back (glibc default: 128 KiB, rising)."""
MMAP_THRESHOLD = 1 * MiB
"""Blocks at least this large get their own mapping, returned to the kernel when freed."""

_M_TRIM_THRESHOLD = -1  # from <malloc.h>
_M_MMAP_THRESHOLD = -3
_OPERATOR_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")


def tune_for_streaming(environ: Mapping[str, str] | None = None) -> bool:
    """Set the two thresholds above; True if they were set.

    ``environ``: where to look for the operator's own allocator settings (default:
    this process's environment; glibc's variables, not ivrimeet's configuration).
    """
    if environ is None:
        environ = os.environ  # noqa: TID251  # glibc reads these, so must we
    overridden = [name for name in _OPERATOR_SETTINGS if name in environ]
    if overridden:
        logger.debug("allocator.untouched set_by=%s", ",".join(overridden))
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False  # not glibc (or no C library to ask): nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # musl has a mallopt that does nothing and returns 0; glibc returns 1 on success.
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
