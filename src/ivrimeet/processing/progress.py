"""``JobProgress``: which step a job is in and how far along it is, from pyannote's own hook.

The job calls ``enter(step)`` as each step starts; during ``diarize`` it passes
``diarization_hook()`` to the pyannote pipeline, whose hook reports batches
done out of total for ``segmentation`` and ``embeddings`` and marks the end
of each internal step. Progress is one percentage over the whole job, each
step owning a share of 0-100 in proportion to what it costs (a 2-minute
meeting on 2 cores with the published model sizes, ``bench/cases/processing.py``:
decode 0.2 s, segmentation 7.2, embeddings 71.6, clustering 0.1, snippets 1.2,
voiceprints 8.3, results 0.0)::

    decode 0-1 | segmentation 1-10 | embeddings 10-90 | clustering 90-91
    | snippets 91-92 | voiceprints 92-99 | results 99-100

``report(step, percent)`` is called when the percentage moves by at least one
point and at most every ``min_interval`` seconds (a database write each time
in the worker), plus always on a new step. Seconds spent in pyannote's
internal steps are kept in ``diarization_seconds`` (the bench reads them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["STEPS", "JobProgress", "ProgressReport"]

logger = logging.getLogger(__name__)

ProgressReport = Callable[[str, int], object]
"""Called with (step name, percent of the whole job done, 0-100)."""

#: Step -> (percent when it starts, percent when it ends).
STEPS: dict[str, tuple[float, float]] = {
    "decode": (0.0, 1.0),
    "segmentation": (1.0, 10.0),
    "embeddings": (10.0, 90.0),
    "clustering": (90.0, 91.0),
    "snippets": (91.0, 92.0),
    "voiceprints": (92.0, 99.0),
    "results": (99.0, 100.0),
}

# pyannote's internal step that follows each of ours, ending it.
_ENDED_BY = {"segmentation": "segmentation", "embeddings": "embeddings"}


class JobProgress:
    """Turns job steps and pyannote's hook calls into ``report(step, percent)``."""

    def __init__(
        self,
        report: ProgressReport | None = None,
        *,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._min_interval = min_interval
        self._clock = clock
        self.step = ""
        self.percent = 0
        self._reported_at = float("-inf")
        self._step_started = clock()
        self.diarization_seconds: dict[str, float] = {}

    def enter(self, step: str) -> None:
        """``step`` starts now (a name of ``STEPS``; ``diarize`` means its first part)."""
        if step == "diarize":
            step = "segmentation"
        self._finish_internal()
        self.step = step
        self._step_started = self._clock()
        self._set(STEPS[step][0], force=True)

    def done(self) -> None:
        """The job finished: 100 %."""
        self.step = "done"
        self._set(100.0, force=True)

    def diarization_hook(self) -> Callable[..., None]:
        """A hook for ``pipeline(file, hook=...)`` (pyannote.audio 3.1+ signature)."""

        def hook(
            step_name: str,
            step_artefact: Any,
            file: Any = None,
            total: int | None = None,
            completed: int | None = None,
        ) -> None:
            if step_name in STEPS and step_name != self.step and total is not None:
                self.enter(step_name)
            if step_name != self.step:
                return
            if total is None:
                # pyannote hands over the step's final result: the step is over.
                if step_name in _ENDED_BY:
                    self.enter("clustering" if step_name == "embeddings" else "embeddings")
                return
            if completed is not None and total > 0:
                start, end = STEPS[step_name]
                self._set(start + (end - start) * min(completed, total) / total)

        return hook

    def _finish_internal(self) -> None:
        if self.step in ("segmentation", "embeddings", "clustering"):
            seconds = self._clock() - self._step_started
            self.diarization_seconds[self.step] = seconds
            logger.info("job.diarize_step step=%s seconds=%.3f", self.step, seconds)

    def _set(self, percent: float, *, force: bool = False) -> None:
        value = int(percent)
        now = self._clock()
        if not force and (value <= self.percent or now - self._reported_at < self._min_interval):
            self.percent = max(self.percent, value)
            return
        self.percent = max(self.percent, value)
        self._reported_at = now
        if self._report is not None:
            self._report(self.step, self.percent)
