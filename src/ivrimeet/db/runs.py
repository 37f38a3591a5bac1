"""The worker's side of a meeting: claims, processing runs, recorded results.

Each function runs in its own transaction. The worker's writes are guarded by
the run that claimed the meeting (``Claim.run_id``): a run that was superseded
(the meeting was reprocessed or deleted meanwhile, or its claim expired) cannot
overwrite newer state.

A reprocess supersedes the run in progress at once (its run ends as
``superseded``): the meeting no longer points at it, ``renew_claim`` and
``run_is_current`` say so, and the run stops at its next fence check instead
of racing the new run.

A claim expires: the running worker renews the run's heartbeat
(``renew_claim``); any worker puts a meeting whose run's heartbeat is older
than a cutoff back to ``queued`` (``requeue_expired``), ending that run as
``expired``. One conditional UPDATE on the run decides, so of several workers
sweeping at once exactly one re-queues each meeting.

A ``queued`` meeting can also lose its job: the enqueue after the status
change failed (queue down), or a retry never reached the queue. Workers look
for meetings ``queued`` since before a cutoff whose job is not in the queue
(``touch_stranded``); one conditional UPDATE moves ``updated_at`` to now, so
exactly one worker enqueues the job again, and, should that enqueue fail too,
the meeting is found again one cutoff later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ivrimeet.db.engine import Database
from ivrimeet.db.meetings import MAX_ERROR_CHARS, embedding_to_bytes
from ivrimeet.db.records import Claim, NewSegment, NewSpeaker, RunRecord
from ivrimeet.db.tables import (
    Meeting,
    MeetingStatus,
    ProcessingRun,
    Segment,
    Speaker,
    Voiceprint,
    as_utc,
    utc_now,
)

__all__ = [
    "claim_for_processing",
    "list_runs",
    "mark_failed",
    "mark_retrying",
    "record_results",
    "renew_claim",
    "requeue_expired",
    "run_is_current",
    "touch_stranded",
]

logger = logging.getLogger(__name__)


def claim_for_processing(
    db: Database, meeting_id: str, *, worker: str, now: datetime | None = None
) -> Claim | None:
    """Move a ``queued`` meeting to ``processing`` for a new run; ``None`` if not queued.

    Two workers handed the same meeting race on one conditional UPDATE: exactly
    one gets a ``Claim``, the other ``None``. The run's heartbeat starts at
    ``now``; keep it fresh with ``renew_claim``.
    """
    now = now or utc_now()
    with db.session() as session:
        claimed = session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id, Meeting.status == MeetingStatus.QUEUED)
            .values(status=MeetingStatus.PROCESSING, error=None, updated_at=utc_now())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            return None
        run = ProcessingRun(meeting_id=meeting_id, worker=worker, started_at=now, heartbeat_at=now)
        session.add(run)
        session.flush()
        row = session.get_one(Meeting, meeting_id)
        row.current_run_id = run.id
        return Claim(meeting_id=meeting_id, run_id=run.id, audio_key=row.audio_key)


def renew_claim(db: Database, claim: Claim, *, now: datetime | None = None) -> bool:
    """Move the run's heartbeat to ``now``; ``False`` once the run has ended or expired."""
    with db.session() as session:
        renewed = session.execute(
            update(ProcessingRun)
            .where(ProcessingRun.id == claim.run_id, ProcessingRun.finished_at.is_(None))
            .values(heartbeat_at=now or utc_now())
        )
        return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult


def run_is_current(db: Database, claim: Claim) -> bool:
    """Whether ``claim``'s run still owns its meeting (not reprocessed, deleted or expired)."""
    with db.session() as session:
        current = session.scalar(
            select(Meeting.current_run_id).where(Meeting.id == claim.meeting_id)
        )
        return current == claim.run_id


def requeue_expired(db: Database, *, cutoff: datetime) -> list[str]:
    """Re-queue ``processing`` meetings whose run's heartbeat is older than ``cutoff``.

    Returns the meetings this call re-queued (the caller enqueues a job for
    each). The expired run ends with outcome ``expired``; it can no longer
    record results. Safe to call from every worker at once: each run is
    expired by exactly one conditional UPDATE.
    """
    last_beat = func.coalesce(ProcessingRun.heartbeat_at, ProcessingRun.started_at)
    with db.session() as session:
        candidates = session.execute(
            select(Meeting.id, ProcessingRun.id, ProcessingRun.worker)
            .join(ProcessingRun, ProcessingRun.id == Meeting.current_run_id)
            .where(
                Meeting.status == MeetingStatus.PROCESSING,
                ProcessingRun.finished_at.is_(None),
                last_beat < cutoff,
            )
        ).all()
    requeued: list[str] = []
    for meeting_id, run_id, worker in candidates:
        with db.session() as session:
            now = utc_now()
            expired = session.execute(
                update(ProcessingRun)
                .where(
                    ProcessingRun.id == run_id,
                    ProcessingRun.finished_at.is_(None),
                    last_beat < cutoff,
                )
                .values(
                    finished_at=now,
                    outcome="expired",
                    error=f"worker {worker} stopped renewing its claim; the meeting was re-queued",
                )
            )
            if expired.rowcount != 1:  # type: ignore[attr-defined]  # another worker won
                continue
            session.execute(
                update(Meeting)
                .where(
                    Meeting.id == meeting_id,
                    Meeting.current_run_id == run_id,
                    Meeting.status == MeetingStatus.PROCESSING,
                )
                .values(status=MeetingStatus.QUEUED, current_run_id=None, updated_at=now)
            )
            requeued.append(meeting_id)
            logger.info("claim.expired meeting=%s run=%d worker=%s", meeting_id, run_id, worker)
    return requeued


def touch_stranded(
    db: Database, *, cutoff: datetime, waiting: Collection[str], now: datetime | None = None
) -> list[str]:
    """Meetings ``queued`` since before ``cutoff`` with no job in ``waiting``, now touched.

    ``waiting`` holds the meetings whose job is in the queue. Each meeting
    returned had ``updated_at`` moved to ``now`` by this call alone (a
    conditional UPDATE), so among workers sweeping at once exactly one gets it
    and enqueues its job; the others see it as fresh.
    """
    now = now or utc_now()
    with db.session() as session:
        candidates = session.scalars(
            select(Meeting.id).where(
                Meeting.status == MeetingStatus.QUEUED, Meeting.updated_at < cutoff
            )
        ).all()
    touched: list[str] = []
    for meeting_id in candidates:
        if meeting_id in waiting:
            continue
        with db.session() as session:
            won = session.execute(
                update(Meeting)
                .where(
                    Meeting.id == meeting_id,
                    Meeting.status == MeetingStatus.QUEUED,
                    Meeting.updated_at < cutoff,
                )
                .values(updated_at=now)
            )
            if won.rowcount == 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
                touched.append(meeting_id)
                logger.info("job.stranded meeting=%s", meeting_id)
    return touched


def _finish_run(session: Session, run_id: int, outcome: str, error: str | None) -> None:
    session.execute(
        update(ProcessingRun)
        .where(ProcessingRun.id == run_id)
        .values(finished_at=utc_now(), outcome=outcome, error=error)
    )


def _owned(session: Session, claim: Claim, **values: object) -> bool:
    changed = session.execute(
        update(Meeting)
        .where(Meeting.id == claim.meeting_id, Meeting.current_run_id == claim.run_id)
        .values(updated_at=utc_now(), **values)
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]  # CursorResult of an UPDATE


def record_results(
    db: Database,
    claim: Claim,
    *,
    duration_seconds: float | None,
    speakers: Sequence[NewSpeaker],
    segments: Sequence[NewSegment],
    rttm_key: str | None,
    json_key: str | None,
    warning: str | None = None,
) -> bool:
    """Replace the meeting's speakers and segments and mark it ``done`` (with ``warning``).

    Returns ``False`` (and changes nothing but the run's row) when the claim is
    stale: the meeting was reprocessed or deleted while this run was working.
    """
    with db.session() as session:
        fresh = _owned(
            session,
            claim,
            status=MeetingStatus.DONE,
            error=None,
            warning=warning,
            duration_seconds=duration_seconds,
            rttm_key=rttm_key,
            json_key=json_key,
        )
        if not fresh:
            _finish_run(session, claim.run_id, "stale", None)
            return False
        # A voiceprint deleted while this run worked can no longer be suggested.
        suggested = {s.suggested_voiceprint_id for s in speakers} - {None}
        still_known = set(
            session.scalars(select(Voiceprint.id).where(Voiceprint.id.in_(suggested))).all()
            if suggested
            else ()
        )
        session.execute(delete(Segment).where(Segment.meeting_id == claim.meeting_id))
        session.execute(delete(Speaker).where(Speaker.meeting_id == claim.meeting_id))
        ids: dict[str, str] = {}
        for position, speaker in enumerate(speakers):
            ids[speaker.label] = uuid.uuid4().hex
            session.add(
                Speaker(
                    id=ids[speaker.label],
                    meeting_id=claim.meeting_id,
                    position=position,
                    label=speaker.label,
                    seconds=speaker.seconds,
                    snippet_key=speaker.snippet_key,
                    suggested_voiceprint_id=(
                        speaker.suggested_voiceprint_id
                        if speaker.suggested_voiceprint_id in still_known
                        else None
                    ),
                    embedding=(
                        embedding_to_bytes(speaker.embedding)
                        if speaker.embedding is not None
                        else None
                    ),
                )
            )
        session.flush()
        session.add_all(
            Segment(
                meeting_id=claim.meeting_id,
                speaker_id=ids[segment.label],
                start=segment.start,
                end=segment.end,
            )
            for segment in segments
            if segment.label in ids
        )
        _finish_run(session, claim.run_id, "done", None)
        return True


def mark_failed(db: Database, claim: Claim, reason: str) -> bool:
    """Status ``failed`` with ``reason``; ``False`` if the claim is stale."""
    reason = reason[:MAX_ERROR_CHARS]
    with db.session() as session:
        fresh = _owned(session, claim, status=MeetingStatus.FAILED, error=reason, warning=None)
        _finish_run(session, claim.run_id, "failed" if fresh else "stale", reason)
        return fresh


def mark_retrying(db: Database, claim: Claim, reason: str) -> bool:
    """Back to ``queued`` (a retry will claim it again), with ``reason`` as the error."""
    reason = reason[:MAX_ERROR_CHARS]
    with db.session() as session:
        fresh = _owned(
            session,
            claim,
            status=MeetingStatus.QUEUED,
            error=f"will retry: {reason}",
            current_run_id=None,
        )
        _finish_run(session, claim.run_id, "retry" if fresh else "stale", reason)
        return fresh


def list_runs(db: Database, meeting_id: str | None = None) -> list[RunRecord]:
    """Processing runs (all, or one meeting's), in the order they started."""
    with db.session() as session:
        query = select(ProcessingRun).order_by(ProcessingRun.id)
        if meeting_id is not None:
            query = query.where(ProcessingRun.meeting_id == meeting_id)
        rows = session.scalars(query).all()
        return [
            RunRecord(
                id=r.id,
                meeting_id=r.meeting_id,
                worker=r.worker,
                started_at=as_utc(r.started_at),
                finished_at=as_utc(r.finished_at) if r.finished_at else None,
                outcome=r.outcome,
                error=r.error,
                heartbeat_at=as_utc(r.heartbeat_at) if r.heartbeat_at else None,
            )
            for r in rows
        ]
