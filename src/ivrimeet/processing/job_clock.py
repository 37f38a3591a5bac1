"""How long a job's steps took, and how much of that was storage I/O.

Each step is logged as ``job.step meeting=... step=... seconds=...``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["JobClock", "JobTimings"]

# The job's own logger name: ``job.step`` lines read as the job's, wherever they are filtered.
logger = logging.getLogger("ivrimeet.processing.job")

_T = TypeVar("_T")


@dataclass(frozen=True)
class JobTimings:
    """Where the job's time went: seconds per step, in storage I/O, in all."""

    steps: tuple[tuple[str, float], ...]
    storage_seconds: float
    total_seconds: float

    @property
    def storage_share(self) -> float:
        """Processing overhead: storage I/O seconds ÷ total job seconds."""
        return self.storage_seconds / self.total_seconds if self.total_seconds > 0 else 0.0


@dataclass
class JobClock:
    """Step and storage stopwatches for one job."""

    meeting_id: str
    started: float = field(default_factory=time.monotonic)
    steps: list[tuple[str, float]] = field(default_factory=list)
    storage_seconds: float = 0.0

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        seconds = time.monotonic() - started
        self.steps.append((name, seconds))
        logger.info("job.step meeting=%s step=%s seconds=%.3f", self.meeting_id, name, seconds)

    def storage(self, call: Callable[[], _T]) -> _T:
        started = time.monotonic()
        try:
            return call()
        finally:
            self.storage_seconds += time.monotonic() - started

    def finish(self) -> JobTimings:
        return JobTimings(
            steps=tuple(self.steps),
            storage_seconds=self.storage_seconds,
            total_seconds=time.monotonic() - self.started,
        )
