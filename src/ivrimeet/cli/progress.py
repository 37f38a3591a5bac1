"""Progress bars for transfers, with log lines printed above them.

The model store only sees ``TransferEvents`` callbacks; this module draws them
as Rich bars on stderr, and while the bars are shown, log records go through a
Rich handler on the same console, so a log line never lands inside a bar.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

__all__ = ["RichTransferEvents", "transfer_bars"]

# The description column takes what the fixed columns leave of an 80-column terminal.
_BAR_WIDTH = 20


class RichTransferEvents:
    """``TransferEvents`` drawn as one Rich progress bar per phase (thread-safe)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._lock = threading.Lock()

    def started(self, phase: str, label: str, files: int, total_bytes: int | None) -> None:
        # A Hugging Face download has no total up front: Rich draws a pulsing bar
        # and the bytes so far until the phase ends.
        description = f"{phase} {label}" + (f" ({files} files)" if files else "")
        with self._lock:
            self._task = self._progress.add_task(description, total=total_bytes)

    def advanced(self, byte_count: int) -> None:
        with self._lock:
            if self._task is not None:
                self._progress.advance(self._task, byte_count)

    def finished(self) -> None:
        with self._lock:
            if self._task is not None:
                task = next(t for t in self._progress.tasks if t.id == self._task)
                if task.total is None:
                    self._progress.update(self._task, total=task.completed)
                self._progress.stop_task(self._task)
            self._task = None


@contextmanager
def transfer_bars(
    level: str, secrets: list[str], *, console: Console | None = None
) -> Iterator[Progress]:
    """Bars on stderr (or ``console``) sized for the terminal; logs go above them meanwhile."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.table import Column

    from ivrimeet.logs import configure_logging

    bars = Progress(
        TextColumn(
            "{task.description}",
            table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
        ),
        BarColumn(bar_width=_BAR_WIDTH),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        expand=True,
    )
    configure_logging(level, secrets=secrets, console=bars.console)
    try:
        with bars:
            yield bars
    finally:
        configure_logging(level, secrets=secrets)
