"""Bytes arriving in a Hugging Face cache, reported as they land, whoever downloads them.

pyannote and SpeechBrain call ``hf_hub_download`` themselves, so a progress
hook passed to our own calls would miss most of a fill. Every download,
whichever library starts it, writes into the temporary cache (``.incomplete``
files grow as chunks arrive), so ``watch_growth`` polls the cache's size on a
thread and reports each increase; the last one is reported when the block ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ivrimeet.models.report import disk_bytes

__all__ = ["watch_growth"]

# Often enough for a bar to move smoothly; a walk of a cache of a few dozen files is cheap.
POLL_SECONDS = 0.1


@contextmanager
def watch_growth(
    directory: Path, on_bytes: Callable[[int], None], *, interval: float = POLL_SECONDS
) -> Iterator[None]:
    """Call ``on_bytes(n)`` with each increase of ``directory``'s size while the block runs."""
    start = disk_bytes(directory)
    reported = start
    stop = threading.Event()

    def report() -> None:
        nonlocal reported
        size = disk_bytes(directory)
        if size > reported:
            on_bytes(size - reported)
            reported = size

    def poll() -> None:
        while not stop.wait(interval):
            report()

    watcher = threading.Thread(target=poll, name="ivrimeet-cache-growth", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
        report()
