"""Reading and changing meetings: every query the API needs, and the voiceprints.

Each function runs in its own transaction. The worker's side (claims, runs,
results) is in ``runs``.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from ivrimeet.db.engine import Database
from ivrimeet.db.records import (
    Claim,
    KnownVoiceprint,
    MeetingPage,
    MeetingRecord,
    SegmentRecord,
    SpeakerRecord,
)
from ivrimeet.db.tables import (
    Meeting,
    MeetingStatus,
    ProcessingRun,
    Speaker,
    Voiceprint,
    as_utc,
    utc_now,
)
from ivrimeet.errors import MeetingNotFoundError, ObjectNotFoundError

__all__ = [
    "create_meeting",
    "delete_meeting",
    "detach_runs",
    "embedding_from_bytes",
    "embedding_to_bytes",
    "get_meeting",
    "known_voiceprints",
    "list_meetings",
    "meeting_exists",
    "rename_speaker",
    "request_reprocess",
    "snippet_key",
]

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 4000


def embedding_to_bytes(embedding: Sequence[float]) -> bytes:
    """A voiceprint as stored: float32, little-endian."""
    return struct.pack(f"<{len(embedding)}f", *embedding)


def embedding_from_bytes(data: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(data) // 4}f", data)


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
        warning=row.warning,
        progress_step=row.progress_step,
        progress_percent=row.progress_percent,
        audio_key=row.audio_key,
        audio_bytes=row.audio_bytes,
        content_type=row.content_type,
        duration_seconds=row.duration_seconds,
        rttm_key=row.rttm_key,
        json_key=row.json_key,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
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


def snippet_key(db: Database, meeting_id: str, speaker_id: str) -> str:
    """The object key of the speaker's snippet.

    ``MeetingNotFoundError`` if the meeting or the speaker is absent,
    ``ObjectNotFoundError`` if processing made no snippet for the speaker.
    """
    record = get_meeting(db, meeting_id)
    speaker = next((s for s in record.speakers if s.id == speaker_id), None)
    if speaker is None:
        raise MeetingNotFoundError(f"Meeting {meeting_id} has no speaker {speaker_id}.")
    if speaker.snippet_key is None:
        raise ObjectNotFoundError(f"Speaker {speaker_id} of meeting {meeting_id} has no snippet.")
    return speaker.snippet_key


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
    """Put the meeting back to ``queued``; the run in progress, if any, ends as ``superseded``."""
    with db.session() as session:
        row = _load(session, meeting_id)
        if row.current_run_id is not None:
            session.execute(
                update(ProcessingRun)
                .where(ProcessingRun.id == row.current_run_id, ProcessingRun.finished_at.is_(None))
                .values(
                    finished_at=utc_now(),
                    outcome="superseded",
                    error="the meeting was reprocessed while this run worked",
                )
            )
            logger.info("run.superseded meeting=%s run=%d", meeting_id, row.current_run_id)
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


def report_progress(db: Database, claim: Claim, step: str, percent: int) -> bool:
    """Store the running job's step and percent; False (nothing written) if the run lost the
    meeting. ``updated_at`` is left alone: progress is not an edit of the meeting."""
    with db.session() as session:
        changed = session.execute(
            update(Meeting)
            .where(Meeting.id == claim.meeting_id, Meeting.current_run_id == claim.run_id)
            .values(
                progress_step=step[:16],
                progress_percent=max(0, min(100, percent)),
                updated_at=Meeting.updated_at,  # not the column's onupdate
            )
            .execution_options(synchronize_session=False)
        )
        return bool(changed.rowcount == 1)  # type: ignore[attr-defined]  # an UPDATE's result


def meeting_exists(db: Database, meeting_id: str) -> bool:
    with db.session() as session:
        return session.scalar(select(Meeting.id).where(Meeting.id == meeting_id)) is not None


def delete_meeting(db: Database, meeting_id: str) -> None:
    """Delete the meeting and every row that belongs to it (cascades)."""
    with db.session() as session:
        found = session.execute(delete(Meeting).where(Meeting.id == meeting_id))
        if found.rowcount == 0:  # type: ignore[attr-defined]  # CursorResult of a DELETE
            raise _not_found(meeting_id)


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
