"""The metadata tables: meetings, their speakers and segments, voiceprints, processing runs.

::

    meetings 1──* speakers 1──* segments
        │  └────────────* segments          (segment.meeting_id, for one-query reads)
        ├──* voiceprints                    (enrolled when a user names a speaker)
        │        └──* speakers               (speaker.suggested_voiceprint_id: the known
        │                                     voice a later speaker sounds like)
        └──* processing_runs                (one row per time a worker claimed the meeting,
                                         with the heartbeat that keeps the claim alive)

Every child row cascades from its meeting: deleting a meeting deletes every row
that belongs to it. A speaker's suggested name is read through its
``suggested_voiceprint``: when that voiceprint goes (its meeting deleted, its
speaker un-named) the suggestion goes with it (``ON DELETE SET NULL``), and a
renamed voiceprint renames every suggestion made from it. Ids are UUID4 hex
strings (32 characters) made by the app.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Meeting",
    "MeetingStatus",
    "ProcessingRun",
    "Segment",
    "Speaker",
    "Voiceprint",
    "as_utc",
    "utc_now",
]

ID_LENGTH = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime: SQLite hands back naive ones; we store only UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class MeetingStatus(enum.StrEnum):
    """Where a meeting is in its life: queued → processing → done | failed."""

    QUEUED = "queued"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class Base(DeclarativeBase):
    pass


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    # What the user should know about the recording although it was processed (cut short).
    warning: Mapped[str | None] = mapped_column(Text)
    # While processing: the job's current step and percent done (processing.progress).
    progress_step: Mapped[str | None] = mapped_column(String(16))
    progress_percent: Mapped[int | None] = mapped_column(Integer)
    audio_key: Mapped[str] = mapped_column(String(1024))
    audio_bytes: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    rttm_key: Mapped[str | None] = mapped_column(String(1024))
    json_key: Mapped[str | None] = mapped_column(String(1024))
    # The run that currently owns the meeting; a result from any other run is stale.
    current_run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utc_now, onupdate=utc_now
    )

    speakers: Mapped[list[Speaker]] = relationship(
        back_populates="meeting",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Speaker.position",
    )
    segments: Mapped[list[Segment]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="Segment.start"
    )

    __table_args__ = (Index("ix_meetings_created_at", "created_at"),)


class Speaker(Base):
    __tablename__ = "speakers"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    suggested_voiceprint_id: Mapped[int | None] = mapped_column(
        # use_alter: speakers and voiceprints reference each other.
        ForeignKey("voiceprints.id", ondelete="SET NULL", use_alter=True),
        index=True,
    )
    seconds: Mapped[float] = mapped_column(Float)
    snippet_key: Mapped[str | None] = mapped_column(String(1024))
    # float32 little-endian; see ivrimeet.db.voiceprints.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)

    meeting: Mapped[Meeting] = relationship(back_populates="speakers")
    suggested_voiceprint: Mapped[Voiceprint | None] = relationship(
        foreign_keys=[suggested_voiceprint_id], passive_deletes=True
    )


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    speaker_id: Mapped[str] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)


class Voiceprint(Base):
    """A named voice: enrolled when a user names a speaker, matched in later meetings."""

    __tablename__ = "voiceprints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    # Survives reprocessing (speaker rows are replaced), so a re-run still suggests the name.
    speaker_id: Mapped[str | None] = mapped_column(
        ForeignKey("speakers.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ProcessingRun(Base):
    """One claim of a meeting by a worker: who, when, and how it ended."""

    __tablename__ = "processing_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    worker: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    # Renewed by the running worker; a run whose heartbeat is older than the
    # claim TTL belongs to a dead worker and is taken over (``requeue_expired``).
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
