"""Jobs that get lost: a heartbeat while a job runs, and a sweeper that queues lost ones again.

::

    run_job ── claim (run row, heartbeat = now)
       └─ ClaimHeartbeat: every ttl/3 ─ db.renew_claim ──────── False → claim lost, stop
    every worker ── LostJobSweeper: at start, then every ttl/2
       ├─ db.requeue_expired(cutoff = now - ttl)                  → queue.enqueue_processing
       └─ db.touch_stranded(cutoff, waiting = queue.waiting_meetings()) → queue.enqueue_processing

A worker killed mid-job (``kill -9``, OOM, a lost machine) leaves its meeting
in ``processing``, and Huey never delivers that task again. Its heartbeat stops,
so after ``ttl`` the first sweeper to look ends the run as ``expired`` and
re-queues the meeting; the run machinery of ``db`` keeps the dead run (should
it wake up) from recording anything.

A meeting can also sit in ``queued`` with no job: the enqueue after an upload,
a reprocess or a re-queue failed (the queue was down), or a retry never reached
the queue. A meeting ``queued`` for a whole ``ttl`` whose job is neither waiting
nor scheduled in the queue gets its job again, from exactly one sweeper; if that
enqueue fails too, the next pass after another ``ttl`` tries again. A job that
is enqueued twice anyway is harmless: the second delivery finds nothing to claim.

The clock is passed in for tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType

from ivrimeet import db
from ivrimeet.errors import IvrimeetError
from ivrimeet.worker.queue import JobQueue

__all__ = [
    "DEFAULT_CLAIM_TTL_SECONDS",
    "ClaimHeartbeat",
    "Clock",
    "LostJobSweeper",
    "utc_clock",
]

logger = logging.getLogger(__name__)

DEFAULT_CLAIM_TTL_SECONDS = 120.0
"""How long a claim outlives its last heartbeat (``WORKER_CLAIM_TTL_SECONDS``)."""

Clock = Callable[[], datetime]


def utc_clock() -> datetime:
    return datetime.now(UTC)


class ClaimHeartbeat:
    """Renews ``claim`` every ``ttl / 3`` seconds in a thread while the ``with`` block runs."""

    def __init__(
        self, database: db.Database, claim: db.Claim, *, ttl: float, clock: Clock = utc_clock
    ) -> None:
        self._database = database
        self._claim = claim
        self._interval = ttl / 3
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat-{claim.meeting_id[:8]}", daemon=True
        )

    def __enter__(self) -> ClaimHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                alive = db.renew_claim(self._database, self._claim, now=self._clock())
            except IvrimeetError as exc:  # the database is down: try again next beat
                logger.warning(
                    "claim.renew_failed meeting=%s run=%d error=%s",
                    self._claim.meeting_id,
                    self._claim.run_id,
                    exc.code,
                )
                continue
            if not alive:
                # Expired and re-queued elsewhere: the job's fence stops it at its next write.
                logger.warning(
                    "claim.lost meeting=%s run=%d", self._claim.meeting_id, self._claim.run_id
                )
                return


class LostJobSweeper:
    """Queues lost jobs again (expired claims, stranded ``queued`` meetings): at ``start``,
    then every ``ttl / 2``."""

    def __init__(
        self,
        database: db.Database,
        queue: JobQueue,
        *,
        ttl: float,
        clock: Clock = utc_clock,
    ) -> None:
        self._database = database
        self._queue = queue
        self._ttl = ttl
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lost-job-sweeper", daemon=True)

    def sweep(self) -> list[str]:
        """One pass: enqueue a job for every meeting whose job was lost; returns their ids."""
        cutoff = self._clock() - timedelta(seconds=self._ttl)
        requeued = db.requeue_expired(self._database, cutoff=cutoff)
        for meeting_id in requeued:
            self._queue.enqueue_processing(meeting_id)
            logger.info("claim.requeued meeting=%s ttl=%.1f", meeting_id, self._ttl)
        waiting = self._queue.waiting_meetings()
        stranded = db.touch_stranded(
            self._database, cutoff=cutoff, waiting=waiting, now=self._clock()
        )
        for meeting_id in stranded:
            self._queue.enqueue_processing(meeting_id)
            logger.info("job.requeued meeting=%s reason=stranded ttl=%.1f", meeting_id, self._ttl)
        return requeued + stranded

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except IvrimeetError as exc:  # database or queue down: the next pass tries again
                logger.warning("jobs.sweep_failed error=%s summary=%s", exc.code, exc.summary)
            except Exception as exc:  # the sweeper thread must outlive any one pass
                logger.error("jobs.sweep_failed error=%s", type(exc).__name__, exc_info=exc)
            if self._stop.wait(self._ttl / 2):
                return
