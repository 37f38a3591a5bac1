"""Reading and changing meetings: every query the API and the worker need.

Each function runs in its own transaction. The worker's writes are guarded by
the run that claimed the meeting (``Claim.run_id``): a run that was superseded
(the meeting was reprocessed or deleted meanwhile, or its claim expired) cannot
overwrite newer state.

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
import struct
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from ivrimeet.db.engine import Database
from ivrimeet.db.records import (
    Claim,
    KnownVoiceprint,
    MeetingPage,
    MeetingRecord,
    NewSegment,
    NewSpeaker,
    RunRecord,
    SegmentRecord,
    SpeakerRecord,
)
from ivrimeet.db.tables import (
    Meeting,
    MeetingStatus,
    ProcessingRun,
    Segment,
    Speaker,
    Voiceprint,
    utc_now,
)
from ivrimeet.errors import MeetingNotFoundError

__all__ = [
    "claim_for_processing",
    "create_meeting",
    "delete_meeting",
    "detach_runs",
    "embedding_from_bytes",
    "embedding_to_bytes",
    "get_meeting",
    "known_voiceprints",
    "list_meetings",
    "list_runs",
    "mark_failed",
    "mark_retrying",
    "meeting_exists",
    "record_results",
    "rename_speaker",
    "renew_claim",
    "request_reprocess",
    "requeue_expired",
    "touch_stranded",
]

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000


def embedding_to_bytes(embedding: Sequence[float]) -> bytes:
    """A voiceprint as stored: float32, little-endian."""
    return struct.pack(f"<{len(embedding)}f", *embedding)


def embedding_from_bytes(data: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(data) // 4}f", data)


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _not_found(meeting_id: str) -> MeetingNotFoundError:
    return MeetingNotFoundError(
        f"No meeting {meeting_id}.",
        hints=["list meetings with GET /api/meetings; it may have been deleted"],
    )


def _speaker_record(row: Speaker) -> SpeakerRecord:
    return SpeakerRecord(
        id=row.id,
        label=row.label,
        name=row.name,
        suggested_name=row.suggested_voiceprint.name if row.suggested_voiceprint else None,
        seconds=row.seconds,
        snippet_key=row.snippet_key,
        has_voiceprint=row.embedding is not None,
    )


def _meeting_record(row: Meeting, *, with_children: bool) -> MeetingRecord:
    return MeetingRecord(
        id=row.id,
        title=row.title,
        status=str(row.status),
        error=row.error,
        audio_key=row.audio_key,
        audio_bytes=row.audio_bytes,
        content_type=row.content_type,
        duration_seconds=row.duration_seconds,
        rttm_key=row.rttm_key,
        json_key=row.json_key,
        created_at=_as_utc(row.created_at),
        updated_at=_as_utc(row.updated_at),
        speakers=tuple(_speaker_record(s) for s in row.speakers) if with_children else (),
        segments=(
            tuple(SegmentRecord(s.start, s.end, s.speaker_id) for s in row.segments)
            if with_children
            else ()
        ),
    )


def _load(session: Session, meeting_id: str) -> Meeting:
    row = session.scalar(
        select(Meeting)
        .where(Meeting.id == meeting_id)
        .options(
            selectinload(Meeting.speakers).selectinload(Speaker.suggested_voiceprint),
            selectinload(Meeting.segments),
        )
    )
    if row is None:
        raise _not_found(meeting_id)
    return row


# --- the API's side ---------------------------------------------------------


def create_meeting(
    db: Database,
    *,
    meeting_id: str,
    title: str | None,
    audio_key: str,
    audio_bytes: int,
    content_type: str | None,
) -> MeetingRecord:
    """Store a freshly uploaded meeting with status ``queued``."""
    now = utc_now()
    with db.session() as session:
        row = Meeting(
            id=meeting_id,
            title=title,
            status=MeetingStatus.QUEUED,
            audio_key=audio_key,
            audio_bytes=audio_bytes,
            content_type=content_type,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return _meeting_record(row, with_children=False)


def get_meeting(db: Database, meeting_id: str) -> MeetingRecord:
    """The meeting with its speakers and segments; ``MeetingNotFoundError`` if absent."""
    with db.session() as session:
        return _meeting_record(_load(session, meeting_id), with_children=True)


def list_meetings(db: Database, *, limit: int, offset: int) -> MeetingPage:
    """Meetings newest first, ``limit`` of them from ``offset``."""
    with db.session() as session:
        total = session.scalar(select(func.count()).select_from(Meeting)) or 0
        rows = session.scalars(
            select(Meeting)
            .order_by(Meeting.created_at.desc(), Meeting.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        items = tuple(_meeting_record(r, with_children=False) for r in rows)
    return MeetingPage(items=items, total=total, limit=limit, offset=offset)


def count_speakers(db: Database, meeting_ids: Sequence[str]) -> dict[str, int]:
    """How many speakers each of ``meeting_ids`` has (0 until it is processed)."""
    if not meeting_ids:
        return {}
    with db.session() as session:
        rows = session.execute(
            select(Speaker.meeting_id, func.count())
            .where(Speaker.meeting_id.in_(meeting_ids))
            .group_by(Speaker.meeting_id)
        ).all()
    counts = dict.fromkeys(meeting_ids, 0)
    counts.update({meeting_id: int(count) for meeting_id, count in rows})
    return counts


def request_reprocess(db: Database, meeting_id: str) -> MeetingRecord:
    """Put the meeting back to ``queued``; any run in progress becomes stale."""
    with db.session() as session:
        row = _load(session, meeting_id)
        row.status = MeetingStatus.QUEUED
        row.error = None
        row.current_run_id = None
        session.flush()
        return _meeting_record(row, with_children=True)


def rename_speaker(
    db: Database, meeting_id: str, speaker_id: str, name: str | None
) -> SpeakerRecord:
    """Name (or, with ``None``, un-name) a speaker and enroll its voiceprint under that name."""
    with db.session() as session:
        speaker = session.scalar(
            select(Speaker).where(Speaker.id == speaker_id, Speaker.meeting_id == meeting_id)
        )
        if speaker is None:
            raise MeetingNotFoundError(
                f"Meeting {meeting_id} has no speaker {speaker_id}.",
                hints=[f"GET /api/meetings/{meeting_id} lists its speakers"],
            )
        speaker.name = name
        enrolled = session.scalar(select(Voiceprint).where(Voiceprint.speaker_id == speaker_id))
        if name is None or speaker.embedding is None:
            if enrolled is not None:
                session.delete(enrolled)
        elif enrolled is None:
            session.add(
                Voiceprint(
                    name=name,
                    embedding=speaker.embedding,
                    meeting_id=meeting_id,
                    speaker_id=speaker_id,
                    created_at=utc_now(),
                )
            )
        else:
            enrolled.name = name
            enrolled.embedding = speaker.embedding
        session.flush()
        logger.info(
            "speaker.renamed meeting=%s speaker=%s enrolled=%s",
            meeting_id,
            speaker_id,
            name is not None and speaker.embedding is not None,
        )
        return _speaker_record(speaker)


def detach_runs(db: Database, meeting_id: str) -> None:
    """Make any run in progress stale, so it cannot record results (before a delete)."""
    with db.session() as session:
        found = session.execute(
            update(Meeting)
            .where(Meeting.id == meeting_id)
            .values(current_run_id=None, updated_at=utc_now())
        )
        if found.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
            raise _not_found(meeting_id)


def meeting_exists(db: Database, meeting_id: str) -> bool:
    with db.session() as session:
        return session.scalar(select(Meeting.id).where(Meeting.id == meeting_id)) is not None


def delete_meeting(db: Database, meeting_id: str) -> None:
    """Delete the meeting and every row that belongs to it (cascades)."""
    with db.session() as session:
        found = session.execute(delete(Meeting).where(Meeting.id == meeting_id))
        if found.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult of a DELETE
            raise _not_found(meeting_id)


# --- the worker's side ------------------------------------------------------


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
) -> bool:
    """Replace the meeting's speakers and segments and mark it ``done``.

    Returns ``False`` (and changes nothing but the run's row) when the claim is
    stale: the meeting was reprocessed or deleted while this run was working.
    """
    with db.session() as session:
        fresh = _owned(
            session,
            claim,
            status=MeetingStatus.DONE,
            error=None,
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
        fresh = _owned(session, claim, status=MeetingStatus.FAILED, error=reason)
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


def known_voiceprints(db: Database) -> list[KnownVoiceprint]:
    """Every voice a user has named, oldest first."""
    with db.session() as session:
        rows = session.scalars(select(Voiceprint).order_by(Voiceprint.id)).all()
        return [
            KnownVoiceprint(
                id=row.id,
                name=row.name,
                embedding=embedding_from_bytes(row.embedding),
                meeting_id=row.meeting_id,
            )
            for row in rows
        ]


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
                started_at=_as_utc(r.started_at),
                finished_at=_as_utc(r.finished_at) if r.finished_at else None,
                outcome=r.outcome,
                error=r.error,
                heartbeat_at=_as_utc(r.heartbeat_at) if r.heartbeat_at else None,
            )
            for r in rows
        ]
